"""The context builder's choices, remembered per file so typing along a line (and Enter
after it) keeps the prompt above the cursor, and its cached tokens, as they were."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..structs import CancelledError
from .scope import CountTokens


@dataclass(frozen=True)
class Choices:
    """What the context builder chose, all from the stable view: the window's lines
    [first, last), the imports shown above it, the definitions' chunks."""

    first: int
    last: int
    imports: str
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class _Memo:
    key: tuple  # the stable view, the language, the cursor's line (byte, row) and the budget
    generation: object  # of the definitions they were chosen from
    edits: object  # the user's edits elsewhere when they were made
    choices: Choices
    added: int = 0  # tokens of the lines written below the row they were made for


class ChoiceMemo:
    """The last choices made for each file (one thread only). Typing along a line leaves the
    stable view, and so every choice, as it was; choosing again costs syntax queries over
    the whole file (8 ms a keystroke, p50, on the kv_cache benchmark's files).

    While a line is typed the choices are pinned: definitions that arrive meanwhile (files
    just opened, read in the background, the workspace index growing) would change the
    prompt's first tokens, and every keystroke would re-evaluate the prompt behind them.
    Enter keeps them too: the window keeps its first line and grows by the lines written
    (up to Budget.new_lines tokens of them), so the prompt above the cursor stays cached; a
    window chosen again for the new row would start elsewhere, and a thousand prompt
    tokens would be evaluated before the first line at a line start. They are chosen again
    at the next natural point: any other edit in this file, lines past that room, a new
    line once other definitions arrived, or an edit elsewhere (`edits`, counted by the
    caller: another buffer, a file on disk)."""

    def __init__(self, files: int = 32) -> None:
        self._files = files
        self._entries: OrderedDict[str, _Memo] = OrderedDict()
        self.hits = 0

    def get(self, uri: str, key: tuple, generation: object, edits: object,
            count_tokens: CountTokens | None = None) -> Choices | None:
        """`edits` None: no pinning, the choices hold for this generation only. With
        `count_tokens`, choices made for a row above whose lines were written since (and
        nothing else changed) are kept, the window stretched over the new lines."""
        entry = self._entries.get(uri)
        if entry is None or (entry.generation != generation and (edits is None or entry.edits != edits)):
            return None
        if entry.key != key:
            # new definitions (a file opened meanwhile) are adopted at a new line: choose again
            stretch = count_tokens is not None and entry.generation == generation
            written = _written_below(entry.key, key) if stretch else None
            if written is None or entry.added + (cost := count_tokens(written)) > key[4].new_lines:
                return None
            old = entry.choices
            rows = key[3] - entry.key[3]
            entry = _Memo(key, entry.generation, entry.edits, Choices(old.first, old.last + rows, old.imports, old.chunks),
                          entry.added + cost)
            self._entries[uri] = entry
        self._entries.move_to_end(uri)
        self.hits += 1
        return entry.choices

    def clear(self) -> None:
        self._entries.clear()

    def scratch(self, uri: str) -> ChoiceMemo:
        """A copy holding `uri`'s entry only, for a guess (a prefetch): what it stretches
        there is not kept here, and where the choices would be made again it raises
        CancelledError. A guess that chose a new window would replace the file's KV state
        with a prompt the user may never have (the real request then evaluates it all)."""
        copy = _Guess(1)
        if uri in self._entries:
            copy._entries[uri] = self._entries[uri]
        return copy

    def put(self, uri: str, key: tuple, generation: object, edits: object, choices: Choices) -> None:
        self._entries[uri] = _Memo(key, generation, edits, choices)
        self._entries.move_to_end(uri)
        while len(self._entries) > self._files:
            self._entries.popitem(last=False)


class _Guess(ChoiceMemo):
    def get(self, uri: str, key: tuple, generation: object, edits: object,
            count_tokens: CountTokens | None = None) -> Choices | None:
        found = super().get(uri, key, generation, edits, count_tokens)
        if found is None:
            raise CancelledError()  # nothing to guess on at the cost of a few tokens
        return found


def _row_start(text: str, row: int) -> int:
    at = 0
    for _ in range(row):
        at = text.find("\n", at) + 1
        if at == 0:
            return -1
    return at


def _written_below(old: tuple, new: tuple) -> str | None:
    """The text of the rows written from the old key's row down to the new key's, when that
    is all that differs between their stable views (Enter after a line, a few lines
    typed); else None."""
    (old_text, language, _, old_row, budget), (new_text, new_language, _, new_row, new_budget) = old, new
    if new_row <= old_row or language != new_language or budget != new_budget:
        return None
    start, end = _row_start(old_text, old_row), _row_start(new_text, new_row)
    if start < 0 or end < 0 or new_text[:start] != old_text[:start]:
        return None
    old_tail, new_tail = old_text.find("\n", start), new_text.find("\n", end)
    if (old_tail < 0) != (new_tail < 0) or (old_tail >= 0 and old_text[old_tail:] != new_text[new_tail:]):
        return None
    return new_text[start:end]
