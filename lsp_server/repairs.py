"""Small repairs, found and checked without the model: a missing closing bracket, colon,
quote, comma or semicolon inserted where the line's tokens allow it, a stray character
removed, a misspelled keyword corrected, a line re-indented, and (for another server's
diagnostic on a name) the file's names one or two edits away.

Each candidate is kept only if the whole file is better with it (syntax_errors.judge:
tree-sitter, reparsed incrementally, then Python's own parser). The model only ranks the
candidates that pass; with one, no model is needed at all.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import dataclass

import tree_sitter

from .context.languages import new_parser
from .syntax_errors import (
    CLOSERS_BY_OPENER,
    COMPILER_ROWS,
    ByteEdit,
    Errors,
    Problem,
    Verdict,
    compile_problem,
    judge,
    line_starts,
    tree_problems,
)

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
# Words that are not operands: a comma or colon between them and a name is no repair.
_NOT_OPERANDS = {
    "python": set(keyword.kwlist) - {"True", "False", "None"},
    "javascript": {"if", "else", "for", "while", "do", "return", "function", "const", "let", "var", "new", "in", "of",
                   "instanceof", "typeof", "void", "delete", "throw", "try", "catch", "finally", "class", "extends",
                   "import", "export", "from", "as", "async", "await", "yield", "case", "default", "switch", "break",
                   "continue"},
}
_NOT_OPERANDS["typescript"] = _NOT_OPERANDS["tsx"] = _NOT_OPERANDS["javascript"] | {"interface", "type", "enum", "implements"}
_BLOCK_KEYWORDS = {"if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally", "async",
                   "match", "case"}
_SEMICOLON_LANGUAGES = {"c", "cpp", "java", "rust", "javascript", "typescript", "tsx"}
_HASH_COMMENTS = {"python", "ruby", "bash"}
_OPENERS = "([{"
_CLOSERS = ")]}"


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
        kind = m.lastgroup
        if kind == "skip":
            continue
        tok = m.group()
        if tok == "/" and regex_ok and (not out or out[-1].kind in ("punct", "open") or out[-1].text in _NOT_OPERANDS["javascript"]):
            if (literal := _REGEX.match(text, m.start())) is not None:  # `/^'|'$/g`: no quotes, no brackets
                out.append(Token("string", m.start(), literal.end(), literal.group()))
                pos = literal.end()
                continue
        if kind == "string":
            quote = next(ch for ch in tok if ch in "\"'`")
            delim = quote * 3 if language == "python" and tok[tok.index(quote) :].startswith(quote * 3) else quote
            body = tok[tok.index(quote) + len(delim) :]
            closed = body.endswith(delim) and (len(body) - len(body.rstrip("\\" + delim)) - len(delim)) % 2 == 0 \
                if len(delim) == 1 else body.endswith(delim)
            out.append(Token("string", m.start(), m.end(), tok, closed))
        elif kind == "punct":
            out.append(Token("open" if tok in _OPENERS else "close" if tok in _CLOSERS else "punct", m.start(), m.end(), tok))
        else:
            out.append(Token(kind, m.start(), m.end(), tok))
    return out


_REGEX_LITERALS = {"javascript", "typescript", "tsx"}
_REGEX = re.compile(r"/(?![/*])(?:\\.|\[(?:\\.|[^\]\\\n])*\]|[^/\\\n\[])+/[A-Za-z]*")


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


@dataclass(frozen=True)
class Candidate:
    row: int  # the one row it changes
    line: str  # that row's new text
    title: str  # what it does, for the code action's title: "insert ')'"
    located: bool = False  # at the spot a parser pointed to (tried first when nothing ranks)

    @property
    def edits(self) -> list[tuple[int, int, list[str]]]:
        return [(self.row, self.row + 1, [self.line])]


def _operand_end(language: str | None, t: Token) -> bool:
    if t.kind == "word":
        return t.text not in _NOT_OPERANDS.get(language or "", set())
    return t.kind in ("number", "string", "close")


def _operand_start(language: str | None, t: Token) -> bool:
    if t.kind == "word":
        return t.text not in _NOT_OPERANDS.get(language or "", set()) or t.text in ("lambda", "not", "await", "new",
                                                                                     "typeof", "function", "yield")
    return t.kind in ("number", "string", "open") or t.text in "-+~!*@."  # `.` starts `...spread`


def _object_key(language: str | None, tokens: tuple[Token, ...], i: int, stack: list[str]) -> bool:
    """Whether tokens[i] is a word starting a property of an object literal (`{ default otp`:
    a keyword is a key there too)."""
    return (language != "python" and bool(stack) and stack[-1] == "}" and tokens[i].kind == "word"
            and i > 0 and tokens[i - 1].text in "{,")


def insertions(language: str | None, line: str, scanned: Row, next_token: Token | None) -> list[tuple[int, str]]:
    """(column, token) insertions on `row` that could fix a single missing token: a closer
    where it matches the innermost open bracket, a comma or colon between two operands where
    the brackets allow one, a closing quote in an unterminated string, a ':' or ';' at the
    end of the code. `scanned` holds the row's tokens and the closers open at its start;
    `next_token` is the first token of the next code row."""
    tokens = scanned.tokens
    if not tokens:
        return []
    not_ops = _NOT_OPERANDS.get(language or "", set())
    out: list[tuple[int, str]] = []
    stack = list(scanned.stack)
    first_word = tokens[0].text
    for i, tok in enumerate(tokens):
        if tok.kind == "open":
            stack.append(CLOSERS_BY_OPENER[tok.text])
        elif tok.kind == "close" and stack and stack[-1] == tok.text:
            stack.pop()
        if tok.kind == "string" and not tok.closed and tok.end <= len(line):  # not a docstring running on
            quote = next(ch for ch in tok.text if ch in "\"'`")
            spots = [j for j in range(tok.start + tok.text.index(quote) + 1, tok.end + 1)
                     if j == tok.end or not (line[j - 1].isalnum() and line[j].isalnum())]
            out += [(j, quote) for j in spots[-QUOTE_SPOTS:]]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        at = tok.end
        if nxt is not None and nxt.start - at >= 2 and not line[at : nxt.start].strip():
            at += 1  # `{ a  = x`: the dropped token had a space on each side
        ends_operand = _operand_end(language, tok)
        if stack and (ends_operand or tok.kind == "open"):
            out.append((at, stack[-1]))
        key = _object_key(language, tokens, i, stack)
        if nxt is not None and (ends_operand or key) and _operand_start(language, nxt):
            # `retrun x` is no tuple `retrun, x`; `a b = f()` is `a, b = f()`
            if stack or i > 0 or any(t.text == "=" for t in tokens[2:]):
                out.append((at, ","))
            if stack and stack[-1] in "}]" and language == "python" or stack and stack[-1] == "}":
                out.append((at, ":"))
            elif language in ("javascript", "typescript", "tsx") and any(t.text == "?" for t in tokens[:i]):
                out.append((at, ":"))
        if nxt is None:  # the end of the row's code
            if language == "python" and not stack and first_word in _BLOCK_KEYWORDS and tok.text != ":":
                out.append((at, ":"))
            if language in ("javascript", "typescript", "tsx") and first_word in ("case", "default") and tok.text != ":":
                out.append((at, ":"))
            if language in _SEMICOLON_LANGUAGES and not stack and (ends_operand or tok.text in ")]") and \
                    first_word not in not_ops | {"}"}:
                out.append((at, ";"))
            if stack and ends_operand and next_token is not None and _operand_start(language, next_token):
                out.append((at, ","))  # one element per line: the comma at its end
    return list(dict.fromkeys((col, tok) for col, tok in out if col <= len(line)))  # not past a string's line


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


class Checker:
    """Applies one-row edits to a file and judges each (syntax_errors.judge): tree-sitter
    reparses incrementally from the file's tree, the compiler runs only on what passes."""

    def __init__(self, language: str | None, text: str, tree: tree_sitter.Tree | None, target: tuple[int, int],
                 own_problem: bool) -> None:
        self.language, self.own = language, own_problem
        self.lines = text.split("\n")
        self.source = text.encode("utf-8", "surrogatepass")
        self.parser = new_parser(language)
        self.tree = tree if tree is not None or self.parser is None else self.parser.parse(self.source)
        self.starts = line_starts(self.source)
        problems = tuple(tree_problems(language, self.tree, self.source))
        self.before = Errors(problems, compile_problem(language, self.source))
        self.target = target
        self.parses = 0

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
        old = self.lines[row].encode("utf-8", "surrogatepass")
        new = new_line.encode("utf-8", "surrogatepass")
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
        self.parses += 1
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
        problem = compile_problem("python", text.encode("utf-8", "surrogatepass"))
        if problem is None:
            return None
        at = first + text.encode("utf-8", "surrogatepass").count(b"\n", 0, problem.start_byte)
        if abs(at - row) > COMPILER_ROWS:
            return None  # far from the edit: maybe the block's cut, not the edit
        return Problem(self.starts[at], self.starts[at], problem.message, self.starts[at], "python")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _python_block(lines: list[str], row: int) -> tuple[int, int]:
    """Rows [first, last] of the `def` / `class` holding `row` (the nearest one indented
    less, or the row's own), else of the top-level statement holding it."""
    depth = len(_indent(lines[row])) if lines[row].strip() else 1 << 30
    first = 0
    for r in range(row, -1, -1):
        body = lines[r].lstrip()
        if not body or body.startswith("#"):
            continue
        indent = len(lines[r]) - len(body)
        if (indent < depth or r == row) and body.startswith(("def ", "class ", "async def ")) or indent == 0:
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
        if tok.kind == "open":
            stack.append(CLOSERS_BY_OPENER[tok.text])
        elif tok.kind == "close" and stack and stack[-1] == tok.text:
            stack.pop()
    for r in range(row, bottom + 1):
        out.setdefault(r, (list(stack), []))
    return {r: Row(tuple(out[r][0]), tuple(out[r][1])) for r in rows if r in out}


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
    near = lambda r: abs(r - row) <= LOCATED_ROWS  # noqa: E731
    located_spots: set[tuple[int, int, str]] = set()  # (row, column, token) a parser suggested
    located_rows = []
    source = checker.source
    for p in checker.before.tree:
        r = source.count(b"\n", 0, p.start_byte)
        if p.message.startswith("missing '") and p.start_byte == p.end_byte and near(r):
            col = len(source[checker.starts[r] : p.start_byte].decode("utf-8", "replace"))
            located_spots.add((r, col, p.message[len("missing '") : -1]))
            located_rows.append(r)
    compiler = checker.before.compiler
    if compiler is not None and near(r := source.count(b"\n", 0, compiler.start_byte)):
        located_rows.append(r)
    scanned = scan_rows(language, lines, [r for r in range(row - SCAN_ABOVE, row + LOCATED_ROWS + 6) if 0 <= r < len(lines)],
                        checker.tree)
    rows = search_rows(lines, row, located_rows, scanned)
    order = {r: i for i, r in enumerate(rows)}
    proposals = []  # (sort key, row, new line, title, located)
    for r in rows:
        nxt = next((scanned[n].tokens[0] for n in range(r + 1, r + 6) if n in scanned and scanned[n].tokens), None)
        line = lines[r]
        for col, tok in insertions(language, line, scanned[r], nxt):
            located = (r, col, tok) in located_spots
            key = (not located, 0, order[r], -col if tok in ")]}" else col)
            proposals.append((key, r, line[:col] + tok + line[col:], f"insert '{tok}'", located))
        for new, title in small_edits(language, line, lines[r - 1] if r > 0 else None):
            proposals.append(((True, 1, order[r], 0), r, new, title, False))
    for r, col, tok in located_spots:  # what tree-sitter says is missing, where it says
        if r in order:
            proposals.append(((False, 0, order[r], 0), r, lines[r][:col] + tok + lines[r][col:], f"insert '{tok}'", True))
    proposals.sort(key=lambda p: p[0])
    return [p[1:] for p in proposals]
