"""A file's syntax errors, and whether an edit leaves the file better.

Two sources: tree-sitter (every language, error recovery finds many errors at once) and,
where it is in-process and cheap, the language's own parser (Python's `compile`, ~5 ms per
1000 lines): tree-sitter accepts some code that does not compile (`in verbose:` after an
`if` that lost its colon) and places some errors far from their cause (a dropped `)`).

An edit "makes the file better" when the errors after it, mapped back through the edit,
are a strict subset of the errors before it and the error being fixed is gone (`judge`).
"""

from __future__ import annotations

import ast
import functools
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter

from ..context.languages import new_parser, ts_language
from .lexer import CLOSERS_BY_OPENER
from ..structs import utf8

MESSAGE_TEXT = 24  # characters of the offending text quoted in a message
BRACKET_SPAN = 2000  # bytes of an ERROR node whose brackets name the problem
COMPILER_ROWS = 3  # a compiler error this many lines above the one being fixed is the same error
COMPILE_MAX_BYTES = 1_000_000  # Python's parser on a bigger buffer: ~50 ms a keystroke pause
_compile_lock = threading.Lock()  # warnings.catch_warnings is process-global state


@dataclass(frozen=True)
class Problem:
    start_byte: int
    end_byte: int  # what a squiggle covers: the problem's first line
    message: str
    node_end_byte: int = -1  # the whole ERROR node
    source: str = "tree-sitter"  # or "python" (the compiler's own parser)


def syntax_problems(tree: tree_sitter.Tree | None, source: bytes, limit: int = 100) -> list[Problem]:
    """ERROR and MISSING nodes, one problem each ("missing ')'", "unexpected 'foo'")."""
    if tree is None or not tree.root_node.has_error:
        return []
    out: list[Problem] = []
    stack = [tree.root_node]
    while stack and len(out) < limit:
        node = stack.pop()
        if node.is_missing:
            out.append(Problem(node.start_byte, node.end_byte, f"missing '{node.type}'", node.end_byte))
            continue
        if node.is_error:
            line_end = source.find(b"\n", node.start_byte)
            end = node.end_byte if line_end < 0 else min(node.end_byte, line_end)  # one line of squiggle
            text = source[node.start_byte : end].decode("utf-8", "replace").strip()
            # brackets of the node's first lines (an error spanning the file says nothing more)
            whole = source[node.start_byte : min(node.end_byte, node.start_byte + BRACKET_SPAN)].decode("utf-8", "replace")
            message = _bracket_problem(whole)
            if message is None:
                first = node.children[0] if node.children else None
                token = first.text.decode("utf-8", "replace") if first is not None and first.text else text
                quoted = token if len(token) <= MESSAGE_TEXT else token[:MESSAGE_TEXT] + "…"
                message = f"unexpected '{quoted}'" if quoted else "syntax error"
            out.append(Problem(node.start_byte, max(end, node.start_byte), message, node.end_byte))
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(out, key=lambda p: p.start_byte)


# Errors a JavaScript parser reports that tree-sitter's grammar accepts: a destructuring
# pattern or a const without `= value` (`const { a  = f(x)}` after a misplaced `}`).
_EARLY_ERRORS = {
    "javascript": """
      (variable_declarator name: [(object_pattern) (array_pattern)] !value) @missing
      (lexical_declaration kind: "const" (variable_declarator !value) @missing)
    """,
}


@functools.cache
def _early_query(language: str) -> tree_sitter.Query | None:
    grammar = ts_language(language)
    return tree_sitter.Query(grammar, _EARLY_ERRORS[language]) if grammar is not None else None


def tree_problems(language: str | None, tree: tree_sitter.Tree | None, source: bytes, limit: int = 10_000) -> list[Problem]:
    """syntax_problems, and the errors the language's parser reports that the grammar
    accepts (a declaration without its initializer)."""
    problems = syntax_problems(tree, source, limit)
    query = _early_query(language) if tree is not None and language in _EARLY_ERRORS else None
    if query is not None:
        for node in tree_sitter.QueryCursor(query).captures(tree.root_node).get("missing", []):
            end = source.find(b"\n", node.start_byte)
            end = node.end_byte if end < 0 else min(end, node.end_byte)
            problems.append(Problem(node.start_byte, end, "missing initializer ('= value')", node.end_byte, "sokuji"))
        problems.sort(key=lambda p: p.start_byte)
    return problems[:limit]


def _bracket_problem(text: str) -> str | None:
    """"missing ')'" / "unexpected ']'" when the brackets of an ERROR node's text do not
    balance (strings skipped), else None."""
    stack: list[str] = []
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in CLOSERS_BY_OPENER:
            stack.append(CLOSERS_BY_OPENER[ch])
        elif ch in ")]}":
            if not stack or stack[-1] != ch:
                return f"unexpected '{ch}'"
            stack.pop()
    return f"missing '{stack[-1]}'" if stack else None


