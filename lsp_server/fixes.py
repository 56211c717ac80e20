"""Fix suggestions: syntax problems from the tree, the region a fix rewrites, the prompt that
asks the model to rewrite it, and the checks a rewrite must pass before it is offered.

Pure functions on text and trees; the server turns them into LSP diagnostics, code actions
and workspace edits, the engine does the generating.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from dataclasses import dataclass

import tree_sitter

from .context.languages import line_comment, new_parser
from .documents import Snapshot
from .engine.model import Model
from .engine.remote import RemoteEngine
from .structs import CancelToken, Generation, GenParams

# Containers whose children are statements or definitions: a fix rewrites one such child.
CONTAINERS = {"module", "program", "source_file", "translation_unit", "chunk", "block", "statement_block",
              "compound_statement", "declaration_list", "field_declaration_list", "class_body", "body_statement",
              "do_block", "then", "else", "interface_body", "enum_body", "switch_body", "match_block"}
MAX_REGION_LINES = 40  # beyond this a rewrite is not a fix
MIN_SIMILARITY = 0.6  # a rewrite must keep most of the code it replaces
NEAR_ROWS = 10  # after a fix of a syntax error, no error may be left this close to the region
MESSAGE_TEXT = 24  # characters of the offending text quoted in a message
BEFORE_LINES = 40  # code above the region shown to the model
RETRY_TEMPERATURE = 0.8  # the second try samples; the first is greedy


@dataclass(frozen=True)
class Problem:
    start_byte: int
    end_byte: int  # what a squiggle covers: the problem's first line
    message: str
    node_end_byte: int = -1  # the whole ERROR node (a fix must leave none near it)


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
            whole = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
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


def error_count(language: str | None, source: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Errors of a whole fresh parse, and the rows [first, last] each spans."""
    parser = new_parser(language)
    if parser is None:
        return 0, []
    problems = syntax_problems(parser.parse(source), source, limit=10_000)
    rows = [(source.count(b"\n", 0, p.start_byte), source.count(b"\n", 0, max(p.end_byte, p.node_end_byte))) for p in problems]
    return len(problems), rows


KEYWORDS = {
    "python": ["return", "import", "from", "def", "class", "while", "for", "if", "elif", "else", "with", "try",
               "except", "finally", "lambda", "yield", "raise", "pass", "break", "continue", "async", "await", "not", "in"],
    "javascript": ["return", "function", "const", "let", "var", "if", "else", "for", "while", "class", "import",
                   "export", "from", "new", "throw", "try", "catch", "finally", "async", "await", "typeof"],
}
KEYWORDS["typescript"] = KEYWORDS["tsx"] = KEYWORDS["javascript"] + ["interface", "type", "enum"]
CLOSERS_BY_OPENER = {"(": ")", "[": "]", "{": "}"}


