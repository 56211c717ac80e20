"""Signature: a parameter removed from a function → the matching argument removed at its call
sites in the open buffers, positional or keyword. Only calls that surely still pass it are
touched: by keyword, or by position where they pass every positional parameter.
A parameter added has no proposal (the value to pass is the user's to choose)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import tree_sitter

from ..context.languages import ts_language
from ..structs import Snapshot, from_utf8
from .change import Change
from .proposal import Proposal

RULE = "signature"
DEFS = {"function_definition", "function_declaration", "method_definition", "generator_function_declaration"}
VARARGS = {"list_splat_pattern", "rest_pattern"}
KWARGS = {"dictionary_splat_pattern"}
SPLATS = {"list_splat", "dictionary_splat", "spread_element"}
SEPARATORS = {"keyword_separator", "positional_separator", "comment", "(", ")", ","}
CALLS = {
    "python": "(call function: [(identifier) @f (attribute attribute: (identifier) @f)] arguments: (argument_list) @args)",
    "javascript": "(call_expression function: [(identifier) @f (member_expression property: (property_identifier) @f)]"
                  " arguments: (arguments) @args)",
}
CALLS["typescript"] = CALLS["tsx"] = CALLS["javascript"]


@dataclass(frozen=True)
class Signature:
    name: str
    params: tuple[str, ...]  # in order; "*" for *args / ...rest, "**" for **kwargs
    positional: tuple[str, ...]  # those a call may pass by position (not self / cls, not keyword-only)
    method: bool  # its first parameter is self / cls: not passed positionally in `obj.name(...)`


def _param_name(node: tree_sitter.Node) -> str:
    if node.type in VARARGS:
        return "*"
    if node.type in KWARGS:
        return "**"
    name = node.child_by_field_name("name") or node.child_by_field_name("left") or node.child_by_field_name("pattern")
    if name is None and node.type == "typed_parameter":
        name = node.named_children[0] if node.named_children else None
    return (name or node).text.decode("utf-8", "replace")


def _signature(name: str, params: tree_sitter.Node) -> Signature:
    names, positional, keyword_only = [], [], False
    for p in params.named_children:
        keyword_only = keyword_only or p.type in ("keyword_separator", *VARARGS, *KWARGS)
        if p.type not in SEPARATORS:
            names.append(_param_name(p))
            if not keyword_only:
                positional.append(names[-1])
    method = bool(names) and names[0] in ("self", "cls")
    return Signature(name, tuple(names), tuple(positional[method:]), method)


def signatures(root: tree_sitter.Node, rows: tuple[int, int]) -> dict[str, Signature]:
    """The functions whose parameter list is on rows [first, last), by name."""
    found: dict[str, Signature] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.start_point[0] >= rows[1] or node.end_point[0] < rows[0]:
            continue
        params = node.child_by_field_name("parameters") if node.type in DEFS else None
        name = node.child_by_field_name("name")
        if params is not None and name is not None and params.start_point[0] < rows[1] and params.end_point[0] >= rows[0]:
            found[name.text.decode("utf-8", "replace")] = _signature(name.text.decode("utf-8", "replace"), params)
        stack.extend(node.named_children)
    return found


def removed(change: Change) -> tuple[Signature, int] | None:
    """The function that lost exactly one named parameter in the hunk, and its index there."""
    if change.before_tree is None or change.snap.tree is None:
        return None
    rows_after = (change.row, change.row + len(change.after_rows))
    rows_before = (change.row, change.row + len(change.before_rows))
    now = signatures(change.snap.tree.root_node, rows_after)
    then = signatures(change.before_tree.root_node, rows_before)
    for name, old in then.items():
        new = now.get(name)
        if new is None or len(old.params) != len(new.params) + 1:
            continue
        for i, param in enumerate(old.params):
            if old.params[:i] + old.params[i + 1 :] == new.params and param not in ("*", "**", "self", "cls"):
                return old, i
    return None


@functools.cache
def _calls_query(language: str) -> tree_sitter.Query | None:
    grammar = ts_language(language) if language in CALLS else None
    return tree_sitter.Query(grammar, CALLS[language]) if grammar is not None else None


def propose(change: Change, buffers: list[Snapshot]) -> list[Proposal]:
    found = removed(change)
    query = _calls_query(change.language or "")
    if found is None or query is None:
        return []
    old, index = found
    param = old.params[index]
    proposals = []
    for snap in buffers:
        if snap.language != change.language or snap.tree is None:
            continue
        for _, caps in tree_sitter.QueryCursor(query).matches(snap.tree.root_node):
            f, args = caps["f"][0], caps["args"][0]
            if f.text.decode("utf-8", "replace") != old.name:
                continue
            via_attribute = f.parent is not None and f.parent.type in ("attribute", "member_expression")
            span = _argument(args, param, old, via_attribute)
            if span is not None:
                start, end = (len(from_utf8(snap.source[:b])) for b in span)
                proposals.append(Proposal(snap.uri, snap.version, start, end, "", RULE, f"{old.name}({param})"))
    return proposals


def _argument(args: tree_sitter.Node, param: str, old: Signature, via_attribute: bool) -> tuple[int, int] | None:
    """Bytes to delete to take the parameter's argument out of a call's argument list (with
    the comma that joins it to the next argument, or to the one before); None when the call
    does not pass it for sure."""
    items = [a for a in args.named_children if a.type != "comment"]
    if any(a.type in SPLATS for a in items):
        return None
    target = _passed(items, param, old, via_attribute)
    if target is None:
        return None
    at = items.index(target)
    if at + 1 < len(items):
        return target.start_byte, items[at + 1].start_byte
    if at > 0:
        return items[at - 1].end_byte, target.end_byte
    return target.start_byte, target.end_byte


def _passed(items: list[tree_sitter.Node], param: str, old: Signature, via_attribute: bool) -> tree_sitter.Node | None:
    """The argument that passes `param`: by keyword, or by position in a call that passes
    every positional parameter (one that passes fewer may have been changed already);
    *args / **kwargs in the signature leave it unread."""
    for a in items:
        name = a.child_by_field_name("name") if a.type == "keyword_argument" else None
        if name is not None and name.text.decode("utf-8", "replace") == param and "**" not in old.params:
            return a
    positional = [a for a in items if a.type != "keyword_argument"]
    expected = old.positional if via_attribute or not old.method else (old.params[0], *old.positional)
    if param in expected and "*" not in old.params and len(positional) == len(expected):
        return positional[expected.index(param)]
    return None
