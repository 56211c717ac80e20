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