def _one_edit_apart(a: str, b: str) -> bool:
    """One character inserted, deleted, replaced, or two adjacent swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def repair_candidates(language: str | None, lines: list[str], first: int, last: int, rows: tuple[int, int]) -> list[list[str]]:
    """Small edits of rows [first, last] that a syntax error usually calls for: a closer or
    ':' / ';' added at the end of a line, a quote closed, a stray character removed, a
    misspelled keyword corrected, a line re-indented. Each is checked by parsing; the model
    then picks among those that parse (Model.score)."""
    region = lines[first : last + 1]
    out: list[list[str]] = []

    def variant(i: int, new: str) -> None:
        cand = region[:i] + [new] + region[i + 1 :]
        if cand != region and cand not in out:
            out.append(cand)

    enders = [":"] if language == "python" else [";"]
    keywords = KEYWORDS.get(language or "", [])
    for i, line in enumerate(region):
        body = line.rstrip()
        if not body.strip() or not rows[0] - 1 <= first + i <= rows[1] + 1:
            continue  # only the lines at and next to the error
        for closer in [*CLOSERS_BY_OPENER.values(), *enders]:
            variant(i, body + closer)
        for quote in ('"', "'", "`"):
            if body.count(quote) % 2:
                variant(i, body + quote)
                at = body.rfind(")")
                if at > body.rfind(quote):
                    variant(i, body[:at] + quote + body[at:])
        for j, ch in enumerate(body):
            if ch in ")]}:;,":
                variant(i, body[:j] + body[j + 1 :])
        for word in {w for w in re.findall(r"[A-Za-z_]\w*", body)}:
            for kw in keywords:
                if _one_edit_apart(word, kw):
                    variant(i, re.sub(rf"\b{word}\b", kw, body, count=1))
        if i > 0:
            indent = body[: len(body) - len(body.lstrip())]
            prev = region[i - 1]
            prev_indent = prev[: len(prev) - len(prev.lstrip())]
            for new_indent in {prev_indent, prev_indent + "    ", prev_indent[:-4]}:
                if new_indent != indent:
                    variant(i, new_indent + body.lstrip())
    return out


def name_candidates(lines: list[str], first: int, last: int, row: int, col: int, text: str) -> list[list[str]]:
    """The name at the diagnostic replaced by the file's names one or two edits away from it."""
    line = lines[row]
    match = next((m for m in re.finditer(r"[A-Za-z_]\w*", line) if m.start() <= col <= m.end()), None)
    if match is None:
        return []
    word = match.group()
    names = {n for n in re.findall(r"[A-Za-z_]\w*", text) if n != word and abs(len(n) - len(word)) <= 2}
    close = sorted(n for n in names if _edit_distance(n, word) <= 2)[:20]
    region = lines[first : last + 1]
    out = []
    for name in close:
        new = line[: match.start()] + name + line[match.end() :]
        out.append(region[: row - first] + [new] + region[row - first + 1 :])
    return out


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def fix_region(tree: tree_sitter.Tree, start_byte: int, end_byte: int) -> tuple[int, int]:
    """Rows [first, last] of the smallest statement / definition / block holding the range."""
    root = tree.root_node
    node = root.descendant_for_byte_range(start_byte, max(start_byte, end_byte)) or root
    while node.parent is not None and node.parent.type not in CONTAINERS and not node.is_error:
        node = node.parent
    if node.parent is None and node.children:  # the whole file: narrow to the child holding the range
        node = next((c for c in node.children if c.start_byte <= start_byte <= c.end_byte), node)
    first, last = node.start_point.row, node.end_point.row
    if node.end_point.column == 0 and last > first:
        last -= 1  # ends at the start of the next line
    return first, min(last, first + MAX_REGION_LINES - 1)


# Worked examples, so a base model sees the task: a snippet, then the same code fixed.
_EXAMPLES = {
    "python": [("missing ')'", "total = sum(values", "total = sum(values)")],
    "brace": [("missing ')'", "total = sum(values;", "total = sum(values);")],
}


def fix_prompt(language: str | None, message: str, region: str, before: str) -> str:
    """A base model's prompt: the code before the region, worked examples of a snippet and
    its fixed copy, then this region (dedented); the model writes the fixed copy, mostly by
    copying (where prompt lookup pays)."""
    c = line_comment(language)
    examples = _EXAMPLES["python" if language == "python" else "brace"]
    parts = [before.rstrip("\n"), "", f"{c} Each snippet below is followed by the same code with its error fixed.", ""]
    for msg, broken, fixed in [*examples, (message, textwrap.dedent(region), None)]:
        parts += [f"{c} Snippet (error: {msg}):", broken.rstrip("\n"), f"{c} Fixed:"]
        parts += [fixed, ""] if fixed is not None else [""]
    return "\n".join(parts)


