"""What sokuji publishes as syntax errors: tree-sitter's, the compiler's where tree-sitter
has nothing on its line, and a missing token located where it is missing.

Tree-sitter's error recovery often reports a dropped `)` or a key's `:` far from it (at
the end of the function, at the top of an object literal). When a file has errors, the rows
in and above each error that look unfinished (an unclosed bracket at the end of the code,
two operands side by side, an unterminated string) are tried with that one token inserted;
if the file is then better (syntax_errors.Checker), the problem is published there, in place of
the errors the insertion makes go away.
"""

from __future__ import annotations

import tree_sitter

from .lexer import Row, Token, object_key, operand_end, operand_start, scan_rows, track_bracket, unterminated
from .repairs import insertions
from ..structs import utf8
from .syntax import Checker, Problem, line_starts

ROWS_AROUND_ERROR = 300  # a missing token is looked for this far from where tree-sitter noticed it
ERROR_ROWS = 400  # and in this many rows of the error itself
MAX_PROBES = 60  # insertions tried per file (~1 ms each)
QUOTE_TRIES = 8  # places inside an unterminated string a closing quote is tried
# contextual keywords: `static foo`, `get name()`, `match x:` are two words side by side in valid code
_SOFT_KEYWORDS = {"get", "set", "static", "async", "of", "as", "from", "type", "declare", "readonly", "public",
                  "private", "protected", "abstract", "override", "match", "case", "print", "exec"}


def publishable(language: str | None, text: str, tree: tree_sitter.Tree | None, limit: int = 100) -> list[Problem]:
    """The problems to publish for `text`, sorted, at most `limit`."""
    checker = Checker(language, text, tree, (0, 0), True)
    before = checker.before
    if not before.tree and before.compiler is None:
        return []
    source = checker.source
    row = lambda byte: source.count(b"\n", 0, byte)  # noqa: E731
    problems = list(before.tree)
    located, gone = _locate_missing(language, checker, problems)
    problems = [p for p in problems if p not in gone] + located
    compiler = before.compiler  # where Python places it is where it is: shown unless already there
    if compiler is not None and not any(row(p.start_byte) == row(compiler.start_byte) for p in problems):
        problems.append(compiler)
    return sorted(problems, key=lambda p: p.start_byte)[:limit]


def _unfinished_spots(language: str | None, line: str, scanned: Row) -> list[tuple[int, int, str]]:
    """(kind, column, token) where `line` looks unfinished, likeliest kind first: 0, a quote
    at the end of an unterminated string or before the brackets it ends with; 1, when a
    bracket opened on the line stays open (and the line does not end opening more: `foo(`,
    `) {` start a block or a literal), its closer at the end; 2, a comma or colon between
    two operands; 3, that closer further back, or a `]` / `}` left open before the
    brackets a line ends with."""
    tokens = scanned.tokens
    if not tokens:
        return []
    out: list[tuple[int, int, str]] = []
    stack = list(scanned.stack)
    for i, tok in enumerate(tokens):
        track_bracket(stack, tok)
        if unterminated(tok, line):
            out += _quote_spots(line, tok)
        if i + 1 < len(tokens) and _operands_side_by_side(language, tokens, i, stack):
            out += [(2, tok.end, ","), (2, tok.end, ":")]
    out += _closers_left_open(language, line, scanned, len(stack))
    return [spot for spot in out if spot[1] <= len(line)]


def _quote_spots(line: str, tok: Token) -> list[tuple[int, int, str]]:
    """Spots of kind 0 for an unterminated string: its quote at the end of the line, or
    before a bracket or punctuation inside it (`'a])`)."""
    opening = tok.start + tok.text.index(quote := next(ch for ch in tok.text if ch in "\"'`"))
    inside = [j for j in range(tok.end - 1, opening, -1) if line[j] in ")]},;." and line[j - 1] != " "]
    return [(0, tok.end, quote)] + [(0, j, quote) for j in inside[:QUOTE_TRIES]]


def _operands_side_by_side(language: str | None, tokens: tuple[Token, ...], i: int, stack: list[str]) -> bool:
    """Whether tokens[i] and the next are two operands side by side (`registry reg`,
    `f(a b)`, an object's key and value): not a call `f (x)`, nor strings Python joins, nor
    a contextual keyword before a name (`static foo`)."""
    tok, nxt = tokens[i], tokens[i + 1]
    return nxt.kind in ("word", "number", "string") and (operand_end(language, tok) or object_key(language, tokens, i, stack)) \
        and operand_start(language, nxt) and not (tok.kind == "string" and nxt.kind == "string") \
        and tok.text not in _SOFT_KEYWORDS


