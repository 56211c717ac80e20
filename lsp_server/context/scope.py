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
    n_lines = len(costs.lines)
    first, last = cursor_line, cursor_line + 1
    used_before = used_after = 0
    if tree is not None:
        node: tree_sitter.Node | None = node_at(tree, byte)
        while node is not None:
            a, b = node.start_point.row, min(n_lines, node.end_point.row + 1)
            before = costs.span(a, first) if a < first else 0
            after = costs.span(last, b) if b > last else 0
            if used_before + before <= prefix_budget and used_after + after <= suffix_budget:
                first, last = min(first, a), max(last, b)  # the whole node fits
                used_before += before
                used_after += after
                node = node.parent
                continue
            # Too big: take its children around the window, nearest first; above the cursor a
            # child that does not fit whole is opened up (its own children: the end of the
            # function above, statement by statement).
            children = [c for c in node.children if c.end_point.row >= c.start_point.row]
            above = [c for c in reversed(children) if c.end_point.row < first]
            below = [c for c in children if c.start_point.row >= last]
            up = down = True
            while up or down:
                for _ in range(PREFIX_SHARE):
                    if not (up and above):
                        up = False
                        break
                    c = above.pop(0)
                    cost = costs.span(c.start_point.row, first)
                    if used_before + cost <= prefix_budget:
                        used_before += cost
                        first = c.start_point.row
                    elif c.start_point.row < c.end_point.row and c.children:
                        above[:0] = [k for k in reversed(c.children) if k.end_point.row < first]
                    else:
                        up = False
                if down and below:
                    c = below.pop(0)
                    end = min(n_lines, c.end_point.row + 1)
                    cost = costs.span(last, end) if end > last else 0
                    if used_after + cost <= suffix_budget:
                        used_after += cost
                        last = max(last, end)
                    else:  # below, only whole nodes: a header without its body says little
                        down = False
                else:
                    down = False
            break
        return first, last
    # No tree (plain text): whole lines, nearest first.
    while first > 0 and used_before + costs.line(first - 1) <= prefix_budget:
        first -= 1
        used_before += costs.line(first)
    while last < n_lines and used_after + costs.line(last) <= suffix_budget:
        used_after += costs.line(last)
        last += 1
    return first, last


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
