"""Which identifiers define a name in a scope and which read it, from the grammar's
locals.scm (`@local.scope`, `@local.definition`, `@local.reference`; grammars/README.md).
Pure: tree-sitter nodes in, nodes out. Only Python, JavaScript, TypeScript and tsx capture
definitions and references; for the other languages every list is empty.

Rules:

- A definition belongs to the innermost `@local.scope` around it (the root, for module
  level), except a scope's own name: a function's or class's name belongs to the scope
  around it (it is outside the body), while a JavaScript function or class *expression*'s
  name (`const f = function g() {}`) belongs to that expression (it is visible inside only).
  Parameters are inside their function node, so they belong to the function.
- A reference means the binding of the innermost scope around it that defines the name.
  In Python a class body's names are not seen from the functions inside it (a method is
  reached as `self.m`, not `m`), and a reference outside a function's or class's body (a
  parameter default, an annotation, a base class) is read in the scope around it.
- Queries cannot exclude a parent, so the query's references are filtered here: a
  definition is no reference; neither are Python attribute names (`obj.NAME`),
  keyword-argument names (`f(NAME=1)`, `case P(NAME=0)`), the later parts of a dotted name
  (`case Color.RED`), nor the module and imported names of an import (`import a.b`,
  `from m import x as y`, JavaScript `import {x as y}`), nor JavaScript `export {x as NAME}`
  aliases and re-exported names (`export {x} from "m"`), nor lower-case JSX element names
  (`<div>`; `<Button>` reads `Button`).
- JavaScript destructuring in an assignment (`[a, b] = [b, a]`, `({a} = o)`, `for (x of
  xs)` without a declaration) binds nothing: those names are references. A TypeScript
  parameter of a signature without a body (`declare function f(x: T)`, a function type, an
  interface method) is neither a definition nor a reference.

Simplifications: comprehensions and generator expressions belong to the enclosing scope
(their targets leak into it); JavaScript `let` / `const` are function-scoped here (blocks
are no scopes: a `catch (e)` or `for (const x ...)` name belongs to the function around it)
and `var` hoisting is not modelled; Python `global` / `nonlocal` are not followed (their
names are plain references), nor are type parameters (`def f[T]()`) bound; TypeScript type
names (`type_identifier`) are neither definitions nor references, except a class's own name.

Cost: one query pass (locals.scm plus the filter patterns below) and one sweep; about 15 ms
for 2,000 lines of Python. The module functions reuse the `Bindings` of the last few roots.
"""

from __future__ import annotations

import bisect
import functools
import logging
import threading

import tree_sitter

from .languages import ts_language
from .queries import query, query_source

log = logging.getLogger("sokuji.bindings")

CLASS_SCOPES = {"class_definition"}  # Python: names bound here are not seen by nested functions
SELF_NAMED = {"function_expression", "generator_function", "class"}  # JS: the name binds inside only
PY_BODIED = {"function_definition", "class_definition", "lambda"}

# What locals.scm cannot exclude, found by patterns appended to it (compiled once per language):
#   @skip        an identifier that names, not reads: a member, a keyword, a later part of a dotted name
#   @skip_range  a statement whose identifiers read nothing (imports, re-exports), definitions aside
#   @jsx         a JSX element's name: a read when it starts with an upper-case letter only
#   @assigned    a destructuring pattern assigned to, not declared: its "definitions" are references
#   @signature   a bodiless signature's parameters: neither definitions nor references
_PYTHON = """
(attribute attribute: (identifier) @skip)
(keyword_argument name: (identifier) @skip)
(keyword_pattern . (identifier) @skip)
(dotted_name (identifier) (identifier) @skip)
[(import_statement) (import_from_statement) (future_import_statement)] @skip_range
"""
_JAVASCRIPT = """
(export_specifier alias: (identifier) @skip)
(import_statement) @skip_range
(export_statement source: _) @skip_range
(assignment_expression left: [(object_pattern) (array_pattern)] @assigned)
(for_in_statement !kind left: [(object_pattern) (array_pattern)] @assigned)
"""
_JSX = """
[(jsx_opening_element name: (identifier) @jsx) (jsx_closing_element name: (identifier) @jsx)
 (jsx_self_closing_element name: (identifier) @jsx)]
"""
_TYPESCRIPT = """
(function_signature parameters: (formal_parameters) @signature)
(method_signature parameters: (formal_parameters) @signature)
(abstract_method_signature parameters: (formal_parameters) @signature)
(call_signature parameters: (formal_parameters) @signature)
(construct_signature parameters: (formal_parameters) @signature)
(function_type parameters: (formal_parameters) @signature)
(constructor_type parameters: (formal_parameters) @signature)
"""
FILTERS = {
    "python": _PYTHON,
    "javascript": _JAVASCRIPT + _JSX,
    "typescript": _JAVASCRIPT + _TYPESCRIPT,
    "tsx": _JAVASCRIPT + _JSX + _TYPESCRIPT,
}


