"""The context builder: what the model sees, under a budget counted in model tokens.

Parts, stable-first so the engine's KV cache can reuse them across keystrokes:
  1. definitions of the identifiers used around the cursor (this file, open buffers, the
     workspace index), grouped by file;
  2. the file's imports (when the local window does not already show them);
  3. the local window, cut at syntax boundaries: the whole enclosing function / class while
     it fits, then outward;  then the cursor, then the suffix.
The line being typed counts for nothing in these choices, so typing along a line keeps
every part above the cursor, and the cached tokens, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from ..structs import Chunk, Cursor, Prompt, Snapshot, headed, utf8
from .languages import line_comment, new_parser
from .memo import ChoiceMemo, Choices
from .recent import Recent
from .scope import CountTokens, LineCosts, enclosing_scopes, identifiers, import_nodes, local_window
from .symbols import Definition

OwnDefinitions = Callable[[Snapshot], Iterable[Definition]]  # a file's own definitions, from its stable view
STABLE_LINES = 16  # without a tree, the window starts on a multiple of this (cache-friendly)
NEAR_LINES = 3  # identifiers this close to the cursor come first
PER_NAME = 2  # definitions shown for one name (overloads, same name in two modules)
MAX_NAMES = 300
CURSOR_LINE_ROOM = 32  # kept for the line being typed, which the choices leave out
NEW_LINES_SHARE = 16  # 1/16 of the budget kept for lines written below the choices' row (ChoiceMemo)

OPENERS = (":", "{", "(", "[", "=>", " do", " then")


def block_indent(line_before: str, previous_line: str = "") -> int:
    """Indentation that lines of a multi-line completion must keep to stay in the block."""
    if not line_before.strip():
        if line_before or not previous_line.strip():
            return len(line_before)  # blank line: the block is where the cursor is
        line_before = previous_line  # column 0 of a blank line: the block of the line above
    indent = len(line_before) - len(line_before.lstrip(" \t"))
    return indent + 1 if line_before.rstrip().endswith(OPENERS) else indent  # a block opener's body is deeper


def is_multiline(line_before: str, line_after: str) -> bool:
    """Multi-line on a blank line or after a line that opens a block; single-line mid-line
    and mid-expression (typing at the end of a statement completes that line)."""
    if line_after.strip():
        return False
    head = line_before.rstrip()
    return not head or head.endswith(OPENERS)


class Symbols(Protocol):
    """Where definitions come from (this file, open buffers, the workspace index).
    `generation`: equal generations give equal answers (None: unknown, so choices made from
    them are not memoized); `edits`: the user's edits elsewhere so far (None: definitions
    that change are adopted at once; see ChoiceMemo)."""

    generation: object
    edits: object

    def lookup(self, name: str, near: str) -> list[Definition]: ...

    def label(self, path: str) -> str: ...

    def repo(self, path: str) -> str: ...


@dataclass(frozen=True)
class Budget:
    total: int  # tokens for everything the model sees
    suffix: int = 256  # most tokens for the suffix
    suffix_counts: bool = True  # False for prefix-only models: the suffix is kept for post-processing only
    recent: int = 0  # most tokens for the recent edits (context/recent.py)

    @property
    def new_lines(self) -> int:
        """Tokens kept for lines written below the row the choices were made for."""
        return self.total // NEW_LINES_SHARE

    def shares(self) -> tuple[int, int, int]:
        """(window prefix, imports, definitions) of the total."""
        suffix = self.suffix if self.suffix_counts else 0
        room = max(0, self.total - suffix - CURSOR_LINE_ROOM - self.new_lines - self.recent)
        return room // 4, room // 10, room - room // 4 - room // 10


def _typed_line(cursor: Cursor) -> tuple[int, int, str]:
    """(start, end, indentation) of the cursor's row, the line being typed."""
    line = cursor.before + cursor.after
    return cursor.offset - len(cursor.before), cursor.offset + len(cursor.after), line[: len(line) - len(line.lstrip(" \t"))]


def stable_text(text: str, cursor: Cursor) -> str:
    start, end, indent = _typed_line(cursor)
    return text if end - start == len(indent) else text[:start] + indent + text[end:]


