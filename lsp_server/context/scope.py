"""Where the cursor is in the syntax tree: the local window cut at syntax boundaries, the
enclosing scopes, the file's imports and the identifiers used near the cursor."""

from __future__ import annotations

import functools
from collections.abc import Callable

import tree_sitter

from .languages import ts_language
from .queries import captures

CountTokens = Callable[[str], int]
PREFIX_SHARE = 3  # the window grows this many units above the cursor for each one below


class LineCosts:
    """Token cost of each line (with its newline), counted once per request."""

    def __init__(self, lines: list[str], count_tokens: CountTokens) -> None:
        self.lines = lines
        self._count = count_tokens
        self._cost: dict[int, int] = {}

    def line(self, i: int) -> int:
        if i not in self._cost:
            self._cost[i] = self._count(self.lines[i] + "\n")
        return self._cost[i]

    def span(self, first: int, last: int) -> int:
        """Lines first..last-1."""
        return sum(self.line(i) for i in range(first, last))


def node_at(tree: tree_sitter.Tree, byte: int) -> tree_sitter.Node:
    node = tree.root_node.named_descendant_for_byte_range(byte, byte)
    return node if node is not None else tree.root_node


def local_window(
    tree: tree_sitter.Tree | None,
    byte: int,
    cursor_line: int,
    costs: LineCosts,
    prefix_budget: int,
    suffix_budget: int,
) -> tuple[int, int]:
    """Lines [first, last) around the cursor line: the enclosing syntax node whole while it
    fits (function, then class, then outward), else as many of its children, nearest first,
    as fit — never a piece of a statement when the tree can say where one ends."""
    window = _Window(costs, cursor_line, prefix_budget, suffix_budget)
    if tree is None:
        window.take_lines()
        return window.first, window.last
    node: tree_sitter.Node | None = node_at(tree, byte)
    while node is not None and window.take_whole(node):
        node = node.parent
    if node is not None:
        _take_children(window, node)
    return window.first, window.last


class _Window:
    """Lines [first, last) around the cursor line, grown one piece at a time while the lines
    added above it fit the prefix budget and those below the suffix budget."""

    def __init__(self, costs: LineCosts, cursor_line: int, prefix_budget: int, suffix_budget: int) -> None:
        self.costs = costs
        self.first, self.last = cursor_line, cursor_line + 1
        self.prefix_budget, self.suffix_budget = prefix_budget, suffix_budget
        self.used_before = self.used_after = 0

    def take_whole(self, node: tree_sitter.Node) -> bool:
        """Widen to all of `node`'s lines if both sides fit; else take nothing."""
        a, b = node.start_point.row, min(len(self.costs.lines), node.end_point.row + 1)
        before, after = self.costs.span(a, self.first), self.costs.span(self.last, b)
        if self.used_before + before > self.prefix_budget or self.used_after + after > self.suffix_budget:
            return False
        self.first, self.last = min(self.first, a), max(self.last, b)
        self.used_before += before
        self.used_after += after
        return True

    def take_above(self, row: int) -> bool:
        """Start at `row` (above the window) if the lines it adds fit."""
        cost = self.costs.span(row, self.first)
        if self.used_before + cost > self.prefix_budget:
            return False
        self.used_before += cost
        self.first = row
        return True

    def take_below(self, end: int) -> bool:
        """End before `end` (below the window) if the lines it adds fit."""
        cost = self.costs.span(self.last, end)
        if self.used_after + cost > self.suffix_budget:
            return False
        self.used_after += cost
        self.last = max(self.last, end)
        return True

    def take_lines(self) -> None:
        """Without a tree (plain text): whole lines, nearest first."""
        while self.first > 0 and self.take_above(self.first - 1):
            pass
        while self.last < len(self.costs.lines) and self.take_below(self.last + 1):
            pass


