"""Fix suggestions: the plan for a problem (the checked small repairs, repairs.py, or else
the region a model rewrite would replace), the model's pick among the repairs, and the
rewrite: its prompt, and the checks it must pass before it is offered.

The server turns these into LSP code actions and workspace edits; the engine ranks and
generates; syntax_errors.judge decides whether a file is better after an edit.
"""

from __future__ import annotations

import difflib
import textwrap
from dataclasses import dataclass
from typing import NamedTuple

import tree_sitter

from ..context.languages import line_comment, new_parser
from ..engine.base import Engine
from .repairs import Candidate, find_repairs
from ..structs import CancelToken, Generation, GenParams, Snapshot, utf8
from .syntax import ByteEdit, Errors, Verdict, compile_problem, errors_of, judge, line_starts, tree_problems

# Containers whose children are statements or definitions: a fix rewrites one such child.
CONTAINERS = {"module", "program", "source_file", "translation_unit", "chunk", "block", "statement_block",
              "compound_statement", "declaration_list", "field_declaration_list", "class_body", "body_statement",
              "do_block", "then", "else", "interface_body", "enum_body", "switch_body", "match_block"}
MAX_REGION_LINES = 40  # beyond this a rewrite is not a fix
MIN_SIMILARITY = 0.6  # a rewrite must keep most of the code it replaces
BEFORE_LINES = 40  # code above the region shown to the model
RETRY_TEMPERATURE = 0.8  # the second try samples; the first is greedy


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


def check_fix(
    language: str | None, text: str, first: int, last: int, new_region: str, own_problem: bool,
    before: Errors | None = None, target: tuple[int, int] | None = None,
) -> Verdict:
    """A model's rewrite of rows [first, last] is offered only if it changes the code, keeps
    most of it, and leaves the whole file better (syntax_errors.judge: no new error anywhere,
    the one at `target`, bytes, gone; by default the region's first row)."""
    lines = text.split("\n")
    old_region = "\n".join(lines[first : last + 1])
    if not new_region.strip() or new_region.rstrip() == old_region.rstrip():
        return Verdict(False, "the model did not change the code")
    if difflib.SequenceMatcher(None, old_region, new_region, autojunk=False).ratio() < MIN_SIMILARITY:
        return Verdict(False, "the rewrite changes more than the error")
    source = utf8(text)
    starts = line_starts(source)
    start = starts[first]
    old_end = start + len(utf8(old_region))
    new_bytes = utf8(new_region.rstrip("\n"))
    new_source = source[:start] + new_bytes + source[old_end:]
    if before is None:
        before = errors_of(language, source)
    parser = new_parser(language)
    after = tuple(tree_problems(language, parser.parse(new_source) if parser else None, new_source))
    verdict = judge(before, after, lambda: compile_problem(language, new_source), ByteEdit(start, old_end, len(new_bytes)),
                    target or (start, start), source, own_problem)
    return verdict if verdict.ok else Verdict(False, f"the rewrite is no better: {verdict.reason}")


def line_edits(old_lines: list[str], new_lines: list[str], offset: int) -> list[tuple[int, int, list[str]]]:
    """The changed line runs only: (first row, end row exclusive, replacement lines)."""
    edits = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            edits.append((offset + i1, offset + i2, new_lines[j1:j2]))
    return edits


@dataclass(frozen=True)
class Plan:
    """What a fix for one problem can be, known before any model call: the small repairs
    that leave the file better (the model ranks them when there are several), else whether a
    model rewrite of `region` is worth trying, and a title that says which."""

    candidates: tuple[Candidate, ...]
    region: tuple[int, int]  # rows a model rewrite would replace
    rewrite: bool  # no checked repair, but a rewrite may work
    title: str
    reason: str = ""  # why neither (no action is offered)


def plan_fix(snap: Snapshot, start_byte: int, end_byte: int, message: str, own_problem: bool,
             rows: tuple[int, int] | None = None) -> Plan:
    """The deterministic part of a fix, cheap enough to run when actions are listed: the
    checked repairs (syntax repairs for sokuji's own diagnostics, close names for another
    server's), the region, and whether a rewrite is worth trying. `rows` (a selection)
    asks for a rewrite of those rows."""
    text, language = snap.text, snap.language
    source = snap.source
    lines = text.split("\n")
    start_byte, end_byte = min(start_byte, len(source)), min(max(start_byte, end_byte), len(source))
    row, col = _point(source, start_byte)
    if rows is None:
        rows = fix_region(snap.tree, start_byte, end_byte) if snap.tree is not None else (row, row)
        candidates: list[Candidate] = []
        if own_problem and snap.tree is not None:
            candidates, _ = find_repairs(language, text, snap.tree, start_byte, end_byte, True)
        elif not own_problem:
            candidates, _ = find_repairs(language, text, snap.tree, start_byte, end_byte, False, name_col=col)
        if candidates:
            return Plan(tuple(candidates), rows, False, _title(candidates))
    # a selection's rows are the client's: past the end when the text shrank since it was listed
    first = min(max(rows[0], 0), len(lines) - 1)
    last = min(max(rows[1], first), len(lines) - 1)
    if last - first + 1 > MAX_REGION_LINES:
        return Plan((), (first, last), False, "", f"the code around it is over {MAX_REGION_LINES} lines")
    return Plan((), (first, last), True, f"Fix with sokuji (model rewrite): {message}")


