"""Recent edits in the prompt: the hunks of the edit history (edits/history.py) most
relevant to the cursor, shown as unified diffs under a token budget.

Relevance: identifiers (4+ characters, keywords and self/this left out) shared with the
code around the cursor, then the same file, then recency. Hunks of this file inside the
prompt's window are left out: the window shows them as they are, and the one being typed
changes at every keystroke. So the block changes only when an edit lands outside the
window, and the memo keeps it the same while those hunks are (a line typed, Enter) so the
KV cache keeps every token above the window.
"""

from __future__ import annotations

import difflib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..edits.history import Hunk
from .scope import CountTokens

LATEST = 2  # the newest hunks, shown even when they share no name with the cursor's code
NEAR_ROWS = 12  # the code around the cursor whose names make a hunk relevant (the cursor's row left out)
WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{3,}")
NOT_NAMES = frozenset(
    "self this None True False return import from class async await yield while break continue "
    "lambda raise except finally global nonlocal assert print elif else with pass function const "
    "let var null undefined true false typeof instanceof delete switch case default export "
    "extends super static throw catch void".split()
)


def names(lines: Iterable[str]) -> set[str]:
    """The identifiers a hunk and the code around the cursor can share."""
    return {w for line in lines for w in WORD.findall(line) if w not in NOT_NAMES}


def render(hunk: Hunk, label: Callable[[str], str]) -> str:
    """A hunk as a unified diff, without line numbers (they move as lines are typed above)."""
    path = label(hunk.uri)
    body = difflib.unified_diff(list(hunk.before), list(hunk.after), f"a/{path}", f"b/{path}", n=1, lineterm="")
    return "\n".join("@@" if line.startswith("@@") else line for line in body) + "\n"


def choose(hunks: Iterable[Hunk], uri: str, window: tuple[int, int], near: set[str]) -> list[Hunk]:
    """The candidates, most relevant first. Another file's hunk that shares no name with
    the code around the cursor is left out, unless it is among the LATEST (what was just
    done is the likeliest series, a rename before its uses): unrelated diffs only distract
    a model (on benchmarks/edit_replay.py they made it wrong more often away from related
    edits)."""
    first, last = window
    outside = [h for h in hunks if not (h.uri == uri and h.open and h.start < last and h.end > first)]
    rank = {id(h): n for n, h in enumerate(outside)}  # the history is least recent first
    shared = {id(h): len(names(h.before + h.after) & near) for h in outside}
    latest = {id(h) for h in outside[-LATEST:]}
    wanted = [h for h in outside if shared[id(h)] or h.uri == uri or id(h) in latest]
    return sorted(wanted, key=lambda h: (shared[id(h)], h.uri == uri, rank[id(h)]), reverse=True)


def block(hunks: Iterable[Hunk], uri: str, window: tuple[int, int], near: set[str], count_tokens: CountTokens,
          budget: int, label: Callable[[str], str]) -> str:
    """The diffs of the most relevant hunks that fit in `budget` tokens, least recent first
    (the latest nearest the code)."""
    chosen, used = [], 0
    for hunk in choose(hunks, uri, window, near):
        text = render(hunk, label)
        cost = count_tokens(text)
        if used + cost <= budget:
            chosen.append((hunk.last, text))
            used += cost
    return "".join(text for _, text in sorted(chosen, key=lambda c: c[0]))


class RecentMemo:
    """The block last made for each file, kept while the hunks it was chosen from (those
    outside the window) are the same: moving the window, Enter or a line typed does not
    change it (one thread only)."""

    def __init__(self, files: int = 32) -> None:
        self._files = files
        self._entries: OrderedDict[str, tuple[tuple, str]] = OrderedDict()

    def get(self, uri: str, key: tuple) -> str | None:
        entry = self._entries.get(uri)
        if entry is None or entry[0] != key:
            return None
        self._entries.move_to_end(uri)
        return entry[1]

    def put(self, uri: str, key: tuple, text: str) -> None:
        self._entries[uri] = (key, text)
        self._entries.move_to_end(uri)
        while len(self._entries) > self._files:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


def memo_key(hunks: Iterable[Hunk], uri: str, window: tuple[int, int], budget: int) -> tuple:
    """What the block depends on: the budget, where the window starts (moving elsewhere
    chooses again; Enter keeps it) and the hunks outside the window, by content (not rows,
    which move as lines are typed above them)."""
    first, last = window
    return (budget, first, tuple((h.uri, h.before, h.after) for h in hunks
                                 if not (h.uri == uri and h.open and h.start < last and h.end > first)))


@dataclass(frozen=True)
class Recent:
    """The edit history as a request sees it (taken on the loop), and the engine thread's memo."""

    hunks: tuple[Hunk, ...]
    memo: RecentMemo | None = None

    def block(self, uri: str, lines: list[str], row: int, window: tuple[int, int], count_tokens: CountTokens,
              budget: int, label: Callable[[str], str]) -> str:
        """The block for a prompt whose window is rows [first, last) of `lines`, the cursor on `row`."""
        if not self.hunks:
            return ""
        key = memo_key(self.hunks, uri, window, budget)
        if self.memo is not None and (known := self.memo.get(uri, key)) is not None:
            return known
        near = names(lines[max(window[0], row - NEAR_ROWS) : row] + lines[row + 1 : min(window[1], row + 1 + NEAR_ROWS)])
        text = block(self.hunks, uri, window, near, count_tokens, budget, label)
        if self.memo is not None:
            self.memo.put(uri, key, text)
        return text
