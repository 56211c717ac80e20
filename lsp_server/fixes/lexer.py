"""Tokens of a line, enough to tell where a missing bracket, comma, colon or quote may go:
words, numbers, strings (Python's prefixes and triple quotes, JS template strings and regular
expressions) and brackets, comments skipped; and, for a run of rows, each row's tokens with
the brackets open at its start.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import dataclass

import tree_sitter

CLOSERS_BY_OPENER = {"(": ")", "[": "]", "{": "}"}
# Words that are not operands: a comma or colon between them and a name is no repair.
NOT_OPERANDS = {
    "python": set(keyword.kwlist) - {"True", "False", "None"},
    "javascript": {"if", "else", "for", "while", "do", "return", "function", "const", "let", "var", "new", "in", "of",
                   "instanceof", "typeof", "void", "delete", "throw", "try", "catch", "finally", "class", "extends",
                   "import", "export", "from", "as", "async", "await", "yield", "case", "default", "switch", "break",
                   "continue"},
}
NOT_OPERANDS["typescript"] = NOT_OPERANDS["tsx"] = NOT_OPERANDS["javascript"] | {"interface", "type", "enum", "implements"}
_HASH_COMMENTS = {"python", "ruby", "bash"}
_OPENERS = "([{"
_CLOSERS = ")]}"
_REGEX_LITERALS = {"javascript", "typescript", "tsx"}
_REGEX = re.compile(r"/(?![/*])(?:\\.|\[(?:\\.|[^\]\\\n])*\]|[^/\\\n\[])+/[A-Za-z]*")


@dataclass(frozen=True)
class Token:
    kind: str  # word | number | string | open | close | punct
    start: int  # character offsets in the lexed text
    end: int
    text: str
    closed: bool = True  # a string whose closing quote is missing on its line


def lex(language: str | None, text: str) -> list[Token]:
    """Tokens, enough to tell where brackets, commas, colons and quotes may go: strings
    (with Python's prefixes and triple quotes, JS template strings) and comments skipped.
    A string missing its closing quote ends at its line's end (at the text's end for a
    triple-quoted or template string), marked not `closed`."""
    out: list[Token] = []
    lexer, regex_ok = _lexer(language), language in _REGEX_LITERALS
    pos = 0
    while (m := lexer.match(text, pos)) is not None:
        pos = m.end()
        if m.lastgroup == "skip":
            continue
        if m.group() == "/" and regex_ok and _regex_may_start(out):
            if (literal := _REGEX.match(text, m.start())) is not None:  # `/^'|'$/g`: no quotes, no brackets
                out.append(Token("string", m.start(), literal.end(), literal.group()))
                pos = literal.end()
                continue
        out.append(_token(language, m))
    return out


def _regex_may_start(before: list[Token]) -> bool:
    """Whether a `/` after these tokens starts a regular expression literal: with no operand
    before it (at the start, after an operator, a bracket or a keyword) it cannot divide."""
    return not before or before[-1].kind in ("punct", "open") or before[-1].text in NOT_OPERANDS["javascript"]


def _token(language: str | None, m: re.Match[str]) -> Token:
    """The token a match of the language's lexer stands for: a bracket is told from other
    punctuation, a string knows whether it is closed."""
    kind, tok = m.lastgroup, m.group()
    if kind == "string":
        return Token("string", m.start(), m.end(), tok, _closed(language, tok))
    if kind == "punct":
        return Token("open" if tok in _OPENERS else "close" if tok in _CLOSERS else "punct", m.start(), m.end(), tok)
    return Token(kind, m.start(), m.end(), tok)


def _closed(language: str | None, string: str) -> bool:
    """Whether a string token ends with its closing delimiter, not an escaped one: the lexer
    ends an unterminated string at its line's (or a triple-quoted one at the text's) end."""
    quote = next(ch for ch in string if ch in "\"'`")
    delim = quote * 3 if language == "python" and string[string.index(quote) :].startswith(quote * 3) else quote
    body = string[string.index(quote) + len(delim) :]
    escapes = len(body[: len(body) - len(delim)]) - len(body[: len(body) - len(delim)].rstrip("\\"))
    return body.endswith(delim) and len(body) >= len(delim) and escapes % 2 == 0


def track_bracket(stack: list[str], tok: Token) -> int:
    """Follow the brackets open through `tok`: an opener pushes the closer it needs (1), the
    closer of the innermost open bracket pops it (-1); anything else leaves `stack` as it
    was (0), a stray closer included."""
    if tok.kind == "open":
        stack.append(CLOSERS_BY_OPENER[tok.text])
        return 1
    if tok.kind == "close" and stack and stack[-1] == tok.text:
        stack.pop()
        return -1
    return 0


def unterminated(tok: Token, line: str) -> bool:
    """Whether `tok` is a string missing its closing quote on `line` (not a docstring or a
    template string running on past it)."""
    return tok.kind == "string" and not tok.closed and tok.end <= len(line)


@functools.cache
def _lexer(language: str | None) -> re.Pattern[str]:
    """One regular expression per language: ~20x faster than a loop over characters."""
    comment = r"\#[^\n]*" if language in _HASH_COMMENTS else r"--[^\n]*" if language == "lua" else r"//[^\n]*|/\*(?s:.*?)(?:\*/|\Z)"
    prefix = r"(?:[rRbBfFuU]{1,2})?" if language == "python" else ""
    strings = [r"'''(?s:\\.|.)*?(?:'''|\Z)", r'"""(?s:\\.|.)*?(?:"""|\Z)'] if language == "python" else []
    strings += [r"'(?:\\.|[^'\\\n])*'?", r'"(?:\\.|[^"\\\n])*"?']
    if language not in ("python", "lua", "bash"):
        strings.append(r"`(?:\\.|[^`\\])*`?")
    return re.compile(
        rf"(?P<skip>[ \t\r\n\f\v\\]+|{comment})|(?P<string>{prefix}(?:{'|'.join(strings)}))"
        r"|(?P<word>[^\W\d][\w$]*|\$[\w$]*)|(?P<number>\.?\d[\w.]*)|(?P<punct>.)"
    )


def operand_end(language: str | None, t: Token) -> bool:
    if t.kind == "word":
        return t.text not in NOT_OPERANDS.get(language or "", set())
    return t.kind in ("number", "string", "close")


def operand_start(language: str | None, t: Token) -> bool:
    if t.kind == "word":
        return t.text not in NOT_OPERANDS.get(language or "", set()) or t.text in ("lambda", "not", "await", "new",
                                                                                     "typeof", "function", "yield")
    return t.kind in ("number", "string", "open") or t.text in "-+~!*@."  # `.` starts `...spread`


def object_key(language: str | None, tokens: tuple[Token, ...], i: int, stack: list[str]) -> bool:
    """Whether tokens[i] is a word starting a property of an object literal (`{ default otp`:
    a keyword is a key there too)."""
    return (language != "python" and bool(stack) and stack[-1] == "}" and tokens[i].kind == "word"
            and i > 0 and tokens[i - 1].text in "{,")


@dataclass(frozen=True)
class Row:
    """A row's tokens (columns within the row; a string may run past its end) and the
    closers open at its start."""

    stack: tuple[str, ...]
    tokens: tuple[Token, ...]


def scan_rows(language: str | None, lines: list[str], rows: list[int], tree: tree_sitter.Tree | None) -> dict[int, Row]:
    """Each row's tokens and open brackets, lexed in one pass from the start of the top-level
    statement holding the rows: an object literal's `}` is open on its key rows, a call's `)`
    on its argument rows, and a docstring's lines are no code."""
    if not rows:
        return {}
    top, bottom = min(rows), min(max(rows), len(lines) - 1)
    if tree is not None:
        holder = next((c for c in tree.root_node.children if c.start_point.row <= top <= c.end_point.row), None)
        top = holder.start_point.row if holder is not None else top
    starts = [0]
    for r in range(top, bottom + 1):
        starts.append(starts[-1] + len(lines[r]) + 1)
    out: dict[int, tuple[list[str], list[Token]]] = {}
    stack: list[str] = []
    row = top
    for tok in lex(language, "\n".join(lines[top : bottom + 1])):
        while row <= bottom and starts[row - top + 1] <= tok.start:
            out.setdefault(row, (list(stack), []))
            row += 1
        if row > bottom:
            break
        base = starts[row - top]
        out.setdefault(row, (list(stack), []))[1].append(
            Token(tok.kind, tok.start - base, tok.end - base, tok.text, tok.closed))
        track_bracket(stack, tok)
    for r in range(row, bottom + 1):
        out.setdefault(r, (list(stack), []))
    return {r: Row(tuple(out[r][0]), tuple(out[r][1])) for r in rows if r in out}