@functools.cache
def bindings_query(language: str | None) -> tree_sitter.Query | None:
    """locals.scm with this module's filter patterns appended: one pass over the tree. Falls
    back to locals.scm alone when the filter does not compile (a renamed node type)."""
    grammar = ts_language(language) if language is not None else None
    source = query_source(language, "locals") if grammar is not None else None
    if grammar is None or source is None:
        return None
    try:
        return tree_sitter.Query(grammar, source + "\n" + FILTERS.get(language, ""))
    except Exception as exc:
        log.warning("bindings filter patterns for %s do not compile: %s", language, exc)
        return query(language, "locals")


class _Ranges:
    """A union of byte ranges, asked whether it contains a node."""

    def __init__(self, nodes: list[tree_sitter.Node]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted((n.start_byte, n.end_byte) for n in nodes):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [r[0] for r in merged]
        self._ends = [r[1] for r in merged]

    def __contains__(self, node: tree_sitter.Node) -> bool:
        i = bisect.bisect_right(self._starts, node.start_byte) - 1
        return i >= 0 and node.end_byte <= self._ends[i]


def _captures(q: tree_sitter.Query | None, root: tree_sitter.Node) -> dict[str, list[tree_sitter.Node]]:
    return tree_sitter.QueryCursor(q).captures(root) if q is not None else {}


def _sorted_out(found: dict[str, list[tree_sitter.Node]]) -> tuple[dict[int, tree_sitter.Node], dict[int, tree_sitter.Node]]:
    """The query's captures as (definitions, references) by node id, the filters applied."""
    skip = {n.id for n in found.get("skip", [])}
    skip.update(n.id for n in found.get("jsx", []) if n.text[:1].islower())  # `<div>`; `<Button>` reads Button
    skip_ranges, assigned, signature = (_Ranges(found.get(k, [])) for k in ("skip_range", "assigned", "signature"))
    defined: dict[int, tree_sitter.Node] = {}
    references: dict[int, tree_sitter.Node] = {}
    for node in found.get("local.definition", []):
        if not _is_name(node):  # `(formal_parameters (_))` also captures patterns, `required_parameter`s
            continue
        if node in signature:
            skip.add(node.id)
        elif node in assigned:
            references[node.id] = node
        else:
            defined[node.id] = node
    for node in found.get("local.reference", []):
        if node.id not in defined and node.id not in skip and node not in skip_ranges and node not in signature:
            references[node.id] = node
    return defined, references


class Bindings:
    """One tree's scopes, definitions and references (built once, asked many times)."""

    def __init__(self, language: str | None, root: tree_sitter.Node) -> None:
        self.language, self.root = language, root
        found = _captures(bindings_query(language), root)
        defined, references = _sorted_out(found)
        self.definitions = sorted(defined.values(), key=lambda n: n.start_byte)
        self.references = sorted(references.values(), key=lambda n: n.start_byte)
        self._defined_ids = set(defined)

        # one sweep in document order: the innermost scope around every scope and identifier
        scopes = found.get("local.scope", [])
        self._scopes = {n.id: n for n in scopes}
        self._around: dict[int, tree_sitter.Node] = {}
        items = sorted([*scopes, *defined.values(), *references.values()], key=lambda n: (n.start_byte, -n.end_byte))
        stack: list[tree_sitter.Node] = []
        for node in items:
            while stack and stack[-1].end_byte <= node.start_byte:
                stack.pop()
            self._around[node.id] = stack[-1] if stack else root
            if node.id in self._scopes:
                stack.append(node)
        self._names = {sid: (name.id if (name := n.child_by_field_name("name")) is not None else None)
                       for sid, n in self._scopes.items()}
        self._bodies: dict[int, tuple[int, int]] = {}
        if language == "python":
            for sid, n in self._scopes.items():
                if n.type in PY_BODIED and (body := n.child_by_field_name("body")) is not None:
                    self._bodies[sid] = (body.start_byte, body.end_byte)

        self._by_name: dict[str, list[tree_sitter.Node]] = {}
        self._defined: dict[int, set[str]] = {}
        for node in self.definitions:
            self._defined.setdefault(self.owner(node).id, set()).add(_text(node))

    def scope_of(self, node: tree_sitter.Node) -> tree_sitter.Node:
        """The innermost scope strictly around `node` (the root at the top)."""
        found = self._around.get(node.id)
        if found is not None:
            return found
        parent = node.parent
        while parent is not None and parent.id not in self._scopes:
            parent = parent.parent
        return parent if parent is not None else self.root

    def owner(self, node: tree_sitter.Node) -> tree_sitter.Node:
        """The scope a definition or reference is in (see the module's rules)."""
        scope = self.scope_of(node)
        if scope.id == self.root.id:
            return scope
        if self._names.get(scope.id) == node.id:  # a function's or class's own name
            return scope if scope.type in SELF_NAMED else self.scope_of(scope)
        body = self._bodies.get(scope.id)
        if body is not None and node.id not in self._defined_ids and not (body[0] <= node.start_byte and node.end_byte <= body[1]):
            return self.scope_of(scope)  # Python: a default value, an annotation, a base class
        return scope

    def scope_at(self, byte: int) -> tree_sitter.Node:
        """The innermost scope containing `byte` (the root when none)."""
        node = self.root.descendant_for_byte_range(byte, byte)
        while node is not None and node.id not in self._scopes:
            node = node.parent
        return node if node is not None else self.root

    def bound_in(self, name: str, scope: tree_sitter.Node) -> bool:
        """`name` has a definition directly in `scope` (not only in a scope nested in it)."""
        return name in self._defined.get(scope.id, ())

    def resolve(self, name: str, scope: tree_sitter.Node) -> tree_sitter.Node | None:
        """The scope whose binding `name` means when read in `scope`; None when none binds it."""
        skip_classes = False
        while True:
            if self.bound_in(name, scope) and not (skip_classes and scope.type in CLASS_SCOPES):
                return scope
            if scope.id == self.root.id:
                return None
            skip_classes = skip_classes or scope.type not in CLASS_SCOPES
            scope = self.scope_of(scope)

    def binding_scope(self, name: str, byte: int) -> tree_sitter.Node | None:
        """The scope that binds `name` as read at `byte`: where a definition or reference
        starts there, from the scope it belongs to; else from the innermost scope around."""
        node = self.root.descendant_for_byte_range(byte, byte)
        if node is None:
            return None
        start = self.owner(node) if node.id in self._around and node.id not in self._scopes else self.scope_at(byte)
        return self.resolve(name, start)

    def occurrences(self, name: str, scope: tree_sitter.Node) -> list[tree_sitter.Node]:
        """Every definition and reference of `name` inside `scope` that means `scope`'s
        binding (not those of a nested scope that binds `name` again), by start_byte."""
        if not self._by_name:
            for node in sorted(self.definitions + self.references, key=lambda n: n.start_byte):
                self._by_name.setdefault(_text(node), []).append(node)
        return [n for n in self._by_name.get(name, [])
                if scope.start_byte <= n.start_byte < scope.end_byte
                and (r := self.resolve(name, self.owner(n))) is not None and r.id == scope.id]


def _is_name(node: tree_sitter.Node) -> bool:
    """An identifier-like node (`identifier`, `type_identifier`, `shorthand_property_identifier_pattern`)."""
    return node.type.endswith("identifier") or node.type == "shorthand_property_identifier_pattern"


def _text(node: tree_sitter.Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


_cache: dict[tuple, Bindings] = {}
_lock = threading.Lock()


def bindings(language: str | None, root: tree_sitter.Node) -> Bindings:
    """The Bindings of `root`, reused for the last few trees asked about (keyed on the root
    node's id and extent; the cache holds the root, so the id is not reused meanwhile)."""
    key = (language, root.id, root.start_byte, root.end_byte, root.end_point)
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = Bindings(language, root)
        with _lock:
            if len(_cache) >= 4:
                _cache.pop(next(iter(_cache)))
            _cache[key] = found
    return found


def definitions(language: str | None, root: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The identifier nodes that define a name (@local.definition, less the exceptions above)."""
    return list(bindings(language, root).definitions)


def references(language: str | None, root: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The identifier nodes that read a name: not definitions, not attribute, keyword or import names."""
    return list(bindings(language, root).references)


def scope_at(language: str | None, root: tree_sitter.Node, byte: int) -> tree_sitter.Node:
    """The innermost @local.scope node containing `byte`, or `root`."""
    return bindings(language, root).scope_at(byte)


def binding_scope(language: str | None, root: tree_sitter.Node, name: str, byte: int) -> tree_sitter.Node | None:
    """The innermost scope around `byte` (a @local.scope node, or the root) that defines
    `name` directly; None when none does (a builtin, a name from elsewhere)."""
    return bindings(language, root).binding_scope(name, byte)


def occurrences(language: str | None, root: tree_sitter.Node, name: str, scope: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The definitions and references of `name` in `scope` that mean its binding there
    (shadowed ones in nested scopes left out), sorted by start_byte."""
    return bindings(language, root).occurrences(name, scope)


def bound_in(language: str | None, root: tree_sitter.Node, name: str, scope: tree_sitter.Node) -> bool:
    """`name` is defined directly in `scope`."""
    return bindings(language, root).bound_in(name, scope)
