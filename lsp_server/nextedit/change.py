"""The edit a next-edit rule follows: the newest hunk of the edit history (edits/history.py),
as the whole file before it and now, and the tokens rules compare."""

from __future__ import annotations

import difflib
import keyword
import re
from dataclasses import dataclass
from functools import cached_property

import tree_sitter

from ..context.languages import new_parser
from ..edits.history import Hunk
from ..structs import Snapshot, from_utf8, utf8

# identifiers, numbers, string literals (one token each, quotes included), any other character
TOKEN = re.compile(r"""[A-Za-z_$][\w$]*|\d[\w.]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`|\S""")
IDENT = re.compile(r"[A-Za-z_$][\w$]*\Z")
NOT_NAMES = frozenset(keyword.kwlist) | {"self", "cls", "this", "function", "const", "let", "var", "new", "return",
                                         "typeof", "instanceof", "undefined", "null", "true", "false", "async", "await"}


def tokens(text: str) -> list[re.Match]:
    return list(TOKEN.finditer(text))


def is_name(token: str) -> bool:
    return bool(IDENT.match(token)) and token not in NOT_NAMES


@dataclass(frozen=True)
class TokenDiff:
    """Two texts as tokens, and difflib's opcodes from the first's to the second's."""

    a: list[re.Match]
    b: list[re.Match]
    ops: list[tuple[str, int, int, int, int]]

    @property
    def changed(self) -> list[tuple[str, int, int, int, int]]:
        return [op for op in self.ops if op[0] != "equal"]

    @property
    def edits(self) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
        """The changes as token texts without their context: what two hunks making the same change share."""
        return tuple((tuple(t.group() for t in self.a[i1:i2]), tuple(t.group() for t in self.b[j1:j2]))
                     for _, i1, i2, j1, j2 in self.changed)


def token_diff(old: str, new: str) -> TokenDiff:
    a, b = tokens(old), tokens(new)
    matcher = difflib.SequenceMatcher(None, [t.group() for t in a], [t.group() for t in b], autojunk=False)
    return TokenDiff(a, b, matcher.get_opcodes())


@dataclass(frozen=True)
class Change:
    """A file's newest hunk: rows [row, row + len(before_rows)) of `before` became rows
    [row, row + len(after_rows)) of `now` (the snapshot), the rest of both the same."""

    snap: Snapshot
    before: str
    row: int
    before_rows: tuple[str, ...]
    after_rows: tuple[str, ...]

    @property
    def now(self) -> str:
        return self.snap.text

    @property
    def language(self) -> str | None:
        return self.snap.language

    @property
    def old_text(self) -> str:
        return "\n".join(self.before_rows)

    @property
    def new_text(self) -> str:
        return "\n".join(self.after_rows)

    @cached_property
    def diff(self) -> TokenDiff:
        """The hunk's rows, before and now, as a token diff (each rule reads it)."""
        return token_diff(self.old_text, self.new_text)

    @cached_property
    def start(self) -> int:
        """Code-point offset where the hunk's rows begin (the same in both texts)."""
        return sum(len(line) + 1 for line in self.now.split("\n")[: self.row])

    @property
    def before_end(self) -> int:
        return self.start + len("\n".join(self.before_rows))

    @property
    def after_end(self) -> int:
        return self.start + len("\n".join(self.after_rows))

    def to_now(self, offset: int) -> int | None:
        """Where an offset of `before` is in `now`; None inside the hunk."""
        if offset < self.start:
            return offset
        if offset >= self.before_end:
            return offset + self.after_end - self.before_end
        return None

    def to_now_token(self, offset: int) -> int | None:
        """Like `to_now`, and inside the hunk where a token starts there that the hunk left
        as it was (a row edited, then the next one: one hunk, its unchanged names still
        there); None at a token it changed."""
        if not self.start <= offset < self.before_end:
            return self.to_now(offset)
        d, at = self.diff, offset - self.start
        for tag, i1, i2, j1, j2 in d.ops:
            if tag == "equal" and d.a[i1].start() <= at <= d.a[i2 - 1].start():
                return next((self.start + d.b[j].start() for i, j in zip(range(i1, i2), range(j1, j2))
                             if d.a[i].start() == at), None)
        return None

    @cached_property
    def before_tree(self) -> tree_sitter.Tree | None:
        parser = new_parser(self.language)
        return parser.parse(utf8(self.before)) if parser is not None else None

    @cached_property
    def before_source(self) -> bytes:
        return utf8(self.before)

    def before_offset(self, byte: int) -> int:
        """Code-point offset of a byte of `before` (tree-sitter's)."""
        return len(from_utf8(self.before_source[:byte]))

    def before_byte(self, offset: int) -> int:
        return len(utf8(self.before[:offset]))


def change_of(hunk: Hunk, snap: Snapshot) -> Change | None:
    """The hunk as a Change of the snapshot's file; None when the file's rows no longer hold
    the hunk's text (an edit since, not yet recorded) or it has no syntax tree."""
    if snap.tree is None or hunk.uri != snap.uri or not hunk.open:
        return None
    rows = snap.text.split("\n")
    if tuple(rows[hunk.start : hunk.end]) != hunk.after:
        return None
    before = "\n".join(rows[: hunk.start] + list(hunk.before) + rows[hunk.end :])
    return Change(snap, before, hunk.start, hunk.before, hunk.after)