def _closers_left_open(language: str | None, line: str, scanned: Row, depth_after: int) -> list[tuple[int, int, str]]:
    """Spots of kinds 1 and 3 for the brackets a line leaves open (`depth_after` deep at its
    end): when the line does not end opening more, the innermost closer at the end (1) and
    the others further back (3); when it does, a `]` / `}` left open before them (3)."""
    tokens = scanned.tokens
    depth = len(scanned.stack)
    trailing = _trailing_openers(tokens)
    if depth_after > depth and trailing == len(tokens):
        closers = _closers(language, line, scanned, ")]}", len(line))
        return [(1 if i == 0 else 3, col, tok) for i, (col, tok) in enumerate(closers)]
    if trailing < len(tokens) and _opened(scanned.stack, tokens[:trailing], "]}") > depth:
        # `const [a, b = await all([`: a pattern or literal left open before the call that starts
        return [(3, col, tok) for col, tok in _closers(language, line, scanned, "]}", tokens[trailing].start)]
    return []


def _trailing_openers(tokens: tuple[Token, ...]) -> int:
    """Where the run of opening brackets a line ends with starts (`foo(`, `) {`: a block or
    a literal begins); len(tokens) when it ends with none."""
    trailing = len(tokens)
    while trailing > 0 and tokens[trailing - 1].kind == "open":
        trailing -= 1
    return trailing


def _closers(language: str | None, line: str, scanned: Row, kinds: str, limit: int) -> list[tuple[int, str]]:
    """The closers among `kinds` that repairs would insert on the line at or before column
    `limit`, the rightmost first."""
    return sorted(((col, tok) for col, tok in insertions(language, line, scanned, None)
                   if tok.strip() in kinds and col <= limit), reverse=True)


def _opened(stack: tuple[str, ...], tokens: tuple[Token, ...], closers: str) -> int:
    """How deep the brackets are after `tokens`, counting only the open ones whose closer is
    in `closers` (and all those open before)."""
    stack = list(stack)
    depth = len(stack)
    for tok in tokens:
        track_bracket(stack, tok)
    return len(stack[:depth]) + sum(c in closers for c in stack[depth:])


def _locate_missing(language: str | None, checker: Checker, problems: list[Problem]) -> tuple[list[Problem], set[Problem]]:
    """Problems at the rows where one inserted token makes the file better, and the
    problems that insertion removes (tree-sitter's echoes of it, reported elsewhere)."""
    source, lines = checker.source, checker.lines
    # tree-sitter notices a missing token after it, or before it (a MISSING node far above
    # an unterminated string): the rows around each error, likeliest kind, then nearest, first
    distance: dict[int, int] = {}
    for p in problems:
        first = source.count(b"\n", 0, p.start_byte)
        last = min(source.count(b"\n", 0, max(p.start_byte, p.node_end_byte)), first + ERROR_ROWS)
        for r in range(max(0, first - ROWS_AROUND_ERROR), min(len(lines), last + ROWS_AROUND_ERROR + 1)):
            d = 0 if first <= r <= last else first - r if r < first else r - last
            distance[r] = min(distance.get(r, d), d)
    scanned = scan_rows(language, lines, list(distance), checker.tree)
    spots = sorted((kind, distance[r], r, col, tok) for r in distance
                   for kind, col, tok in _unfinished_spots(language, lines[r], scanned[r]))
    starts = line_starts(source)
    located: list[Problem] = []
    gone: set[Problem] = set()
    done: set[int] = set()
    for _, _, r, col, tok in spots[:MAX_PROBES]:
        if r in done:
            continue
        new_line = lines[r][:col] + tok + lines[r][col:]
        checker.target = (starts[r], starts[r])
        removed = checker.removes(r, new_line)
        if removed:
            at = starts[r] + len(utf8(lines[r][:col]))
            end = starts[r] + len(utf8(lines[r]))
            located.append(Problem(at, max(at, end), f"missing '{tok.strip()}'", end, source="sokuji"))
            gone |= removed
            done.add(r)
    return located, gone
