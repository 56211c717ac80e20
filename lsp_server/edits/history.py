"""The user's recent edits, across files: every didChange coalesced into hunks per region.

A hunk is a run of rows of one file as it was before a series of edits and as it is now.
An edit that touches a hunk's rows, or the row just above or below it, grows that hunk
(typing a line, then the next one, is one hunk); an edit elsewhere starts another. Hunks
of a file follow its rows while it is open (lines inserted above move them down) and keep
their text once it is closed. Edits come in series across files, so the history is one per
workspace. It lives in memory only, on the event loop, bounded by count, bytes and age;
requests take `recent()`, an immutable tuple, to the engine thread.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

MAX_HUNKS = 48
MAX_BYTES = 64 * 1024
MAX_AGE_S = 30 * 60.0
MAX_HUNK_BYTES = 8 * 1024  # a paste of a file, a formatter's rewrite: not an edit to learn from


@dataclass(frozen=True)
class Hunk:
    uri: str
    start: int  # the region's first row in the file now (while the file is open)
    before: tuple[str, ...]  # the region's rows before the series of edits
    after: tuple[str, ...]  # its rows now
    first: float  # when the series began (time.monotonic)
    last: float  # when it last changed
    open: bool = True  # False once its file closed: it no longer follows the file's rows

    @property
    def end(self) -> int:
        return self.start + len(self.after)

    @property
    def size(self) -> int:
        return sum(len(line) + 1 for line in self.before + self.after)


def changed_rows(old: str, new: str) -> tuple[int, int, int] | None:
    """(first, old end, new end): rows [first, old end) of `old` became rows [first, new end)
    of `new`, the rest of both the same; None when they are equal."""
    if old == new:
        return None
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:  # the common prefix, by halves (slices compare in C)
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    head = lo
    lo, hi = 0, min(len(old), len(new)) - head
    while lo < hi:  # the common suffix after it
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid :] == new[len(new) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    first = old.count("\n", 0, head)
    return first, old.count("\n", 0, len(old) - lo) + 1, new.count("\n", 0, len(new) - lo) + 1


class EditHistory:
    def __init__(self, max_hunks: int = MAX_HUNKS, max_bytes: int = MAX_BYTES, max_age: float = MAX_AGE_S) -> None:
        self.max_hunks, self.max_bytes, self.max_age = max_hunks, max_bytes, max_age
        self._hunks: list[Hunk] = []  # the least recently changed first

    def record(self, uri: str, old: str, new: str, now: float, span: tuple[int, int, int] | None = None) -> None:
        """`uri`'s text went from `old` to `new` by one change: `span`, when the editor said
        where, is (start, old end, new end) in code points; else found by comparing them."""
        rows = changed_rows(old, new) if span is None else _rows(old, new, _narrowed(old, new, span))
        if rows is None:
            return
        first, old_end, new_end = rows
        delta = new_end - old_end
        touching = [h for h in self._hunks if h.uri == uri and h.open and first <= h.end and h.start <= old_end]
        hunk = _grown(uri, old.split("\n"), new.split("\n"), rows, touching, now)
        kept = []
        for h in self._hunks:
            if h in touching:
                continue
            if h.uri == uri and h.open and h.start >= old_end:
                h = replace(h, start=h.start + delta)
            kept.append(h)
        if hunk.before != hunk.after and hunk.size <= MAX_HUNK_BYTES:  # an edit undone leaves nothing
            kept.append(hunk)
        self._hunks = kept
        self._bound(now)

    def record_versions(self, uri: str, old: str, new: str, now: float) -> None:
        """Two versions of a file as the edits between them, a hunk per changed region
        (`sokuji context --before`: the file as it was, e.g. at the last commit)."""
        old_rows, new_rows = old.split("\n"), new.split("\n")
        matcher = difflib.SequenceMatcher(None, old_rows, new_rows, autojunk=False)
        for tag, a0, a1, b0, b1 in reversed(matcher.get_opcodes()):  # from the end: the rows above stay put
            if tag != "equal":
                self.record(uri, "\n".join(old_rows[:a1] + new_rows[b1:]), "\n".join(old_rows[:a0] + new_rows[b0:]), now)

    def closed(self, uri: str) -> None:
        """Its hunks keep their text; the file's rows are not followed any more."""
        self._hunks = [replace(h, open=False) if h.uri == uri else h for h in self._hunks]

    def recent(self, now: float) -> tuple[Hunk, ...]:
        self._bound(now)
        return tuple(self._hunks)

    def stats(self) -> dict:
        return {"hunks": len(self._hunks), "bytes": sum(h.size for h in self._hunks), "maxBytes": self.max_bytes,
                "maxHunks": self.max_hunks}

    def _bound(self, now: float) -> None:
        hunks = [h for h in self._hunks if now - h.last <= self.max_age]
        total = sum(h.size for h in hunks)
        while hunks and (len(hunks) > self.max_hunks or total > self.max_bytes):
            total -= hunks.pop(0).size
        self._hunks = hunks


def _rows(old: str, new: str, span: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """changed_rows of a change the editor placed (code points: start, old end, new end)."""
    if span[0] == span[1] == span[2]:
        return None
    return old.count("\n", 0, span[0]), old.count("\n", 0, span[1]) + 1, new.count("\n", 0, span[2]) + 1


def _narrowed(old: str, new: str, span: tuple[int, int, int]) -> tuple[int, int, int]:
    """The span without what the change left as it was at its ends: an editor that replaces
    whole rows (a paste, a formatter) would otherwise make the next row part of the hunk."""
    start, old_end, new_end = span
    while start < old_end and start < new_end and old[start] == new[start]:
        start += 1
    while old_end > start and new_end > start and old[old_end - 1] == new[new_end - 1]:
        old_end, new_end = old_end - 1, new_end - 1
    return start, old_end, new_end


def _grown(uri: str, old_rows: list[str], new_rows: list[str], rows: tuple[int, int, int], touching: list[Hunk],
           now: float) -> Hunk:
    """The hunk an edit of `rows` (changed_rows) makes, with the hunks it touches in it."""
    first, old_end, new_end = rows
    start = min([first] + [h.start for h in touching])
    end = max([old_end] + [h.end for h in touching])
    before: list[str] = []
    row = start
    for h in sorted(touching, key=lambda h: h.start):  # the series' own rows as they were before it
        before += old_rows[row : h.start] + list(h.before)
        row = h.end
    before += old_rows[row:end]
    return Hunk(uri, start, tuple(before), tuple(new_rows[start : end + new_end - old_end]),
                min([now] + [h.first for h in touching]), now)