def stable_view(snap: Snapshot, cursor: Cursor) -> Snapshot:
    """The document with the line being typed emptied (its indentation kept). Every choice
    is made on this view: a half-typed line breaks the parse (an open bracket can turn the
    rest of the function into an ERROR node), and the choices must not change while typing."""
    text = snap.text
    start, end, indent = _typed_line(cursor)
    if end - start == len(indent):
        return snap
    stable = text[:start] + indent + text[end:]
    tree, source = snap.tree, None
    parser = new_parser(snap.language) if tree is not None else None
    if tree is not None and parser is not None:
        tree = tree.copy()
        start_byte = cursor.byte - len(utf8(cursor.before)) + len(indent)  # the indentation is ASCII
        old_end = cursor.byte + len(utf8(cursor.after))
        row = cursor.row  # tree-sitter's row: a lone \r ends an LSP line, not a row
        tree.edit(
            start_byte=start_byte, old_end_byte=old_end, new_end_byte=start_byte,
            start_point=(row, len(indent)), old_end_point=(row, old_end - start_byte + len(indent)),
            new_end_point=(row, len(indent)),
        )
        source = snap.source[:start_byte] + snap.source[old_end:]  # utf8(stable)
        tree = parser.parse(source, tree)
    return Snapshot(snap.uri, snap.version, stable, snap.language_id, snap.language, tree, source)


