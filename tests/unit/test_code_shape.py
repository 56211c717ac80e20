"""The code's shape, measured with `ast`: no module, class or function grows past the size
a reader can hold at once, and no function past the number of paths one can follow.

Branches of a function are counted over its own body: a nested function or class is
measured on its own (not in its parent), a lambda counts in its parent. Each if/elif, loop,
try, except, with, match, conditional expression and comprehension counts one; a boolean
operator joining n operands counts n - 1."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lsp_server"
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 60
MAX_BRANCHES = 15

_BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.ExceptHandler, ast.Match,
             ast.IfExp, ast.comprehension) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())
_OWN_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)  # measured on their own


@dataclass(frozen=True)
class Measure:
    where: str  # path:line, relative to the repository
    name: str
    lines: int
    branches: int | None = None  # functions only

    def __str__(self) -> str:
        counted = "" if self.branches is None else f" branches={self.branches}"
        return f"{self.where} {self.name} lines={self.lines}{counted}"


def branches(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The branches in the function's own body (see the module docstring)."""
    count = 0
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, _OWN_SCOPES):
            continue
        if isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        elif isinstance(node, _BRANCHES):
            count += 1
        stack.extend(ast.iter_child_nodes(node))
    return count


def _modules() -> list[tuple[str, str]]:
    root = PACKAGE.parent
    return [(str(p.relative_to(root)), p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))]


def _span(node: ast.AST) -> int:
    return node.end_lineno - node.lineno + 1


def measure() -> tuple[list[Measure], list[Measure], list[Measure]]:
    """(modules, classes, functions) of the package."""
    modules, classes, functions = [], [], []
    for path, source in _modules():
        modules.append(Measure(path, "(module)", source.count("\n")))
        for node in ast.walk(ast.parse(source, path)):
            if isinstance(node, ast.ClassDef):
                classes.append(Measure(f"{path}:{node.lineno}", node.name, _span(node)))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append(Measure(f"{path}:{node.lineno}", node.name, _span(node), branches(node)))
    return modules, classes, functions


def _report(offenders: list[Measure], limit: str) -> str:
    return f"{len(offenders)} over {limit}:\n" + "\n".join(str(m) for m in offenders)


def test_no_module_is_too_long():
    offenders = [m for m in measure()[0] if m.lines > MAX_MODULE_LINES]
    assert not offenders, _report(offenders, f"{MAX_MODULE_LINES} lines")


def test_no_class_is_too_long():
    offenders = [m for m in measure()[1] if m.lines > MAX_CLASS_LINES]
    assert not offenders, _report(offenders, f"{MAX_CLASS_LINES} lines")


def test_no_function_is_too_long_or_too_branchy():
    offenders = [m for m in measure()[2] if m.lines > MAX_FUNCTION_LINES or m.branches > MAX_BRANCHES]
    assert not offenders, _report(offenders, f"{MAX_FUNCTION_LINES} lines or {MAX_BRANCHES} branches")


def test_branches_are_counted_as_documented():
    source = '''
def f(xs):
    if a and b and c:          # if 1, and 2
        pass
    elif d:                    # 1
        pass
    y = [x for x in xs if x]   # comprehension 1
    g = lambda v: v if v else 0  # the lambda's IfExp: 1, in f
    def inner():               # not in f
        for _ in xs:
            pass
    class C:                   # not in f
        def m(self):
            while True:
                pass
    try:                       # try 1, except 1
        pass
    except ValueError:
        pass
    with open(y) as h:         # 1
        pass
'''
    tree = ast.parse(source)
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert branches(functions["f"]) == 9
    assert branches(functions["inner"]) == 1
    assert branches(functions["m"]) == 1