def _take_children(window: _Window, node: tree_sitter.Node) -> None:
    """`node` is too big: take its children around the window, nearest first, PREFIX_SHARE
    above for each one below, each side until one does not fit."""
    children = [c for c in node.children if c.end_point.row >= c.start_point.row]
    above = [c for c in reversed(children) if c.end_point.row < window.first]
    below = [c for c in children if c.start_point.row >= window.last]
    up = down = True
    while up or down:
        up = up and _take_above(window, above)
        down = down and _take_below(window, below)


def _take_above(window: _Window, above: list[tree_sitter.Node]) -> bool:
    """Up to PREFIX_SHARE of the nodes above the window, nearest first; one that does not fit
    whole is opened up (its own children: the end of the function above, statement by
    statement). False once none is left or one neither fits nor opens."""
    for _ in range(PREFIX_SHARE):
        if not above:
            return False
        c = above.pop(0)
        if window.take_above(c.start_point.row):
            continue
        if not (c.start_point.row < c.end_point.row and c.children):
            return False
        above[:0] = [k for k in reversed(c.children) if k.end_point.row < window.first]
    return True


def _take_below(window: _Window, below: list[tree_sitter.Node]) -> bool:
    """The next node below the window, whole only (a header without its body says little).
    False once none is left or it does not fit."""
    if not below:
        return False
    c = below.pop(0)
    return window.take_below(min(len(window.costs.lines), c.end_point.row + 1))


def enclosing_scopes(language: str | None, tree: tree_sitter.Tree | None, byte: int) -> list[tree_sitter.Node]:
    """The @local.scope nodes (functions, classes, ...) around `byte`, innermost first."""
    if tree is None:
        return []
    node: tree_sitter.Node | None = node_at(tree, byte)
    chain = []
    while node is not None:
        chain.append(node)
        node = node.parent
    scopes = {
        n.id
        for _, caps in captures(language, "locals", tree.root_node)
        for n in caps.get("local.scope", ())
        if n.start_byte <= byte <= n.end_byte
    }
    return [n for n in chain if n.id in scopes]


def import_nodes(language: str | None, tree: tree_sitter.Tree | None) -> list[tree_sitter.Node]:
    """The file's import statements, in order, outermost only."""
    if tree is None:
        return []
    nodes = sorted(
        {n.id: n for _, caps in captures(language, "imports", tree.root_node) for n in caps.get("import", ())}.values(),
        key=lambda n: n.start_byte,
    )
    out: list[tree_sitter.Node] = []
    for n in nodes:
        if not out or n.start_byte >= out[-1].end_byte:
            out.append(n)
    return out


@functools.cache
def _identifier_query(language: str | None) -> tree_sitter.Query | None:
    """Every identifier-like leaf of the grammar (identifier, type_identifier, field_identifier,
    Ruby's constant, ...): a query runs in C, a Python walk of a big class does not."""
    grammar = ts_language(language) if language else None
    if grammar is None:
        return None
    kinds = {
        grammar.node_kind_for_id(i)
        for i in range(grammar.node_kind_count)
        if grammar.node_kind_is_named(i) and grammar.node_kind_is_visible(i)
    }
    wanted = sorted(k for k in kinds if k.endswith("identifier") or k == "constant")
    if not wanted:
        return None
    return tree_sitter.Query(grammar, "[" + " ".join(f"({k})" for k in wanted) + "] @id")


def identifiers(language: str | None, node: tree_sitter.Node, skip: tuple[int, int] | None = None) -> list[tuple[str, int]]:
    """(name, line) of the identifiers under `node`, in order; `skip` = a byte range left out."""
    query = _identifier_query(language)
    if query is None:
        return []
    found = sorted(tree_sitter.QueryCursor(query).captures(node).get("id", []), key=lambda n: n.start_byte)
    return [
        (n.text.decode("utf-8", "replace"), n.start_point.row)
        for n in found
        if n.text and (skip is None or not (skip[0] <= n.start_byte and n.end_byte <= skip[1]))
    ]