def reindent(region: str, fixed: str) -> str:
    """The model wrote the dedented copy: give it the region's indentation back."""
    lines = [ln for ln in region.split("\n") if ln.strip()]
    indent = min((ln[: len(ln) - len(ln.lstrip(" \t"))] for ln in lines), key=len, default="")
    return "\n".join(indent + ln if ln.strip() else ln for ln in fixed.split("\n"))


def fix_stop(language: str | None, region_lines: int):
    """Where the fixed copy ends: the next comment marker, or a few lines past the original."""
    marker = f"\n{line_comment(language)} "

    def stop(text: str) -> int | None:
        cut = text.find(marker)
        if cut >= 0:
            return cut
        if text.startswith(marker[1:]):
            return 0
        lines = text.split("\n")
        if len(lines) > region_lines + 3:
            return len("\n".join(lines[: region_lines + 3]))
        if len(lines) > region_lines and text.endswith("\n\n"):
            return len(text.rstrip("\n"))  # a blank line after enough lines: the copy is done
        return None

    return stop


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def check_fix(
    language: str | None, text: str, first: int, last: int, new_region: str, own_problem: bool, before: int | None = None
) -> Verdict:
    """A rewrite of rows [first, last] is offered only if the file then parses with no error in
    the rewritten rows, has fewer errors than before when the problem was a syntax error (no
    more otherwise) and none left within NEAR_ROWS of it, and keeps most of the code it
    replaces."""
    lines = text.split("\n")
    old_region = "\n".join(lines[first : last + 1])
    if not new_region.strip() or new_region.rstrip() == old_region.rstrip():
        return Verdict(False, "the model did not change the code")
    if difflib.SequenceMatcher(None, old_region, new_region, autojunk=False).ratio() < MIN_SIMILARITY:
        return Verdict(False, "the rewrite changes more than the error")
    new_text = "\n".join(lines[:first] + new_region.rstrip("\n").split("\n") + lines[last + 1 :])
    if before is None:
        before, _ = error_count(language, text.encode("utf-8", "surrogatepass"))
    after, rows = error_count(language, new_text.encode("utf-8", "surrogatepass"))
    new_last = first + new_region.rstrip("\n").count("\n")
    if any(a <= new_last and b >= first for a, b in rows):
        return Verdict(False, "the rewrite does not parse")
    if after > before or (own_problem and after >= before):
        return Verdict(False, "the rewrite leaves the syntax error")
    if own_problem and any(a <= new_last + NEAR_ROWS and b >= first - NEAR_ROWS for a, b in rows):
        return Verdict(False, "errors remain around the fix")
    return Verdict(True)


def line_edits(old_lines: list[str], new_lines: list[str], offset: int) -> list[tuple[int, int, list[str]]]:
    """The changed line runs only: (first row, end row exclusive, replacement lines)."""
    edits = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            edits.append((offset + i1, offset + i2, new_lines[j1:j2]))
    return edits


@dataclass(frozen=True)
class Fix:
    edits: list[tuple[int, int, list[str]]]  # (first row, end row exclusive, new lines); [] = none
    reason: str  # why there is no fix ("" when there is one)
    generations: tuple[Generation, ...]
    region: tuple[int, int]  # the rows rewritten
    method: str = ""  # "repair" (a small edit the model chose) | "rewrite" (the model's own text)


def _point(source: bytes, byte: int) -> tuple[int, int]:
    """(row, column in characters) of a byte offset."""
    line_start = source.rfind(b"\n", 0, byte) + 1
    return source.count(b"\n", 0, byte), len(source[line_start:byte].decode("utf-8", "replace"))


