"""Fix suggestions through the real server: inject syntax errors into real source files,
ask for sokuji's code action, apply it, and classify the result.

    python benchmarks/fixes.py [--cases 20] [--js DIR]

Errors injected (one per case, on a line inside a function body of a real file nobody here
wrote; Python from the standard library, JavaScript from --js, e.g. express 4's lib/):
a deleted ')' / ']' / '}' / ':', a dropped quote, a misspelled keyword, a broken indentation.
Outcomes: fixed (no syntax error left and the file token-equal to the original),
parses-but-different, no fix offered, wrong fix offered (an edit that leaves a syntax
error: validation must keep this at 0). Each case runs with prompt lookup on and off
(`fixPromptLookup`), same server build and model, to measure its speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsprotocol import types  # noqa: E402

from lsp_server.context.languages import language_for, new_parser  # noqa: E402
from lsp_server.fixes import error_count  # noqa: E402
from tests.e2e import capabilities, open_doc, session  # noqa: E402

KEYWORDS = {"python": ["return", "import", "for", "while", "if", "def", "class"],
            "javascript": ["return", "function", "var", "const", "if", "for", "while"]}


@dataclass
class Case:
    path: Path
    language: str
    kind: str
    original: str
    broken: str
    row: int


def leaves(language: str, text: str) -> list[tuple[str, str]]:
    tree = new_parser(language).parse(text.encode())
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.child_count == 0:
            out.append((node.type, node.text.decode("utf-8", "replace")))
        stack.extend(reversed(node.children))
    return out


def mutate(kind: str, line: str, language: str, rng: random.Random) -> str | None:
    body = line.rstrip()
    if kind in (")", "]", "}", ":"):
        spots = [m.start() for m in re.finditer(re.escape(kind), body)]
        if kind == ":" and language == "python":
            spots = [i for i in spots if i == len(body) - 1]  # the block opener's colon
        if not spots:
            return None
        i = rng.choice(spots)
        return body[:i] + body[i + 1 :]
    if kind == "quote":
        spots = [m.start() for m in re.finditer(r"['\"]", body)]
        if len(spots) < 2:
            return None
        i = spots[-1]
        return body[:i] + body[i + 1 :]
    if kind == "keyword":
        for kw in KEYWORDS[language]:
            m = re.search(rf"\b{kw}\b", body)
            if m:
                typo = kw[:1] + kw[2] + kw[1] + kw[3:] if len(kw) > 3 else kw + kw[-1]
                return body[: m.start()] + typo + body[m.end() :]
        return None
    if kind == "indent":
        if not body.startswith("    ") or body.strip().startswith(("else", "elif", "except", "finally", "}")):
            return None
        return body[2:]
    return None


def make_cases(files: list[Path], kinds: list[str], per_kind: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    pool = [(f, language_for(None, f.name)) for f in files]
    for kind in kinds:
        found = 0
        for _ in range(4000):
            if found >= per_kind:
                break
            path, language = rng.choice(pool)
            if kind == "}" and language == "python" or kind == ":" and language != "python":
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if error_count(language, text.encode())[0]:
                continue
            lines = text.split("\n")
            row = rng.randrange(len(lines))
            if not lines[row].startswith((" ", "\t")) or lines[row].strip().startswith(("#", "//", "*")):
                continue  # inside a body, not a comment
            new = mutate(kind, lines[row], language, rng)
            if new is None:
                continue
            broken = "\n".join(lines[:row] + [new] + lines[row + 1 :])
            if not error_count(language, broken.encode())[0]:
                continue  # still valid code: not a syntax error
            cases.append(Case(path, language, kind, text, broken, row))
            found += 1
    return cases


def apply(text: str, edit: types.WorkspaceEdit) -> str:
    (change,) = edit.document_changes
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for e in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        # positions are utf-16; the files used are ASCII in the edited lines
        a = starts[e.range.start.line] + e.range.start.character
        b = starts[e.range.end.line] + e.range.end.character
        text = text[:a] + e.new_text + text[b:]
    return text


async def run_config(cases: list[Case], lookup: bool) -> list[dict]:
    caps = capabilities(inline=True)
    caps.text_document.publish_diagnostics.version_support = True
    results = []
    async with session(caps, {"fixPromptLookup": lookup, "fixTimeBudgetMs": 20_000}) as client:
        for i, case in enumerate(cases):
            uri = f"file:///bench/{i}/{case.path.name}"
            open_doc(client, uri, case.broken, case.language)
            diags = []
            for _ in range(200):
                if client.diagnostics.get(uri):
                    diags = list(client.diagnostics[uri])
                    break
                await asyncio.sleep(0.02)
            outcome, seconds, method = "no fix offered", 0.0, ""
            if diags:
                # the first error near the change (later ones are often its echo), as a user picks
                near = [d for d in diags if abs(d.range.start.line - case.row) <= 10]
                diag = min(near, key=lambda d: d.range.start.line) if near else min(diags, key=lambda d: abs(d.range.start.line - case.row))
                (action,) = await client.text_document_code_action_async(types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), range=diag.range,
                    context=types.CodeActionContext(diagnostics=[diag])))
                t0 = time.perf_counter()
                logs_before = len(client.log_messages)
                resolved = await client.code_action_resolve_async(action)
                seconds = time.perf_counter() - t0
                fix_logs = [m.message for m in client.log_messages[logs_before:] if "sokuji: fix " in m.message]
                method = next((m.split("offered (", 1)[1].split(")", 1)[0] for m in fix_logs if "offered (" in m),
                              "refused" if fix_logs else "")
                if resolved.edit is not None:
                    fixed = apply(case.broken, resolved.edit)
                    errors = error_count(case.language, fixed.encode())[0]
                    if errors:
                        outcome = "wrong fix offered"
                    elif leaves(case.language, fixed) == leaves(case.language, case.original):
                        outcome = "fixed"
                    else:
                        outcome = "parses, different"
            client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
            results.append({"kind": case.kind, "language": case.language, "outcome": outcome, "seconds": seconds, "method": method})
    return results


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    stdlib = Path(json.__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", nargs="*", default=[str(stdlib / p) for p in ("json", "email", "asyncio", "http")])
    parser.add_argument("--js", nargs="*", default=[])
    parser.add_argument("--cases", type=int, default=12, help="cases per error kind and language")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    py_files = [f for d in args.python for f in sorted(Path(d).rglob("*.py"))]
    js_files = [f for d in args.js for f in sorted(Path(d).rglob("*.js"))]
    cases = make_cases(py_files, [")", "]", ":", "quote", "keyword", "indent"], args.cases, args.seed)
    if js_files:
        cases += make_cases(js_files, [")", "]", "}", "quote", "keyword"], args.cases, args.seed)
    print(f"{len(cases)} cases; embedded model; fixTimeBudgetMs 20000\n")
    runs = {lookup: asyncio.run(run_config(cases, lookup)) for lookup in (True, False)}
    outcomes = ["fixed", "parses, different", "no fix offered", "wrong fix offered"]
    print("| language | error | cases | " + " | ".join(outcomes) + " |")
    print("|---|---|---|" + "---|" * len(outcomes))
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs[True]:
        groups.setdefault((r["language"], r["kind"]), []).append(r)
    for (language, kind), rs in groups.items():
        counts = [sum(r["outcome"] == o for r in rs) for o in outcomes]
        print(f"| {language} | {kind} | {len(rs)} | " + " | ".join(map(str, counts)) + " |")
    total = [sum(r["outcome"] == o for r in runs[True]) for o in outcomes]
    print(f"| all | all | {len(runs[True])} | " + " | ".join(map(str, total)) + " |\n")
    print("| prompt lookup | method | requests | p50 s | p95 s |")
    print("|---|---|---|---|---|")
    for lookup, rs in runs.items():
        for method in ("repair", "rewrite", "refused"):
            lat = [r["seconds"] for r in rs if r["method"] == method]
            name = method if method != "refused" else "refused (after two rewrites)"
            if lat:
                print(f"| {'on' if lookup else 'off'} | {name} | {len(lat)} | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} |")
    # the model writes (and lookup can draft) whenever no small repair parsed
    rewrites_on = [r["seconds"] for r in runs[True] if r["method"] in ("rewrite", "refused")]
    rewrites_off = [r["seconds"] for r in runs[False] if r["method"] in ("rewrite", "refused")]
    if rewrites_on and rewrites_off:
        print(f"\nmodel-rewrite resolves, p50 with lookup / without: {statistics.median(rewrites_on) / statistics.median(rewrites_off):.2f}x"
              f" (p95 {pct(rewrites_on, 0.95) / pct(rewrites_off, 0.95):.2f}x)")
    all_on = [r["seconds"] for r in runs[True] if r["seconds"]]
    all_off = [r["seconds"] for r in runs[False] if r["seconds"]]
    print(f"all resolves p50 with lookup / without: {statistics.median(all_on) / statistics.median(all_off):.2f}x")


if __name__ == "__main__":
    main()
