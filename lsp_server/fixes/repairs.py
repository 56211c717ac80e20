"""Small repairs, found and checked without the model: a missing closing bracket, colon,
quote, comma or semicolon inserted where the line's tokens allow it, a stray character
removed, a misspelled keyword corrected, a line re-indented, and (for another server's
diagnostic on a name) the file's names one or two edits away.

Each candidate is kept only if the whole file is better with it (syntax_errors.Checker:
tree-sitter, reparsed incrementally, then Python's own parser). The model only ranks the
candidates that pass; with one, no model is needed at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from .lexer import NOT_OPERANDS, Row, Token, object_key, operand_end, operand_start, scan_rows, track_bracket, unterminated
from .syntax import Checker

MAX_CANDIDATES = 400  # parses per search (~0.3-2 ms each, incremental)
ROWS_ABOVE = 2  # code rows above the diagnostic searched too: an error shows on the next token
SCAN_ABOVE = 12  # lines looked through for those code rows
LOCATED_ROWS = 3  # how far from the diagnostic the compiler's own location is trusted
QUOTE_SPOTS = 40  # places a closing quote is tried, per unterminated string

KEYWORDS = {
    "python": ["return", "import", "from", "def", "class", "while", "for", "if", "elif", "else", "with", "try",
               "except", "finally", "lambda", "yield", "raise", "pass", "break", "continue", "async", "await", "not", "in"],
    "javascript": ["return", "function", "const", "let", "var", "if", "else", "for", "while", "class", "import",
                   "export", "from", "new", "throw", "try", "catch", "finally", "async", "await", "typeof"],
}
KEYWORDS["typescript"] = KEYWORDS["tsx"] = KEYWORDS["javascript"] + ["interface", "type", "enum"]
_BLOCK_KEYWORDS = {"if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally", "async",
                   "match", "case"}
_SEMICOLON_LANGUAGES = {"c", "cpp", "java", "rust", "javascript", "typescript", "tsx"}
_JS_LANGUAGES = ("javascript", "typescript", "tsx")


@dataclass(frozen=True)
class Candidate:
    row: int  # the one row it changes
    line: str  # that row's new text
    title: str  # what it does, for the code action's title: "insert ')'"
    located: bool = False  # at the spot a parser pointed to (tried first when nothing ranks)

    @property
    def edits(self) -> list[tuple[int, int, list[str]]]:
        return [(self.row, self.row + 1, [self.line])]


def insertions(language: str | None, line: str, scanned: Row, next_token: Token | None) -> list[tuple[int, str]]:
    """(column, token) insertions on `row` that could fix a single missing token: a closer
    where it matches the innermost open bracket, a comma or colon between two operands where
    the brackets allow one, a closing quote in an unterminated string, a ':' or ';' at the
    end of the code. `scanned` holds the row's tokens and the closers open at its start;
    `next_token` is the first token of the next code row."""
    tokens = scanned.tokens
    if not tokens:
        return []
    out: list[tuple[int, str]] = []
    stack = list(scanned.stack)
    padded: list[bool] = [False] * len(stack)  # `{ a`: its closer goes in as ` }`
    for i, tok in enumerate(tokens):
        moved = track_bracket(stack, tok)
        if moved > 0:
            padded.append(_spaced_inside(line, tokens, i))
        elif moved < 0:
            padded.pop()
        if unterminated(tok, line):
            out += _closing_quotes(line, tok)
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        at = _dropped_at(line, tok, nxt)
        if stack and (operand_end(language, tok) or tok.kind == "open"):
            out.append(_closer(line, tok, nxt, at, stack[-1], padded[-1]))
        if nxt is not None:
            out += _separators(language, tokens, i, at, stack)
        else:
            out += _row_end(language, tokens, at, stack, next_token)
    return list(dict.fromkeys((col, tok) for col, tok in out if col <= len(line)))  # not past a string's line


def _spaced_inside(line: str, tokens: tuple[Token, ...], i: int) -> bool:
    """Whether the opener tokens[i] is followed by a blank and more code (`{ a`): its closer
    is then spaced the same way (`{ a }`)."""
    tok = tokens[i]
    return tok.end < len(line) and line[tok.end] == " " and i + 1 < len(tokens)


def _closing_quotes(line: str, tok: Token) -> list[tuple[int, str]]:
    """Where an unterminated string's closing quote may go: anywhere after its opening quote
    but inside a word, the last QUOTE_SPOTS places."""
    quote = next(ch for ch in tok.text if ch in "\"'`")
    spots = [j for j in range(tok.start + tok.text.index(quote) + 1, tok.end + 1)
             if j == tok.end or not (line[j - 1].isalnum() and line[j].isalnum())]
    return [(j, quote) for j in spots[-QUOTE_SPOTS:]]


def _dropped_at(line: str, tok: Token, nxt: Token | None) -> int:
    """The column a token dropped after `tok` was at: right after it, or one blank further
    when blanks were left on both sides of it (`{ a  = x`)."""
    if nxt is not None and nxt.start - tok.end >= 2 and not line[tok.end : nxt.start].strip():
        return tok.end + 1
    return tok.end


def _closer(line: str, tok: Token, nxt: Token | None, at: int, closer: str, padded: bool) -> tuple[int, str]:
    """The innermost open bracket's closer after `tok`, spaced as its opener was: `{ a`
    becomes `{ a }`, into the blank the dropped closer left when there is one."""
    if padded and tok.kind != "open":
        gap = (nxt.start if nxt is not None else len(line)) - tok.end  # blanks after the token
        return (tok.end + 1, closer) if gap else (tok.end, " " + closer)
    return (at, closer)


def _separators(language: str | None, tokens: tuple[Token, ...], i: int, at: int, stack: list[str]) -> list[tuple[int, str]]:
    """A comma or colon between tokens[i] and the next token: two operands side by side (or
    an object's key and its value), or the bare `*` before keyword-only parameters."""
    tok, nxt = tokens[i], tokens[i + 1]
    if (operand_end(language, tok) or object_key(language, tokens, i, stack)) and operand_start(language, nxt):
        out = []
        # `retrun x` is no tuple `retrun, x`; `a b = f()` is `a, b = f()`
        if stack or i > 0 or any(t.text == "=" for t in tokens[2:]):
            out.append((at, ","))
        if _colon_between(language, tokens, i, stack):
            out.append((at, ":"))
        return out
    if tok.text == "*" and i > 0 and tokens[i - 1].text in ",(" and nxt.kind == "word":
        return [(at, ",")]  # `def f(a, * b)`
    return []


def _colon_between(language: str | None, tokens: tuple[Token, ...], i: int, stack: list[str]) -> bool:
    """Whether two operands side by side may be missing a ':': inside an object or dict
    (a key and its value), a Python subscript (a slice), or after a JS ternary's `?`."""
    if stack and stack[-1] in "}]" and language == "python" or stack and stack[-1] == "}":
        return True
    return language in _JS_LANGUAGES and any(t.text == "?" for t in tokens[:i])


def _row_end(language: str | None, tokens: tuple[Token, ...], at: int, stack: list[str],
             next_token: Token | None) -> list[tuple[int, str]]:
    """What the end of a row's code may be missing: a block header's ':', a statement's ';',
    or (one element per line, the next one on the next code row) a comma."""
    out = []
    if _header_without_colon(language, tokens, stack):
        out.append((at, ":"))
    if _statement_without_semicolon(language, tokens, stack):
        out.append((at, ";"))
    if stack and operand_end(language, tokens[-1]) and next_token is not None and operand_start(language, next_token):
        out.append((at, ","))
    return out


def _header_without_colon(language: str | None, tokens: tuple[Token, ...], stack: list[str]) -> bool:
    """A block's header not ending in ':': Python's `if x`, `def f()`, a JS `case 1`."""
    if tokens[-1].text == ":":
        return False
    if language == "python":
        return not stack and tokens[0].text in _BLOCK_KEYWORDS
    return language in _JS_LANGUAGES and tokens[0].text in ("case", "default")


def _statement_without_semicolon(language: str | None, tokens: tuple[Token, ...], stack: list[str]) -> bool:
    """A statement in a language that ends statements with ';': no bracket left open, its
    code ending in an operand (or a call, a subscript), not starting with a keyword or `}`."""
    if language not in _SEMICOLON_LANGUAGES or stack:
        return False
    last, first = tokens[-1], tokens[0].text
    return (operand_end(language, last) or last.text in ")]") and first not in NOT_OPERANDS.get(language or "", set()) | {"}"}


def small_edits(language: str | None, line: str, prev: str | None) -> list[tuple[str, str]]:
    """(new line, title) for the other small repairs: a stray closer or punctuation removed,
    a misspelled keyword corrected, the line re-indented like the one above."""
    body = line.rstrip()
    out: list[tuple[str, str]] = []
    if not body.strip():
        return out
    for j, ch in enumerate(body):
        if ch in ")]}:;,":
            out.append((body[:j] + body[j + 1 :], f"remove '{ch}'"))
    for word in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", body)):
        for kw in KEYWORDS.get(language or "", []):
            if _one_edit_apart(word, kw):
                out.append((re.sub(rf"\b{word}\b", kw, body, count=1), f"'{word}' → '{kw}'"))
    if prev is not None and prev.strip():
        indent = body[: len(body) - len(body.lstrip())]
        prev_indent = prev[: len(prev) - len(prev.lstrip())]
        for new_indent in dict.fromkeys([prev_indent, prev_indent + "    ", prev_indent[:-4]]):
            if new_indent != indent:
                out.append((new_indent + body.lstrip(), "re-indent"))
    return out


def _one_edit_apart(a: str, b: str) -> bool:
    """One character inserted, deleted, replaced, or two adjacent swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def name_edits(line: str, col: int, text: str) -> list[tuple[str, str]]:
    """The name at `col` replaced by the file's names one or two edits away from it."""
    match = next((m for m in re.finditer(r"[A-Za-z_]\w*", line) if m.start() <= col <= m.end()), None)
    if match is None:
        return []
    word = match.group()
    names = {n for n in re.findall(r"[A-Za-z_]\w*", text) if n != word and abs(len(n) - len(word)) <= 2}
    close = sorted(n for n in names if _edit_distance(n, word) <= 2)[:20]
    return [(line[: match.start()] + name + line[match.end() :], f"'{word}' → '{name}'") for name in close]


def search_rows(lines: list[str], row: int, located: list[int], scanned: dict[int, Row]) -> list[int]:
    """The diagnostic's row, the code rows just above it, and rows a parser pointed to."""
    rows = [row]
    for r in range(row - 1, max(-1, row - 1 - SCAN_ABOVE), -1):
        if len(rows) > ROWS_ABOVE:
            break
        if scanned[r].tokens:
            rows.append(r)
    rows += [r for r in located if abs(r - row) <= LOCATED_ROWS]
    return list(dict.fromkeys(r for r in rows if 0 <= r < len(lines)))


def find_repairs(
    language: str | None, text: str, tree: tree_sitter.Tree | None, start_byte: int, end_byte: int,
    own_problem: bool, name_col: int | None = None,
) -> tuple[list[Candidate], Checker]:
    """The small repairs for the problem at [start_byte, end_byte) that make the file better,
    the likeliest kinds first. `name_col` asks for name replacements at that column
    (another server's diagnostic on a name) instead of syntax repairs."""
    checker = Checker(language, text, tree, (start_byte, end_byte), own_problem)
    source, lines = checker.source, checker.lines
    row = source.count(b"\n", 0, min(start_byte, len(source)))
    row = min(row, len(lines) - 1)
    if name_col is not None:
        proposals = [(row, new, title, False) for new, title in name_edits(lines[row], name_col, text)]
    else:
        proposals = _syntax_proposals(language, lines, row, checker)
    out: list[Candidate] = []
    seen: set[tuple[int, str]] = set()
    for r, new, title, located in proposals[:MAX_CANDIDATES]:
        if (r, new) in seen or new == lines[r]:
            continue
        seen.add((r, new))
        if checker.verdict(r, new).ok:
            out.append(Candidate(r, new, title, located))
    return out, checker


def _syntax_proposals(language, lines, row, checker: Checker):
    """(row, new line, title, located) for every single-token insertion and small edit on
    the rows worth searching: the ones at a parser's own location first, then insertions
    nearest the diagnostic (a closer at the end of the line before one further in), then the
    other edits. Without a model to rank them (a remote engine), the first is taken."""
    located_spots, located_rows = _parser_locations(checker, row)
    near = [r for r in range(row - SCAN_ABOVE, row + LOCATED_ROWS + 6) if 0 <= r < len(lines)]
    scanned = scan_rows(language, lines, near, checker.tree)
    rows = search_rows(lines, row, located_rows, scanned)
    order = {r: i for i, r in enumerate(rows)}
    proposals = []  # (sort key, row, new line, title, located)
    inserted: set[tuple[int, int, str]] = set()
    for r in rows:
        line = lines[r]
        for col, tok in insertions(language, line, scanned[r], _next_code_token(scanned, r)):
            inserted.add((r, col, tok.strip()))
            proposals.append(_insertion(r, line, col, tok, order[r], (r, col, tok.strip()) in located_spots))
        for new, title in small_edits(language, line, lines[r - 1] if r > 0 else None):
            proposals.append(((True, 1, order[r], 0), r, new, title, False))
    for r, col, tok in located_spots - inserted:  # what tree-sitter says is missing, where it says
        if r in order:
            proposals.append(((False, 0, order[r], 0), r, lines[r][:col] + tok + lines[r][col:], f"insert '{tok}'", True))
    proposals.sort(key=lambda p: p[0])
    return [p[1:] for p in proposals]


def _parser_locations(checker: Checker, row: int) -> tuple[set[tuple[int, int, str]], list[int]]:
    """The (row, column, token) tree-sitter says is missing, and the rows it or the compiler
    pointed to: only near the diagnostic's row (further away they are not trusted)."""
    near = lambda r: abs(r - row) <= LOCATED_ROWS  # noqa: E731
    spots: set[tuple[int, int, str]] = set()
    rows = []
    source = checker.source
    for p in checker.before.tree:
        r = source.count(b"\n", 0, p.start_byte)
        if p.message.startswith("missing '") and p.start_byte == p.end_byte and near(r):
            col = len(source[checker.starts[r] : p.start_byte].decode("utf-8", "replace"))
            spots.add((r, col, p.message[len("missing '") : -1]))
            rows.append(r)
    compiler = checker.before.compiler
    if compiler is not None and near(r := source.count(b"\n", 0, compiler.start_byte)):
        rows.append(r)
    return spots, rows


def _next_code_token(scanned: dict[int, Row], row: int) -> Token | None:
    """The first token of the next code row (within five rows), where a comma at the end of
    `row` would be followed by the next element."""
    return next((scanned[n].tokens[0] for n in range(row + 1, row + 6) if n in scanned and scanned[n].tokens), None)


def _insertion(row: int, line: str, col: int, tok: str, rank: int, located: bool) -> tuple:
    """An insertion as a sortable proposal: at a parser's own location first, then by row
    (`rank`, the nearest the diagnostic first), then a closer at the end of the line before
    one further in, other tokens from the left."""
    key = (not located, 0, rank, -col if tok.strip() in ")]}" else col)
    return key, row, line[:col] + tok + line[col:], f"insert '{tok.strip()}'", located