def _title(candidates: list[Candidate]) -> str:
    what = " or ".join(dict.fromkeys(c.title for c in candidates[:3]))
    where = ", ".join(str(r + 1) for r in sorted({c.row for c in candidates})[:3])
    if len(candidates) == 1:
        return f"Fix with sokuji: {what} (line {where})"
    return f"Fix with sokuji: {what} (line {where}; the model picks among {len(candidates)} checked repairs)"


@dataclass(frozen=True)
class Fix:
    edits: list[tuple[int, int, list[str]]]  # (first row, end row exclusive, new lines); [] = none
    reason: str  # why there is no fix ("" when there is one)
    generations: tuple[Generation, ...]
    region: tuple[int, int]  # the rows rewritten
    method: str = ""  # "repair" (one checked repair) | "ranked" (the model's pick among several) | "rewrite"


def _point(source: bytes, byte: int) -> tuple[int, int]:
    """(row, column in characters) of a byte offset."""
    line_start = source.rfind(b"\n", 0, byte) + 1
    return source.count(b"\n", 0, byte), len(source[line_start:byte].decode("utf-8", "replace"))


def repair(plan: Plan) -> Fix:
    """The plan's one checked repair, as a fix (no model needed to choose)."""
    (only,) = plan.candidates
    return Fix(only.edits, "", (), (only.row, only.row), "repair")


def rank(model: Engine, lines: list[str], candidates: list[Candidate], cancel: CancelToken, key: str) -> Candidate:
    """The candidate the model finds likeliest: each scored as the rows the candidates change
    (the lines after them are the same text in each, and only add noise), following the
    code above. A remote engine gives no scores: the first (the likeliest kind, at the spot a
    parser pointed to)."""
    if len(candidates) == 1:
        return candidates[0]
    first, last = min(c.row for c in candidates), max(c.row for c in candidates)
    before = "\n".join(lines[max(0, first - BEFORE_LINES) : first]) + "\n"

    def window(c: Candidate) -> str:
        return "".join((c.line if r == c.row else lines[r]) + "\n" for r in range(first, last + 1))

    scores = model.score(before, [window(c) for c in candidates], cancel, key=key)
    return candidates[max(range(len(candidates)), key=scores.__getitem__)] if scores else candidates[0]


class Target(NamedTuple):
    """One problem to fix: where it is in a snapshot, what it is, and its plan."""

    snap: Snapshot
    plan: Plan
    start_byte: int
    message: str
    own_problem: bool  # one of sokuji's own diagnostics (else another server's)


def propose_fix(model: Engine, target: Target, params: GenParams, cancel: CancelToken, lookup: bool = True) -> Fix:
    """The fix the target's plan allows: the model's pick among the checked repairs, or else
    its rewrite of the region, offered only if check_fix passes: greedy first, then one sample.

    For a rewrite the model is handed the region up to the problem (that part is right by
    definition) and continues from there; lines it does not rewrite stay as they were."""
    snap, plan, start_byte, message, own_problem = target
    text, language = snap.text, snap.language
    lines = text.split("\n")
    key = f"fix:{snap.uri}"
    if plan.candidates:
        best = rank(model, lines, list(plan.candidates), cancel, key)
        return Fix(best.edits, "", (), (best.row, best.row), "repair" if len(plan.candidates) == 1 else "ranked")
    if not plan.rewrite:
        return Fix([], plan.reason, (), plan.region, "rewrite")
    source = snap.source
    row, col = _point(source, min(start_byte, len(source)))
    first, last = plan.region
    row = min(max(row, first), last)
    region_lines = lines[first : last + 1]
    region = "\n".join(region_lines)
    dedented = textwrap.dedent(region)  # the model sees (and writes) the region dedented
    dedented_lines = dedented.split("\n")
    indent = min((len(ln) - len(ln.lstrip(" \t")) for ln in region_lines if ln.strip()), default=0)
    prefill = "\n".join(dedented_lines[: row - first] + [dedented_lines[row - first][: max(0, col - indent)]])
    before = "\n".join(lines[max(0, first - BEFORE_LINES) : first])
    prompt = fix_prompt(language, message, region, before) + prefill
    errors_before = errors_of(language, source, snap.tree)
    line_start = line_starts(source)[row]
    target = (line_start, line_start)  # the problem's row: its errors must be gone
    stop = fix_stop(language, len(region_lines) - (row - first))
    # a fix is about as long as what it replaces: a model that rambles is cut short
    budget = min(params.max_tokens, model.count_tokens(dedented[len(prefill) :]) * 3 // 2 + 16)
    generations: list[Generation] = []
    reason = "the model wrote nothing"
    for temperature in (0.0, RETRY_TEMPERATURE):
        cancel.check()
        gen = model.rewrite(
            prompt, dedented[len(prefill) :], GenParams(budget, params.time_budget_ms, temperature),
            cancel, stop, key=key, lookup=lookup,
        )
        generations.append(gen)
        written = (prefill + gen.text).rstrip().split("\n")
        if len(written) < len(dedented_lines):  # the model stopped early: the rest stays
            written += dedented_lines[len(written) :]
        new_lines = reindent(region, "\n".join(written)).split("\n")
        verdict = check_fix(language, text, first, last, "\n".join(new_lines), own_problem, errors_before, target)
        if verdict.ok:
            return Fix(line_edits(region_lines, new_lines, first), "", tuple(generations), (first, last), "rewrite")
        reason = verdict.reason
    return Fix([], reason, tuple(generations), (first, last), "rewrite")
