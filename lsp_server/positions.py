"""LSP positions in plain text: a column in the negotiated encoding (utf-8 / utf-16 / utf-32
code units) and a line split at \n, \r\n or \r, to and from code-point offsets in a str.
A leaf: the documents and the supervisor's replay copy of each buffer use the same rules,
so both hold the same text after the same edits."""

from __future__ import annotations

import itertools
import re

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == UTF8:
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    if encoding == UTF16:
        return 2 if cp > 0xFFFF else 1
    return 1


def col_to_index(line: str, col: int, encoding: str) -> int:
    """Code-point index in `line` of a column given in `encoding` units (clamped to the line).

    A column that falls inside a character (half a surrogate pair, mid utf-8 sequence)
    lands before that character.
    """
    if col <= 0:
        return 0
    if encoding == UTF32 or line.isascii():
        return min(col, len(line))
    used = 0
    for i, ch in enumerate(line):
        used += _units(ch, encoding)
        if used > col:
            return i
    return len(line)


def index_to_col(line: str, index: int, encoding: str) -> int:
    """Column in `encoding` units of a code-point index in `line`."""
    head = line[: max(0, index)]
    if encoding == UTF32 or head.isascii():
        return len(head)
    return sum(_units(ch, encoding) for ch in head)


def line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _LINE_BREAK.finditer(text)]


def locate(text: str, starts: list[int], line: int, character: int, encoding: str) -> tuple[int, int, int]:
    """(LSP line, its start offset, code point index in it) of a position, clamped to the text."""
    if line < 0:
        return 0, 0, 0
    if line >= len(starts):  # past the end of the file: the end of the file
        last = len(starts) - 1
        return last, starts[last], len(text) - starts[last]
    begin = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    return line, begin, col_to_index(text[begin:end].rstrip("\r\n"), character, encoding)


def edit(text: str, new: str, start: tuple[int, int], end: tuple[int, int], encoding: str) -> str:
    """`text` with the range start..end (LSP line, character; either order) replaced by `new`,
    clamped as `locate` clamps."""
    a = _offset(text, *start, encoding)
    b = a if end == start else _offset(text, *end, encoding)
    a, b = min(a, b), max(a, b)
    return text[:a] + new + text[b:]


def _offset(text: str, line: int, character: int, encoding: str) -> int:
    """`locate`'s offset, given the starts of the lines up to the one after `line` only (not
    every line's: a keystroke in a 10 MB buffer); `locate` clamps as it does for a document."""
    breaks = itertools.islice(_LINE_BREAK.finditer(text), max(line + 1, 0))
    _, begin, index = locate(text, [0, *(m.end() for m in breaks)], line, character, encoding)
    return begin + index