def _stable_first(first: int, cursor_line: int) -> int:
    return min(cursor_line, -(-first // STABLE_LINES) * STABLE_LINES) if first > 0 else 0


def build_prompt(
    snap: Snapshot,
    cursor: Cursor,
    count_tokens: CountTokens,
    budget: Budget,
    symbols: Symbols | None = None,
    definitions: OwnDefinitions | None = None,
    memo: ChoiceMemo | None = None,
    recent: Recent | None = None,
) -> Prompt:
    """`definitions` gives this file's own definitions from the stable view (stable_view),
    shown when outside the window; called only when `memo` does not hold this view's
    choices already. `recent`: the edit history, shown under `budget.recent`."""
    text, row = snap.text, cursor.row
    lines = text.split("\n")
    line_before, line_after = cursor.before, cursor.after
    byte = cursor.byte - len(utf8(line_before.lstrip(" \t")))  # where the line's indentation ends
    label = symbols.label if symbols is not None else (lambda p: p.rsplit("/", 1)[-1])
    comment = line_comment(snap.language)
    generation = symbols.generation if symbols is not None else ()
    edits = symbols.edits if symbols is not None else None
    key = None
    if memo is not None and generation is not None:
        key = (stable_text(text, cursor), snap.language_id, byte, row, budget)
    choices = memo.get(snap.uri, key, generation, edits, count_tokens) if key is not None else None
    if choices is None:
        view = stable_view(snap, cursor)  # choices are made without the line being typed
        own = list(definitions(view)) if definitions is not None else []
        choices = _choose(_Basis(view, byte, row, lines, count_tokens, symbols, own, label, comment), budget)
        if key is not None:
            memo.put(snap.uri, key, generation, edits, choices)

    first, last = choices.first, choices.last
    edits = recent.block(snap.uri, lines, row, (first, last), count_tokens, budget.recent, label) \
        if recent is not None and budget.recent else ""
    prefix = "\n".join(lines[first:row] + [line_before])
    suffix = "\n".join([line_after] + lines[row + 1 : last])
    return Prompt(
        prefix=prefix,
        suffix=suffix,
        language=snap.language,
        path=snap.uri,
        multiline=is_multiline(line_before, line_after),
        block_indent=block_indent(line_before, next((ln for ln in reversed(lines[first:row]) if ln.strip()), "")),
        imports=choices.imports,
        extra=choices.chunks,
        recent=edits,
        file_label=label(snap.uri),
        comment=comment,
        repo=symbols.repo(snap.uri) if symbols is not None else "",
    )


@dataclass(frozen=True)
class _Basis:
    """What the choices are made from: the stable view, where the line being typed starts in
    it (`byte`, after its indentation, and `row`), the file's rows, this file's own
    definitions and the other files'. `label` names a file for the model, `comment` starts
    a line comment in the file's language."""

    view: Snapshot
    byte: int
    row: int
    lines: list[str]
    count_tokens: CountTokens
    symbols: Symbols | None
    own: list[Definition]
    label: Callable[[str], str]
    comment: str


def _choose(basis: _Basis, budget: Budget) -> Choices:
    """The window, the imports and the definitions, made on the stable view alone (the
    line being typed is never costed: the window starts and ends around it)."""
    view, row, lines, count_tokens, comment = basis.view, basis.row, basis.lines, basis.count_tokens, basis.comment
    costs = LineCosts(lines, count_tokens)
    window_share, imports_share, defs_share = budget.shares()

    def window(prefix_budget: int, suffix_budget: int) -> tuple[int, int]:
        first, last = local_window(view.tree, basis.byte, row, costs, prefix_budget, suffix_budget)
        return (first if view.tree is not None else _stable_first(first, row)), last

    first, last = window(window_share, budget.suffix)

    # The imports above the window.
    imports: list[str] = []
    used = 0
    for node in import_nodes(view.language, view.tree):
        if node.start_point.row >= first:
            break
        piece = "\n".join(lines[node.start_point.row : min(node.end_point.row + 1, first)])
        cost = count_tokens(piece + "\n")
        if used + cost > imports_share:
            break
        imports.append(piece)
        used += cost
    imports_text = "\n".join(imports) + "\n" if imports else ""
    if imports_text and first > 0:
        imports_text += f"{comment} ...\n"  # the window starts further down
    # what the window and imports left unused (a window stops at a node that does not fit)
    spare = window_share - costs.span(first, row) + imports_share - used
    if budget.suffix_counts:
        spare += budget.suffix - costs.span(row + 1, last)

    # Definitions of the names used around the cursor.
    chosen = _choose_definitions(basis, (first, last), defs_share + spare)
    chunks = _chunks(chosen, basis.label, view.language)
    leftover = defs_share + spare - sum(count_tokens(headed(comment, c.path, c.text)) for c in chunks)
    if leftover > 0:  # room nobody needed: a wider window
        first, last = window(costs.span(first, row) + leftover, costs.span(row + 1, last))
        if imports_text and first == 0:
            imports_text = ""
    return Choices(first, last, imports_text, chunks)


def _wanted_names(basis: _Basis) -> list[str]:
    """Identifiers near the cursor, then in the enclosing scopes (innermost first), then the
    file's own definitions (the most used first), then the imported names. The cursor's own
    line is left out (see the module docstring)."""
    snap, byte, row = basis.view, basis.byte, basis.row
    tree = snap.tree
    if tree is None:
        return []
    source = snap.source
    line_a = source.rfind(b"\n", 0, byte) + 1
    line_b = source.find(b"\n", byte)
    skip = (line_a, line_b if line_b >= 0 else len(source))
    ranked: dict[str, float] = {}

    def add(found: list[tuple[str, int]], base: float) -> None:
        for name, line in found:
            if line == row:
                continue
            score = base + abs(line - row) / 100_000
            if score < ranked.get(name, float("inf")):
                ranked[name] = score

    scopes = enclosing_scopes(snap.language, tree, byte)
    inner = scopes[0] if scopes else tree.root_node
    add([(n, ln) for n, ln in identifiers(snap.language, inner, skip) if abs(ln - row) <= NEAR_LINES], 0)
    for depth, scope in enumerate(scopes):
        add(identifiers(snap.language, scope, skip), 1 + depth)
    # the file's own definitions, the most used first (the helpers this file calls often)
    uses: dict[str, int] = {}
    for name, _ in identifiers(snap.language, tree.root_node):
        uses[name] = uses.get(name, 0) + 1
    for d in basis.own:
        score = 20 + 1 / uses.get(d.name, 1)
        if score < ranked.get(d.name, float("inf")):
            ranked[d.name] = score
    for node in import_nodes(snap.language, tree):
        add(identifiers(snap.language, node), 50)
    if not scopes:  # at module level: the file's own statements around the cursor
        add(identifiers(snap.language, tree.root_node, skip), 60)
    return sorted(ranked, key=lambda name: (ranked[name], name))[:MAX_NAMES]  # ties by name: same input, same prompt


FULL_SHARE = 0.2  # of the definitions budget, for signature + first lines; the rest: signatures only


def _signature_line(d: Definition, language: str | None) -> str:
    """A definition in one line, as the file has it ("def f(x): ..." for Python)."""
    sig = d.signature
    return sig + " ..." if language == "python" and sig.endswith(":") else sig


def _choose_definitions(basis: _Basis, window: tuple[int, int], budget: int) -> list[tuple[Definition, bool]]:
    """(definition, shown whole) in order of relevance: the names used around the cursor
    first, the file's own other definitions after; the first half of the budget shows
    signature + first lines, the rest one signature line each, so many more fit."""
    if budget <= 0:
        return []
    own_by_name: dict[str, list[Definition]] = {}
    for d in basis.own:
        own_by_name.setdefault(d.name, []).append(d)
    visible = {d.name for d in basis.own if window[0] <= d.name_line < window[1]}  # already in the window
    picks = _Picks(basis.view, basis.row, basis.count_tokens, budget)
    for name in _wanted_names(basis):
        if name in visible:
            continue
        # this file's own definition is the likely one; else the nearest files' (at most one
        # for a name defined all over the workspace: which one is meant is a guess)
        candidates = own_by_name.get(name) or _elsewhere(basis.symbols, name, basis.view.uri)
        per_name = PER_NAME if len(candidates) <= PER_NAME + 1 else 1
        shown = 0
        for d in candidates:
            if shown >= per_name or picks.full:
                break
            if picks.take(d):
                shown += 1
    return picks.chosen


def _elsewhere(symbols: Symbols | None, name: str, uri: str) -> list[Definition]:
    """The definitions of `name` in other files, the nearest first."""
    return [d for d in symbols.lookup(name, uri) if d.path != uri] if symbols is not None else []


class _Picks:
    """The definitions chosen so far under a budget: each costs its text, and its file's
    (and class's) header the first time one from there is shown."""

    def __init__(self, snap: Snapshot, row: int, count_tokens: CountTokens, budget: int) -> None:
        self._snap, self._row, self._count, self._budget = snap, row, count_tokens, budget
        self.used = 0
        self.chosen: list[tuple[Definition, bool]] = []
        self._taken: set[tuple[str, int]] = set()
        self._headers: set[tuple[str, str]] = set()  # (file, container) headers already paid for

    @property
    def full(self) -> bool:
        return self.used >= self._budget

    def take(self, d: Definition) -> bool:
        """Choose `d` if it is new, not the definition the cursor is in, and fits: whole
        while the first FULL_SHARE of the budget is being spent, one signature line after."""
        key = (d.path, d.start_line)
        if key in self._taken or (d.path == self._snap.uri and d.start_line <= self._row <= d.end_line):
            return False
        header = (d.path, d.container)
        extra = 0 if header in self._headers else self._header_cost(d)
        whole = self.used < self._budget * FULL_SHARE
        cost = self._count((d.snippet if whole else _signature_line(d, self._snap.language)) + "\n\n") + extra
        if self.used + cost > self._budget:
            return False
        self.used += cost
        self._taken.add(key)
        self._headers.add(header)
        self.chosen.append((d, whole))
        return True

    def _header_cost(self, d: Definition) -> int:
        """A file's label line (and its class's signature) above its first definition shown."""
        return self._count(d.path) + 4 + (self._count(d.container) if d.container else 0)


def _chunks(defs: list[tuple[Definition, bool]], label: Callable[[str], str], language: str | None) -> tuple[Chunk, ...]:
    """One chunk per file, files and definitions in a stable order (path, line), so the
    same set of definitions always gives the same tokens. A member shown alone is put under
    its class's signature line."""
    by_file: dict[str, list[tuple[Definition, bool]]] = {}
    for item in defs:
        by_file.setdefault(item[0].path, []).append(item)
    out = []
    for path in sorted(by_file):
        items = sorted(by_file[path], key=lambda item: item[0].start_line)
        texts = [d.snippet if whole else d.signature for d, whole in items]
        pieces: list[str] = []
        last_container = None
        for (d, whole), text in zip(items, texts):
            if any(other is not text and text in other for other in texts):
                continue  # shown whole inside its class's rendering
            if d.container and d.container != last_container and d.container not in texts:
                pieces.append(d.container)
            last_container = d.container
            if whole:
                pieces.append(d.snippet)
            else:
                indent = d.snippet[: len(d.snippet) - len(d.snippet.lstrip())]
                pieces.append(indent + _signature_line(d, language))
        out.append(Chunk(path=label(path), text="\n".join(pieces)))
    return tuple(out)
