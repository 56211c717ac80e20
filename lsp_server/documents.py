"""Open buffers: text, version and an incrementally maintained tree-sitter tree per URI.

Positions arrive in the negotiated LSP encoding (utf-8 / utf-16 / utf-32 code units);
inside sokuji text is a Python str indexed by code point, and tree-sitter wants utf-8 bytes.
All three meet here and nowhere else.
"""

from __future__ import annotations

import bisect

import tree_sitter

from .context.languages import language_for, new_parser
from .positions import UTF8, UTF16, UTF32, col_to_index, index_to_col, line_starts, locate
from .structs import Cursor, Snapshot, from_utf8, utf8

__all__ = ["UTF8", "UTF16", "UTF32", "col_to_index", "index_to_col", "Document", "Documents", "LARGE_FILE_BYTES"]

# Above this size a buffer is kept as text only: no syntax tree, so no diagnostics and a
# plain-text context window. Parsing 10 MB takes ~1 s, and every request would pay for
# walking its tree; files this large are generated or data, rarely typed into.
LARGE_FILE_BYTES = 2_000_000


def _cursor(text: str, source: bytes, starts: list[int], line: int, character: int, encoding: str) -> Cursor:
    line, begin, index = locate(text, starts, line, character, encoding)
    offset = begin + index
    row_start = text.rfind("\n", 0, offset) + 1
    row_end = text.find("\n", offset)
    byte = offset if len(source) == len(text) else len(utf8(text[:offset]))  # same lengths: all ASCII
    return Cursor(
        offset=offset, line=line, index=index, row=text.count("\n", 0, offset), byte=byte,
        column=index_to_col(text[begin:offset], index, encoding),
        before=text[row_start:offset], after=text[offset : row_end if row_end >= 0 else len(text)],
    )


def _point(source: bytes, byte: int) -> tuple[int, int]:
    return source.count(b"\n", 0, byte), byte - (source.rfind(b"\n", 0, byte) + 1)


class Document:
    def __init__(self, uri: str, language_id: str, version: int, text: str, encoding: str = UTF16):
        self.uri = uri
        self.language_id = language_id
        self.language = language_for(language_id, uri)
        self.version = version
        self.encoding = encoding
        self._parser = new_parser(self.language)
        self._set_text(text)
        self.tree = self._parse()

    @property
    def large(self) -> bool:
        return len(self._source) > LARGE_FILE_BYTES

    def _parse(self, old: tree_sitter.Tree | None = None) -> tree_sitter.Tree | None:
        if self._parser is None or self.large:
            return None
        return self._parser.parse(self._source, old) if old is not None else self._parser.parse(self._source)

    def _set_text(self, text: str) -> None:
        self.text = text
        self._source = utf8(text)
        self._starts = line_starts(text)

    def cursor(self, line: int, character: int) -> Cursor:
        """The request's position (`character` in the negotiated encoding) in every unit."""
        return _cursor(self.text, self._source, self._starts, line, character, self.encoding)

    def offset_of_byte(self, byte: int) -> int:
        """Code-point offset of a utf-8 byte offset (tree-sitter's) in the text."""
        return len(from_utf8(self._source[: max(0, byte)]))

    @property
    def source(self) -> bytes:
        return self._source

    def position_of_byte(self, byte: int) -> tuple[int, int]:
        """(line, character in the negotiated encoding) of a utf-8 byte offset (tree-sitter's)."""
        return self.position(self.offset_of_byte(byte))

    def position(self, offset: int) -> tuple[int, int]:
        """(line, character in the negotiated encoding) of a code-point offset."""
        line = bisect.bisect_right(self._starts, offset) - 1
        return line, index_to_col(self.text[self._starts[line] : offset], offset - self._starts[line], self.encoding)

    def apply_change(self, text: str, start: tuple[int, int] | None = None, end: tuple[int, int] | None = None) -> int:
        """Apply one contentChange: a range edit, or the whole text when no range is given.
        Returns the code-point offset where the new text ends (the cursor after typing it)."""
        if start is None or end is None:
            self._set_text(text)
            self.tree = self._parse()
            return len(text)
        a, b = sorted((self.cursor(*start), self.cursor(*end)), key=lambda c: c.offset)
        old_source = self._source
        start_byte, old_end_byte = a.byte, b.byte
        self._set_text(self.text[: a.offset] + text + self.text[b.offset :])
        new_end_byte = start_byte + len(utf8(text))
        if self.tree is None or self.large:  # no tree yet, or none wanted any more
            self.tree = self._parse()
        else:
            self.tree.edit(
                start_byte=start_byte,
                old_end_byte=old_end_byte,
                new_end_byte=new_end_byte,
                start_point=_point(old_source, start_byte),
                old_end_point=_point(old_source, old_end_byte),
                new_end_point=_point(self._source, new_end_byte),
            )
            self.tree = self._parse(self.tree)
        return a.offset + len(text)

    def snapshot(self) -> Snapshot:
        tree = self.tree.copy() if self.tree is not None else None
        return Snapshot(self.uri, self.version, self.text, self.language_id, self.language, tree, self._source)


class Documents:
    """All open buffers. Mutated only on the event loop."""

    def __init__(self) -> None:
        self.encoding = UTF16
        self._docs: dict[str, Document] = {}

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        doc = Document(uri, language_id, version, text, self.encoding)
        self._docs[uri] = doc
        return doc

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def all(self) -> list[Document]:
        return list(self._docs.values())

    def __len__(self) -> int:
        return len(self._docs)