def propose_fix(
    model: Model | RemoteEngine,
    snap: Snapshot,
    start_byte: int,
    end_byte: int,
    message: str,
    own_problem: bool,
    params: GenParams,
    cancel: CancelToken,
    lookup: bool = True,
    rows: tuple[int, int] | None = None,
) -> Fix:
    """A fix for the smallest statement / block around the problem, returned only if
    check_fix passes. For a syntax error, first the small repairs that parse, the one the
    model finds likeliest; else (and for other servers' diagnostics) the model rewrites the
    region: greedy first, then one sample. `rows` overrides the region (a selection).

    For a rewrite the model is handed the region up to the problem (that part is right by
    definition) and continues from there; lines it does not rewrite stay as they were."""
    text, language = snap.text, snap.language
    source = text.encode("utf-8", "surrogatepass")
    lines = text.split("\n")
    row, col = _point(source, min(start_byte, len(source)))
    if rows is None:
        rows = fix_region(snap.tree, start_byte, end_byte) if snap.tree is not None else (row, row)
    first, last = rows
    # a selection's rows are the client's: past the end when the text shrank since it was listed
    first = min(max(first, 0), len(lines) - 1)
    last = min(max(last, first), len(lines) - 1)
    row = min(max(row, first), last)
    region_lines = lines[first : last + 1]
    region = "\n".join(region_lines)
    dedented = textwrap.dedent(region)  # the model sees (and writes) the region dedented
    dedented_lines = dedented.split("\n")
    indent = min((len(ln) - len(ln.lstrip(" \t")) for ln in region_lines if ln.strip()), default=0)
    prefill = "\n".join(dedented_lines[: row - first] + [dedented_lines[row - first][: max(0, col - indent)]])
    before = "\n".join(lines[max(0, first - BEFORE_LINES) : first])
    prompt = fix_prompt(language, message, region, before) + prefill
    errors_before, _ = error_count(language, source)
    if own_problem and snap.tree is not None:
        # A syntax error usually wants a small edit: those that parse, the likeliest per the model;
        # another server's diagnostic on a name (undefined, misspelled): the file's close names.
        end_row = _point(source, min(end_byte, len(source)))[0]
        repairs = [
            c for c in repair_candidates(language, lines, first, last, (row, end_row))
            if check_fix(language, text, first, last, "\n".join(c), True, errors_before).ok
        ]
    else:
        repairs = [
            c for c in name_candidates(lines, first, last, row, col, text)
            if check_fix(language, text, first, last, "\n".join(c), False, errors_before).ok
        ]
    if repairs:  # the model picks: the likeliest text, with the two lines after it
        after = "\n".join(lines[last + 1 : last + 3])
        scores = model.score(before + "\n", ["\n".join(c) + "\n" + after for c in repairs], cancel, key=f"fix:{snap.uri}")
        # a remote engine gives no scores: the first repair that parses (they come likeliest kind first)
        best = repairs[max(range(len(repairs)), key=scores.__getitem__)] if scores else repairs[0]
        return Fix(line_edits(region_lines, best, first), "", (), (first, last), "repair")
    stop = fix_stop(language, len(region_lines) - (row - first))
    # a fix is about as long as what it replaces: a model that rambles is cut short
    budget = min(params.max_tokens, model.count_tokens(dedented[len(prefill) :]) * 3 // 2 + 16)
    generations: list[Generation] = []
    reason = "the model wrote nothing"
    for temperature in (0.0, RETRY_TEMPERATURE):
        cancel.check()
        gen = model.rewrite(
            prompt, dedented[len(prefill) :], GenParams(budget, params.time_budget_ms, temperature),
            cancel, stop, key=f"fix:{snap.uri}", lookup=lookup,
        )
        generations.append(gen)
        written = (prefill + gen.text).rstrip().split("\n")
        if len(written) < len(dedented_lines):  # the model stopped early: the rest stays
            written += dedented_lines[len(written) :]
        new_lines = reindent(region, "\n".join(written)).split("\n")
        verdict = check_fix(language, text, first, last, "\n".join(new_lines), own_problem, errors_before)
        if verdict.ok:
            return Fix(line_edits(region_lines, new_lines, first), "", tuple(generations), (first, last), "rewrite")
        reason = verdict.reason
    return Fix([], reason, tuple(generations), (first, last), "rewrite")
