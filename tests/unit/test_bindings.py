"""Scopes, definitions and references from locals.scm (context/bindings.py), on literal code:
what a rename of a local name has to touch, and what it must leave alone."""

from __future__ import annotations

import textwrap
import time

import pytest

from lsp_server.context import bindings
from lsp_server.context.languages import new_parser

PY = textwrap.dedent("""\
    import os
    from m import helper as h

    def run(foo, bar=1):
        self.foo = foo
        call(foo=foo)
        def inner(foo):
            return foo + 1
        total = [foo for x in range(3)]
        return len(h(os)), total

    class Box:
        size = 1
        def grow(self, by=size):
            return size, self.size
    """)

JS = textwrap.dedent("""\
    import { helper as h } from "./m";
    export function run(foo, bar = 1) {
      this.foo = foo;
      call({ foo: foo });
      function inner(foo) { return foo + 1; }
      const short = { foo };
      [bar, foo] = [foo, bar];
      return h(short, inner);
    }
    """)

TS = textwrap.dedent("""\
    type Fn = (width: number) => number;
    declare function measure(width: number): number;
    export function area(width: number, height?: number, ...rest: number[]): number {
      const scale = (width: number) => width * 2;
      return width * (height ?? 1) + scale(rest.length);
    }
    """)


def root(language: str, source: str):
    return new_parser(language).parse(source.encode()).root_node


def at(source: str, needle: str, nth: int = 0) -> int:
    """Byte offset of the nth occurrence of `needle`."""
    i = -1
    for _ in range(nth + 1):
        i = source.index(needle, i + 1)
    return len(source[:i].encode())


def texts(nodes) -> list[str]:
    return [n.text.decode() for n in nodes]


def points(nodes) -> list[tuple[int, int]]:
    return [tuple(n.start_point) for n in nodes]


def test_python_definitions_and_references():
    tree = root("python", PY)
    assert texts(bindings.definitions("python", tree)) == [
        "os", "h", "run", "foo", "bar", "inner", "foo", "total", "x", "Box", "size", "grow", "self", "by"]
    reads = texts(bindings.references("python", tree))
    # `self.foo` (an attribute) and `call(foo=...)` (a keyword) are not reads of foo
    assert reads.count("foo") == 4
    assert "helper" not in reads and "m" not in reads  # import names: only `h` is bound
    assert {"self", "call", "range", "len", "h", "os", "total", "size"} <= set(reads)


def test_python_rename_occurrences_skip_the_shadowing_function():
    tree = root("python", PY)
    scope = bindings.binding_scope("python", tree, "foo", at(PY, "foo"))
    assert scope is not None and scope.type == "function_definition"
    found = bindings.occurrences("python", tree, "foo", scope)
    # the parameter, `= foo`, `foo=foo`'s value, the comprehension's foo; not inner's own foo
    assert points(found) == [(3, 8), (4, 15), (5, 13), (8, 13)]
    assert all(n.type == "identifier" for n in found)
    inner = bindings.binding_scope("python", tree, "foo", at(PY, "return foo"))
    assert inner is not None and inner.child_by_field_name("name").text == b"inner"
    assert points(bindings.occurrences("python", tree, "foo", inner)) == [(6, 14), (7, 15)]


def test_python_binding_scope():
    tree = root("python", PY)
    # a module-level function's name belongs to the module, not to the function
    module = bindings.binding_scope("python", tree, "run", at(PY, "run"))
    assert module is not None and module.type == "module"
    assert points(bindings.occurrences("python", tree, "run", module)) == [(3, 4)]
    # a parameter belongs to its function
    param = bindings.binding_scope("python", tree, "bar", at(PY, "bar"))
    assert param is not None and param.type == "function_definition"
    assert bindings.bound_in("python", tree, "bar", param)
    assert not bindings.bound_in("python", tree, "os", param)
    assert bindings.bound_in("python", tree, "os", tree)
    # a builtin: nothing here binds it
    assert bindings.binding_scope("python", tree, "len", at(PY, "len")) is None
    # an imported alias is bound at module level, read in the function
    assert bindings.binding_scope("python", tree, "h", at(PY, "h(os)")).type == "module"
    # class-level names: the default value is read in the class, the body of a method does not see them
    box = bindings.binding_scope("python", tree, "size", at(PY, "size)"))
    assert box is not None and box.type == "class_definition"
    assert bindings.binding_scope("python", tree, "size", at(PY, "size, self")) is None
    # scope_at: innermost scope around a byte, the root at top level
    assert bindings.scope_at("python", tree, at(PY, "return foo + 1")).child_by_field_name("name").text == b"inner"
    assert bindings.scope_at("python", tree, at(PY, "import os")) == tree