def compile_problem(language: str | None, source: bytes) -> Problem | None:
    """The first error Python's own parser reports (its message: "'(' was never closed",
    "expected ':'"), or None: no error, another language, or a buffer too big to parse twice."""
    if language != "python" or len(source) > COMPILE_MAX_BYTES:
        return None
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        return None  # lone surrogates: Python cannot read the file either way
    try:
        with _compile_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are not syntax errors
            compile(text, "<buffer>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:  # IndentationError / TabError included
        return _problem_at(source, exc)
    except (ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting: no opinion
        return None
    return None


def _problem_at(source: bytes, exc: SyntaxError) -> Problem:
    """A compiler error as a Problem: its line and column (1-based characters) as bytes."""
    starts = line_starts(source)
    row = min(max((exc.lineno or 1) - 1, 0), len(starts) - 1)
    line_end = source.find(b"\n", starts[row])
    line_end = len(source) if line_end < 0 else line_end
    line = source[starts[row] : line_end].decode("utf-8", "replace")
    col = min(max((exc.offset or 1) - 1, 0), len(line))
    start = starts[row] + len(line[:col].encode("utf-8"))
    end = line_end
    if exc.end_lineno == exc.lineno and exc.end_offset and exc.end_offset - 1 > col:
        end = starts[row] + len(line[: exc.end_offset - 1].encode("utf-8"))
    message = (exc.msg or "invalid syntax").replace("\n", " ")
    return Problem(start, max(end, start), message, end, source="python")


def line_starts(source: bytes) -> list[int]:
    starts = [0]
    at = source.find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = source.find(b"\n", at + 1)
    return starts


@dataclass(frozen=True)
class Errors:
    """A text's syntax errors: tree-sitter's, and the compiler's first one where it has one."""

    tree: tuple[Problem, ...]
    compiler: Problem | None

    @property
    def count(self) -> int:
        return len(self.tree) + (self.compiler is not None)


def errors_of(language: str | None, source: bytes, tree: tree_sitter.Tree | None = None) -> Errors:
    """All of `source`'s errors; `tree` is its tree when the caller has one (else parsed here)."""
    if tree is None:
        parser = new_parser(language)
        tree = parser.parse(source) if parser is not None else None
    return Errors(tuple(tree_problems(language, tree, source)), compile_problem(language, source))


@dataclass(frozen=True)
class ByteEdit:
    """Bytes [start, old_end) of the old text replaced by `new_len` bytes."""

    start: int
    old_end: int
    new_len: int

    def to_old(self, byte: int) -> int | None:
        """Where a byte of the new text was in the old one; None inside the inserted text."""
        if byte < self.start:
            return byte
        if byte >= self.start + self.new_len:
            return byte - self.new_len + (self.old_end - self.start)
        return None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def judge(before: Errors, after_tree: tuple[Problem, ...], after_compiler: Callable[[], Problem | None], edit: ByteEdit,
          target: tuple[int, int], old_source: bytes, own_problem: bool = True) -> Verdict:
    """Is the file better after `edit`? Every tree-sitter error after it was there before
    (same message, same place once mapped back through the edit), none sits in the edited
    text, the errors on the lines `target` (bytes) covers, the diagnostic being fixed, are
    gone, and there are fewer than before. The compiler, as a second opinion, must not
    report an error that is new; it is asked (`after_compiler`) only when tree-sitter
    agrees. For another server's diagnostic (`own_problem` False) no new error is enough."""
    old_keys = {(p.start_byte, p.message) for p in before.tree}
    for p in after_tree:
        old = edit.to_old(p.start_byte)
        if old is None:
            return Verdict(False, f"'{p.message}' in the code it changes")
        if (old, p.message) not in old_keys:
            return Verdict(False, f"it would add '{p.message}' on line {_line(old_source, old) + 1}")
    a, b = _line(old_source, target[0]), _line(old_source, max(target))
    on_target = lambda byte: byte is not None and a <= _line(old_source, byte) <= b  # noqa: E731
    if own_problem and any(on_target(edit.to_old(p.start_byte)) for p in after_tree):
        return Verdict(False, "the error is still there")
    compiler = after_compiler()
    verdict = _compiler_verdict(before, compiler, edit, old_source)
    if not verdict.ok or not own_problem:
        return verdict
    # the compiler often places the cause a line or two above tree-sitter's error
    near = lambda byte: byte is not None and a - COMPILER_ROWS <= _line(old_source, byte) <= b + 1  # noqa: E731
    if compiler is not None and near(edit.to_old(compiler.start_byte)):
        return Verdict(False, f"Python still reports '{compiler.message}'")
    if len(after_tree) + (compiler is not None) >= before.count:
        return Verdict(False, "it does not remove an error")
    return Verdict(True)


def _compiler_verdict(before: Errors, err: Problem | None, edit: ByteEdit, old_source: bytes) -> Verdict:
    """The compiler reports only its first error, so "not new" means: none, the one it
    reported before (outside the edit), or one past the edit on a line where tree-sitter
    saw an error before (the next of several errors, now that the first is fixed)."""
    if err is None:
        return Verdict(True)
    old = edit.to_old(err.start_byte)
    if old is not None:
        if before.compiler is not None and (old, err.message) == (before.compiler.start_byte, before.compiler.message):
            return Verdict(True)
        row = _line(old_source, old)
        if old >= edit.old_end and any(abs(_line(old_source, p.start_byte) - row) <= 1 for p in before.tree):
            return Verdict(True)
        where = f" on line {row + 1}"
    else:
        where = " in the code it changes"
    return Verdict(False, f"Python would report '{err.message}'{where}")


def _line(source: bytes, byte: int) -> int:
    return source.count(b"\n", 0, byte)


class Checker:
    """Applies one-row edits to a file and judges each (judge): tree-sitter reparses
    incrementally from the file's tree, the compiler runs only on what it lets through."""

    def __init__(self, language: str | None, text: str, tree: tree_sitter.Tree | None, target: tuple[int, int],
                 own_problem: bool) -> None:
        self.language, self.own = language, own_problem
        self.lines = text.split("\n")
        self.source = utf8(text)
        self.parser = new_parser(language)
        self.tree = tree if tree is not None or self.parser is None else self.parser.parse(self.source)
        self.starts = line_starts(self.source)
        problems = tuple(tree_problems(language, self.tree, self.source))
        self.before = Errors(problems, compile_problem(language, self.source))
        self.target = target

    def verdict(self, row: int, new_line: str) -> Verdict:
        return self._check(row, new_line)[0]

    def removes(self, row: int, new_line: str) -> set[Problem]:
        """The tree-sitter problems that go away with this edit, if the file is then better."""
        verdict, after, edit = self._check(row, new_line)
        if not verdict.ok:
            return set()
        kept = {(edit.to_old(p.start_byte), p.message) for p in after}
        return {p for p in self.before.tree if (p.start_byte, p.message) not in kept}

    def _check(self, row: int, new_line: str) -> tuple[Verdict, tuple[Problem, ...], ByteEdit]:
        old, new = utf8(self.lines[row]), utf8(new_line)
        start = self.starts[row]
        # only the changed bytes: a precise edit keeps tree-sitter's reparse small
        lead = 0
        while lead < min(len(old), len(new)) and old[lead] == new[lead]:
            lead += 1
        trail = 0
        while trail < min(len(old), len(new)) - lead and old[-1 - trail] == new[-1 - trail]:
            trail += 1
        edit = ByteEdit(start + lead, start + len(old) - trail, len(new) - lead - trail)
        new_source = self.source[: edit.start] + new[lead : len(new) - trail] + self.source[edit.old_end :]
        tree = None
        if self.parser is not None and self.tree is not None:
            copy = self.tree.copy()
            point = lambda byte: (row, byte - start)  # noqa: E731  (one row changes)
            copy.edit(start_byte=edit.start, old_end_byte=edit.old_end, new_end_byte=edit.start + edit.new_len,
                      start_point=point(edit.start), old_end_point=point(edit.old_end),
                      new_end_point=point(edit.start + edit.new_len))
            tree = self.parser.parse(new_source, copy)
        problems = tuple(tree_problems(self.language, tree, new_source))

        def compiler() -> Problem | None:
            near = self._block_error(row, new_line)
            return near if near is not None else compile_problem(self.language, new_source)

        verdict = judge(self.before, problems, compiler, edit, self.target, self.source, self.own)
        return verdict, problems, edit

    def _block_error(self, row: int, new_line: str) -> Problem | None:
        """Python's error for the edited function alone (its `def` block, or the top-level
        statement, dedented) when it lies within a few rows of the edit: the whole file
        says the same for ~20x the time (2,600 lines: 15-50 ms), so only a candidate this
        does not reject is compiled whole. None: no error near the edit, ask the file."""
        if self.language != "python":
            return None
        first, last = _python_block(self.lines, row)
        indent = _indent(self.lines[first])
        block = [new_line if r == row else self.lines[r] for r in range(first, last + 1)]
        text = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in block) + "\n"
        source = utf8(text)
        problem = compile_problem("python", source)
        if problem is None:
            return None
        at = first + source.count(b"\n", 0, problem.start_byte)
        if abs(at - row) > COMPILER_ROWS:
            return None  # far from the edit: maybe the block's cut, not the edit
        return Problem(self.starts[at], self.starts[at], problem.message, self.starts[at], "python")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _python_block(lines: list[str], row: int) -> tuple[int, int]:
    """Rows [first, last] of the `def` / `class` holding `row` (the nearest one indented
    less, or the row's own), else of the top-level statement holding it."""
    depth = len(_indent(lines[row])) + 1 if lines[row].strip() else 1 << 30
    first = 0
    for r in range(row, -1, -1):  # up through the enclosing blocks' headers, each indented less
        body = lines[r].lstrip()
        indent = len(lines[r]) - len(body)
        if not body or body.startswith("#") or indent >= depth:
            continue
        depth = indent
        if body.startswith(("def ", "class ", "async def ")) or indent == 0:
            first = r
            break
    base = len(_indent(lines[first]))
    last = row
    for r in range(row + 1, len(lines)):
        body = lines[r].lstrip()
        if body and not body.startswith("#") and len(lines[r]) - len(body) <= base and not body.startswith((")", "]", "}")):
            break
        last = r
    return first, last
