"""Repeat: a change made twice (two hunks with the same token edits) is made at the other
places of the file with the same text. The newest hunk's change, with
CONTEXT tokens on each side, is a snippet of one line as it was and as it is now; every other
place in the file with that exact snippet (same tokens, same spacing, at token boundaries)
gets the same change: a type replaced by another, a version string, an argument added to one
call of a kind. Names the rename rule covers (a local rename) are left to it."""

from __future__ import annotations

import re

from ..context.bindings import Bindings
from ..edits.history import Hunk
from ..structs import utf8
from .change import Change, is_name, token_diff, tokens
from .proposal import Proposal, narrowed

RULE = "repeat"
CONTEXT = 2  # tokens kept on each side of the change: what makes another place the same
MAX_CHANGED = 16  # tokens removed plus added: a bigger change is no pattern to repeat
MAX_OPS = 2
MAX_PROPOSALS = 12
WORDY = re.compile(r"[\w$\"'`]")
PARAMETERS = frozenset({"parameters", "lambda_parameters", "formal_parameters"})


def snippets(change: Change) -> tuple[str, str] | None:
    """(before, after): the changed stretch of one line with its context, as it was and is."""
    old_text, new_text = change.old_text, change.new_text
    a, b, ops = change.diff.a, change.diff.b, change.diff.changed
    if not ops or len(ops) > MAX_OPS or sum(i2 - i1 + j2 - j1 for _, i1, i2, j1, j2 in ops) > MAX_CHANGED:
        return None
    changed = [t.group() for _, i1, i2, j1, j2 in ops for t in a[i1:i2] + b[j1:j2]]
    if not any(WORDY.match(t) for t in changed):  # punctuation alone (a comma, a bracket) is everywhere
        return None
    lo, hi = ops[0][1] - CONTEXT, ops[-1][2] + CONTEXT
    if lo < 0 or hi > len(a):
        return None  # too little around it to tell the same place
    b_lo, b_hi = ops[0][3] - CONTEXT, ops[-1][4] + CONTEXT
    before = old_text[a[lo].start() : a[hi - 1].end()]
    after = new_text[b[b_lo].start() : b[b_hi - 1].end()]
    if "\n" in before or "\n" in after:
        return None
    return before, after


def propose(change: Change, earlier: tuple[Hunk, ...]) -> list[Proposal]:
    """Once the same change was made twice (an earlier hunk, in any file, makes it too): a
    series, not one place's edit. Where the series is in this file, only the places ahead of
    it in its direction (below when it went down)."""
    found = snippets(change)
    if found is None:
        return []
    own = change.diff.edits
    same = [h for h in earlier if token_diff("\n".join(h.before), "\n".join(h.after)).edits == own]
    if not same:
        return []
    # a series goes one way: the places of this file it passed over were left as they are
    here = [h.start for h in same if h.uri == change.snap.uri]
    down = None if not here else here[-1] < change.row
    before, after = found
    now, snap = change.now, change.snap
    meaning = _Meaning(change, before, after)
    pattern = re.compile((r"(?<![\w$])" if WORDY.match(before[0]) else "") + re.escape(before)
                         + (r"(?![\w$])" if WORDY.match(before[-1]) else ""))
    proposals = []
    for m in pattern.finditer(now):
        if change.start <= m.start() < change.after_end + 1 or (down is not None and down != (m.start() > change.start)) \
                or not meaning.keeps(m.start(), m.end()):
            continue
        proposals.append(narrowed(Proposal(snap.uri, snap.version, m.start(), m.end(), after, RULE,
                                           f"{before!r} -> {after!r}"), now))
    proposals.sort(key=lambda p: abs(p.start - change.start))
    return proposals[:MAX_PROPOSALS]


class _Meaning:
    """The names a change brings in and takes out, and whether making it at another place
    keeps every name meaning something: a name the change brings in that is bound where it
    was made must be bound there too (`val` -> `obj` where no `obj` is), and a name it takes
    out must not be a definition that is read elsewhere (a parameter the body still uses), and
    a change to a parameter list is made only to one that was the same (`next` dropped from
    `(req, res, next)` is not dropped from `(err, req, res, next)`: another kind of function)."""

    def __init__(self, change: Change, before: str, after: str) -> None:
        old, new = {t.group() for t in tokens(before)}, {t.group() for t in tokens(after)}
        tree = change.snap.tree
        self._names = Bindings(change.language, tree.root_node) if tree is not None else None
        self._definitions = {n.id for n in self._names.definitions} if self._names is not None else set()
        self._now = change.now
        here = len(utf8(change.now[: change.start]))
        self._brought = [n for n in new - old if is_name(n) and self._bound(n, here)]
        self._taken = [n for n in old - new if is_name(n)]
        self._root = tree.root_node if tree is not None else None
        made = change.now.find(after, change.start)  # where the change was made, as the match will be read
        self._kind = self._kind_at(len(utf8(change.now[: max(made, change.start)])))
        a, (_, i1, _, _, _) = change.diff.a, change.diff.changed[0]
        first = a[i1].start() if i1 < len(a) else a[-1].end()  # the first changed token, in the hunk's old rows
        self._into = first - a[i1 - CONTEXT].start()  # and in the snippet `before`
        before_tree = change.before_tree
        was = _parameters_at(before_tree.root_node if before_tree else None, change.before_byte(change.start + first))
        now = _parameters_at(self._root, len(utf8(change.now[: max(made, change.start) + self._into])))
        # a parameter added or removed (not a type or a default changed): the list must be the same
        self._parameters = was.text if was is not None and (now is None or now.named_child_count != was.named_child_count) else None

    def _kind_at(self, byte: int) -> str:
        """Code, a comment or a string: a change made in one is not made in another."""
        node = self._root.descendant_for_byte_range(byte, byte) if self._root is not None else None
        while node is not None:
            if "comment" in node.type or "string" in node.type:
                return "comment" if "comment" in node.type else "string"
            node = node.parent
        return "code"

    def _bound(self, name: str, byte: int) -> bool:
        return self._names is not None and self._names.binding_scope(name, byte) is not None

    def keeps(self, start: int, end: int) -> bool:
        if self._names is None:
            return True
        b0, b1 = len(utf8(self._now[:start])), len(utf8(self._now[:end]))
        if self._kind_at(b0) != self._kind or not all(self._bound(n, b0) for n in self._brought):
            return False
        if self._parameters is not None:
            there = _parameters_at(self._root, len(utf8(self._now[: start + self._into])))
            if there is None or there.text != self._parameters:
                return False
        for name in self._taken:
            at = re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", self._now[start:end])
            scope = self._names.binding_scope(name, b0 + len(utf8(self._now[start : start + at.start()]))) if at else None
            places = self._names.occurrences(name, scope) if scope is not None else []
            defined = [n for n in places if b0 <= n.start_byte < b1 and n.id in self._definitions]
            if defined and any(not b0 <= n.start_byte < b1 for n in places):
                return False
        return True


def _parameters_at(root, byte: int):
    """The parameter list around a byte (a tree-sitter node); None outside one."""
    node = root.descendant_for_byte_range(byte, byte) if root is not None else None
    while node is not None and node.type not in PARAMETERS:
        node = node.parent
    return node