def test_javascript_rename_occurrences():
    tree = root("javascript", JS)
    defs = texts(bindings.definitions("javascript", tree))
    assert defs == ["h", "run", "foo", "bar", "inner", "foo", "short"]  # `[bar, foo] = ...` assigns, binds nothing
    reads = texts(bindings.references("javascript", tree))
    assert "helper" not in reads  # the imported name, aliased
    scope = bindings.binding_scope("javascript", tree, "foo", at(JS, "foo"))
    assert scope is not None and scope.type == "function_declaration"
    found = bindings.occurrences("javascript", tree, "foo", scope)
    # parameter, `= foo`, `foo: foo`'s value, `{ foo }`, and both sides of the swap; not
    # `this.foo` / the `foo:` key (property_identifier) nor inner's own foo
    assert points(found) == [(1, 20), (2, 13), (3, 14), (5, 18), (6, 8), (6, 16)]
    assert {n.type for n in found} == {"identifier", "shorthand_property_identifier"}
    assert bindings.binding_scope("javascript", tree, "run", at(JS, "run")) == tree
    assert bindings.binding_scope("javascript", tree, "call", at(JS, "call")) is None


def test_typescript_typed_parameters():
    tree = root("typescript", TS)
    # a function type's and a bodiless signature's parameters bind nothing
    assert texts(bindings.definitions("typescript", tree)) == [
        "measure", "area", "width", "height", "rest", "scale", "width"]
    scope = bindings.binding_scope("typescript", tree, "width", at(TS, "width: number, height"))
    assert scope is not None and scope.type == "function_declaration"
    found = bindings.occurrences("typescript", tree, "width", scope)
    assert points(found) == [(2, 21), (4, 9)]  # not the arrow function's own width
    assert bindings.binding_scope("typescript", tree, "width", at(TS, "width")) is None  # `Fn`'s parameter
    assert points(bindings.occurrences("typescript", tree, "height", scope)) == [(2, 36), (4, 18)]


def test_tsx_and_languages_without_bindings():
    src = "export function App({ title }: Props) {\n  return <Card><h1>{title}</h1></Card>;\n}\n"
    tree = root("tsx", src)
    reads = texts(bindings.references("tsx", tree))
    assert "Card" in reads and "h1" not in reads  # an upper-case element is a read, an HTML tag no
    scope = bindings.binding_scope("tsx", tree, "title", at(src, "title"))
    assert points(bindings.occurrences("tsx", tree, "title", scope)) == [(0, 22), (1, 20)]
    # no definitions in locals.scm (rust), or no language at all: empty, None
    rust = root("rust", "fn main() { let x = 1; }")
    assert bindings.definitions("rust", rust) == [] and bindings.references(None, rust) == []
    assert bindings.binding_scope(None, rust, "x", 16) is None


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "tsx"])
def test_bindings_patterns_compile(language):
    assert bindings.bindings_query(language) is not None


def test_two_thousand_lines_fast():
    unit = textwrap.dedent("""\
        class Worker{i}:
            def run(self, task, *args, size=3, **kw):
                items = [x * size for x in range(size)]
                for step, value in task.steps(*args):
                    if step.skip:
                        continue
                    result = helper(step, value, key=kw.get("k"), items=items)
                return result

        """)
    src = "import os\n" + "".join(unit.format(i=i) for i in range(223))
    assert src.count("\n") >= 2000
    tree = root("python", src)
    bindings.Bindings("python", tree)  # compile the query
    start = time.perf_counter()
    b = bindings.Bindings("python", tree)
    scope = b.binding_scope("step", at(src, "step.skip", 100))
    assert len(b.occurrences("step", scope)) == 3
    assert time.perf_counter() - start < 0.5  # about 15 ms on one core; generous for a loaded machine
