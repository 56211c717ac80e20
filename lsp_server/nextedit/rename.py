"""Rename: an identifier renamed at its definition or at one use → the same rename at its
other references in that scope. Scopes, definitions and references come from the grammar's
locals.scm (context/bindings.py), read on the file as it was before the edit, where every
occurrence still has the old name. A new name that already means something there (bound in
that scope or one around it) is not a rename. A member (`self.x`, `this.x`) renamed at one
place is renamed in its class."""

from __future__ import annotations

import tree_sitter

from ..context.bindings import Bindings
from .change import Change, is_name
from .proposal import Proposal

RULE = "rename"
CLASSES = {"class_definition", "class_declaration", "class"}


def renamed(change: Change) -> list[tuple[str, str, int]]:
    """(old, new, offset of its first renamed occurrence in `before`) for each identifier
    replaced by another, when that is the hunk's only difference. Several: one row edited
    twice is one hunk (`width` renamed, then `height`); the one renamed everywhere already
    has nothing left to propose."""
    a, b = change.diff.a, change.diff.b
    firsts: dict[tuple[str, str], int] = {}
    for tag, i1, i2, j1, j2 in change.diff.changed:
        if tag != "replace" or i2 - i1 != j2 - j1:
            return []
        for i, j in zip(range(i1, i2), range(j1, j2)):
            firsts.setdefault((a[i].group(), b[j].group()), a[i].start())
    olds, news = [old for old, _ in firsts], [new for _, new in firsts]
    if len(set(olds)) != len(olds) or len(set(news)) != len(news) or not all(map(is_name, olds + news)):
        return []  # one name made two, two made one, or not names
    return [(old, new, change.start + first) for (old, new), first in firsts.items()]


def propose(change: Change) -> list[Proposal]:
    tree = change.before_tree
    if tree is None:
        return []
    names = Bindings(change.language, tree.root_node)
    proposals = []
    for old, new, offset in renamed(change):
        byte = change.before_byte(offset)
        places = _binding_places(names, old, new, byte)
        if places is None:
            places = _member_places(tree.root_node, old, new, byte)
        for node in places or []:
            start = change.to_now_token(change.before_offset(node.start_byte))
            if start is None or change.now[start : start + len(old)] != old:  # renamed already
                continue
            proposals.append(Proposal(change.snap.uri, change.snap.version, start, start + len(old), new, RULE,
                                      f"{old} -> {new}"))
    return proposals


def _binding_places(names: Bindings, old: str, new: str, byte: int) -> list[tree_sitter.Node] | None:
    """The old name's occurrences in the scope that binds it, when the renamed one is among
    them (and the new name means nothing there yet); a class's method or field renamed at
    its definition brings `self.old` / `this.old` in the class along."""
    scope = names.binding_scope(old, byte)
    if scope is None:
        return None
    places = names.occurrences(old, scope)
    if not any(n.start_byte == byte for n in places):  # the renamed one was not this binding's (an attribute, a string)
        return None
    if names.binding_scope(new, byte) is not None:  # the new name means something there already
        return []
    if scope.type in CLASSES:
        members = _members(scope)
        if any(m.text == new.encode() for m in members):
            return []
        places = sorted(places + [m for m in members if m.text == old.encode()], key=lambda n: n.start_byte)
    return places


def _member_places(root: tree_sitter.Node, old: str, new: str, byte: int) -> list[tree_sitter.Node] | None:
    """`self.old` / `this.old` renamed at one place: the same attribute in the class around it
    (unless the class has `new` already)."""
    node = root.descendant_for_byte_range(byte, byte)
    if node is None or _member_of(node) is None:
        return None
    cls = node.parent
    while cls is not None and cls.type not in CLASSES:
        cls = cls.parent
    members = _members(cls) if cls is not None else []
    if cls is None or any(m.text == new.encode() for m in members):
        return None
    return [m for m in members if m.text == old.encode()]


def _member_of(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The attribute node when `node` names a member of self / this."""
    parent = node.parent
    if parent is None or parent.type not in ("attribute", "member_expression"):
        return None
    field = parent.child_by_field_name("attribute") or parent.child_by_field_name("property")
    obj = parent.child_by_field_name("object")
    if field is None or field.id != node.id or obj is None or obj.text not in (b"self", b"this"):
        return None
    return parent


def _members(cls: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The member names (`self.X`, `this.X`) used in a class, in order."""
    found, stack = [], [cls]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "property_identifier") and _member_of(node) is not None:
            found.append(node)
        stack.extend(node.children)
    return sorted(found, key=lambda n: n.start_byte)
