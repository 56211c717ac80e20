"""Siblings: the same change made to one of several consecutive lines of the same shape → the
analogous change on the next one. Same shape: the same indentation and spacing, nodes of one
kind under one parent (one call among its siblings, one dict entry, one case), and the same
tokens but for identifiers and literals. The analogous change is the edited line's new text
with each token it kept from the old line, or copied from a part that differs between the
siblings, taken from the sibling instead (`foo(a)` -> `foo(a, a.name)` makes `foo(b)` ->
`foo(b, b.name)`)."""

from __future__ import annotations

import keyword
import re

import tree_sitter

from .change import Change, token_diff, tokens
from ..structs import utf8
from .proposal import Proposal, narrowed

RULE = "siblings"
MIN_TOKENS = 3
NOT_SIBLINGS = {"import_statement", "import_from_statement", "comment", "decorator", "future_import_statement"}
# where lines are siblings: statements of one block, entries of one collection, cases of one
# switch (not the parameters of a signature: each is its own)
PARENTS = {"block", "module", "statement_block", "program", "class_body", "dictionary", "object", "list", "array",
           "switch_body", "argument_list", "arguments", "expression_list", "set", "tuple"}
LITERAL = re.compile(r"""\d|["'`]""")
WORD = re.compile(r"[A-Za-z_$][\w$]*\Z")


def _kind(token: str) -> str:
    """What may differ between siblings: a word (identifier or keyword: keywords must match
    too, see _same_shape), a literal; anything else is itself."""
    if WORD.match(token):
        return "word"
    return "literal" if LITERAL.match(token) else token


def _same_shape(a: list[re.Match], a_text: str, b: list[re.Match], b_text: str) -> bool:
    if len(a) != len(b) or len(a) < MIN_TOKENS or a_text == b_text:
        return False
    for i, (x, y) in enumerate(zip(a, b)):
        if _kind(x.group()) != _kind(y.group()) or (i and a_text[a[i - 1].end() : x.start()] != b_text[b[i - 1].end() : y.start()]):
            return False
        if x.group() != y.group() and (keyword.iskeyword(x.group()) or keyword.iskeyword(y.group())):
            return False  # a keyword is part of a line's shape, never a varying part
    return a_text[: a[0].start()] == b_text[: b[0].start()]


def analogous(old: str, new: str, sibling: str) -> str | None:
    """The sibling with the change that made `new` of `old`; None when there is none for sure."""
    diff = token_diff(old, new)
    a, b, s = diff.a, diff.b, tokens(sibling)
    if not _same_shape(a, old, s, sibling):
        return None
    pairs = {(x.group(), y.group()) for x, y in zip(a, s) if x.group() != y.group()}
    varying = dict(pairs)
    if len(varying) != len(pairs) or len(set(varying.values())) != len(pairs):
        return None  # one token of the line stands for two of the sibling's, or two for one
    out, at = [], 0
    for tag, i1, i2, j1, j2 in diff.ops:
        for k, j in enumerate(range(j1, j2)):
            token = b[j].group()
            if tag == "equal":
                text = s[i1 + k].group()
            elif tag == "replace" and i2 - i1 == j2 - j1 and a[i1 + k].group() in varying:
                was = a[i1 + k].group()
                if was not in token:  # a varying part replaced by something not made of it
                    return None
                text = token.replace(was, varying[was], 1)
            else:
                text = varying.get(token, token)
            out.append(new[at : b[j].start()] + text)
            at = b[j].end()
    result = "".join(out) + new[at:]
    return result if result not in (sibling, new) else None


def _line_node(tree: tree_sitter.Tree, rows: list[str], row: int) -> tree_sitter.Node | None:
    """The largest node that starts at the row's first character and ends on that row."""
    line = utf8(rows[row])
    column = len(line) - len(line.lstrip())
    node = tree.root_node.descendant_for_point_range((row, column), (row, column))
    while node is not None and node.parent is not None and node.parent.start_point == node.start_point \
            and node.parent.end_point[0] == row:
        node = node.parent
    return node if node is not None and node.start_point == (row, column) else None


def _siblings(tree: tree_sitter.Tree, rows: list[str], row: int, other: int) -> bool:
    a, b = _line_node(tree, rows, row), _line_node(tree, rows, other)
    return (a is not None and b is not None and a.type == b.type and a.type not in NOT_SIBLINGS
            and a.parent is not None and b.parent is not None and a.parent.id == b.parent.id and a.parent.type in PARENTS)


def propose(change: Change) -> list[Proposal]:
    tree = change.snap.tree
    n = len(change.before_rows)
    if tree is None or n != len(change.after_rows):
        return []
    edited = [i for i in range(n) if change.before_rows[i] != change.after_rows[i]]
    if not edited:
        return []
    rows = change.now.split("\n")
    # the next line below the edited ones, else the one above them
    for i, other in ((edited[-1], change.row + n), (edited[0], change.row - 1)):
        if not 0 <= other < len(rows) or not _siblings(tree, rows, change.row + i, other):
            continue
        text = analogous(change.before_rows[i], change.after_rows[i], rows[other])
        if text is not None:
            start = sum(len(line) + 1 for line in rows[:other])
            return [narrowed(Proposal(change.snap.uri, change.snap.version, start, start + len(rows[other]), text,
                                      RULE, f"line {change.row + i + 1}"), change.now)]
    return []
