"""Position-encoding conversion: LSP columns in utf-8 / utf-16 / utf-32 units <-> code points."""

import pytest

from lsp_server.documents import UTF8, UTF16, UTF32, Document, col_to_index, index_to_col

LINE = 'x = "😀漢字" + y'  # 😀: 4 utf-8 bytes / 2 utf-16 units; 漢, 字: 3 bytes / 1 unit each


@pytest.mark.parametrize(
    ("encoding", "col", "index"),
    [
        (UTF16, 5, 5),  # before 😀
        (UTF16, 7, 6),  # after 😀 (a surrogate pair)
        (UTF16, 6, 5),  # inside the pair: lands before 😀
        (UTF16, 9, 8),  # after 漢字
        (UTF8, 9, 6),  # after 😀
        (UTF8, 15, 8),  # after 漢字
        (UTF8, 7, 5),  # inside 😀's bytes: before it
        (UTF32, 6, 6),
        (UTF16, 99, len(LINE)),  # past the end: clamped
        (UTF8, -3, 0),
    ],
)
def test_col_to_index(encoding, col, index):
    assert col_to_index(LINE, col, encoding) == index


@pytest.mark.parametrize(("encoding", "index", "col"), [(UTF16, 6, 7), (UTF8, 8, 15), (UTF32, 8, 8), (UTF16, 3, 3)])
def test_index_to_col(encoding, index, col):
    assert index_to_col(LINE, index, encoding) == col


@pytest.mark.parametrize("encoding", [UTF8, UTF16, UTF32])
def test_round_trip_every_character_boundary(encoding):
    for index in range(len(LINE) + 1):
        assert col_to_index(LINE, index_to_col(LINE, index, encoding), encoding) == index


def test_document_cursor_and_position_across_lines():
    doc = Document("file:///t.py", "python", 1, "a = 1\r\nb = '😀'\nc", UTF16)
    cur = doc.cursor(1, 7)  # after 😀 on the second line (CRLF line break before it)
    assert doc.text[cur.offset - 1] == "😀"
    assert doc.position(cur.offset) == (1, 7)
    assert doc.cursor(9, 0).offset == len(doc.text)  # a line past the end: end of file
    assert doc.cursor(0, 50).offset == 5  # past the end of a line: its end, not the next line


def test_cursor_view_in_every_unit():
    """One cursor per request: LSP's line and column, tree-sitter's row and byte, the row's text."""
    doc = Document("file:///t.py", "python", 1, "a = 1\r\nb = '😀x'\rc\nd", UTF16)
    cur = doc.cursor(1, 7)  # after 😀; the line ends with a lone \r, which ends an LSP line only
    assert (cur.line, cur.index, cur.column, cur.row) == (1, 6, 7, 1)
    assert cur.byte == len(doc.text[: cur.offset].encode("utf-8")) == doc.source.index(b"x")
    assert (cur.before, cur.after) == ("b = '😀", "x'\rc")
    after_cr = doc.cursor(2, 1)  # LSP line 2 is row 1's tail
    assert (after_cr.line, after_cr.row, after_cr.index, after_cr.before, after_cr.after) == (2, 1, 1, "b = '😀x'\rc", "")
    assert doc.cursor(1, 6).column == 5  # inside the surrogate pair: before 😀
    assert doc.cursor(1, 99).column == 9  # clamped to the line
    end = doc.cursor(9, 0)
    assert (end.line, end.row, end.byte, end.before, end.after) == (3, 2, len(doc.source), "d", "")
    assert doc.snapshot().source is doc.source  # encoded once


def test_lone_surrogates_are_kept():
    doc = Document("file:///t.py", "python", 1, "x = '\ud83d'\ny", UTF16)
    assert doc.cursor(1, 1).byte == len(doc.source) == 11
    assert doc.cursor(0, 6).byte == 8  # after the lone half: its 3 bytes
    assert doc.snapshot().source == doc.source
