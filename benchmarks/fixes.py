"""Fix suggestions through the real server: inject one syntax error at a time into real
source files nobody here wrote, ask sokuji for its diagnostics and code action as an editor
does, apply the fix, and score the result with the language's own parser.

    python benchmarks/fixes.py [--cases 12] [--seed 0] [--python DIR ...] [--js DIR ...]
    python benchmarks/fixes.py --rewrites [--cases 12]   # the model-rewrite suite

Single-token suite (the default): on a line inside a function body, drop the line's last
closing bracket (whose opener is on the same line), a block's ':' (Python) or an object
key's ':' (JavaScript), a string's closing quote, or a comma between two elements. Python
comes from the standard library, JavaScript from npm's own lib/ (on every machine with
node). A case is kept only if the language's own parser rejects the broken file (Python's
compile, `node --check`). Per case:

- diagnosed: sokuji published a diagnostic on the broken line or the line after it;
- offered: a "Fix with sokuji" action was listed for the diagnostic a user would pick (on
  those lines, else the nearest) and resolved to an edit;
- parses: the fixed file passes the language's own parser;
- exact: the fixed file is the original, character for character.

Every offered fix that does not parse is listed. `--rewrites` runs the errors small repairs
rarely fix (misspelled keywords, broken indentation, a dropped bracket anywhere on a line),
where the model writes the fix, with prompt lookup on and off (`fixPromptLookup`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsprotocol import types  # noqa: E402

from lsp_server.context.languages import language_for, new_parser  # noqa: E402
from lsp_server.fixes.syntax import compile_problem  # noqa: E402
from tests.helpers.e2e import capabilities, open_doc, session  # noqa: E402

SINGLE_TOKEN = ["closer", "colon", "quote", "comma"]
REWRITE_KINDS = ["bracket", "keyword", "indent"]
KEYWORDS = {"python": ["return", "import", "for", "while", "if", "def", "class"],
            "javascript": ["return", "function", "const", "if", "for", "while"]}
PY_BLOCKS = {"if_statement", "elif_clause", "else_clause", "for_statement", "while_statement", "function_definition",
             "class_definition", "with_statement", "try_statement", "except_clause", "finally_clause"}


@dataclass
class Case:
    path: Path
    language: str
    kind: str
    original: str
    broken: str
    row: int


def parses(language: str, text: str) -> bool:
    """The language's own parser: Python's compile, `node --check` for JavaScript."""
    if language == "python":
        return compile_problem("python", text.encode("utf-8", "surrogatepass")) is None
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(text)
    try:
        return subprocess.run(["node", "--check", f.name], capture_output=True).returncode == 0
    finally:
        Path(f.name).unlink()


def leaves_on_row(tree, row: int) -> list:
    """The row's leaf nodes, in order."""
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.start_point.row > row or node.end_point.row < row:
            continue
        if node.child_count == 0:
            if node.start_point.row == row:
                out.append(node)
        else:
            stack.extend(reversed(node.children))
    return out


def spots(kind: str, language: str, tree, row: int) -> list:
    """The leaves on `row` that `kind` may drop."""
    leaves = leaves_on_row(tree, row)
    if kind == "closer":  # the last closer of the line, its opener on the same line
        closers = [n for n in leaves if n.type in (")", "]", "}") and n.parent is not None and
                   n.parent.children[0].start_point.row == row and n.parent.children[0].type in ("(", "[", "{")]
        return closers[-1:] if closers and closers[-1] == [n for n in leaves if n.type in (")", "]", "}")][-1] else []
    if kind == "colon":
        return [n for n in leaves if n.type == ":" and n.parent is not None and
                (n.parent.type in PY_BLOCKS if language == "python" else n.parent.type == "pair")]
    if kind == "quote":  # a single-line string's closing quote
        if language == "python":
            ends = [n for n in leaves if n.type == "string_end" and n.text in (b'"', b"'")]
        else:
            ends = [n for n in leaves if n.type in ('"', "'") and n.parent is not None and n.parent.type == "string"
                    and n.parent.children[-1] == n and n.parent.start_point.row == row]
        return ends[-1:]
    if kind == "comma":  # between two elements, not a trailing one
        return [n for n in leaves if n.type == "," and n.next_sibling is not None and
                n.next_sibling.type not in (")", "]", "}")]
    return []


def rewrite_mutation(kind: str, line: str, language: str, rng: random.Random) -> str | None:
    body = line.rstrip()
    if kind == "bracket":  # any closing bracket, not only the line's last
        at = [m.start() for m in re.finditer(r"[)\]}]", body)][:-1]
        if not at:
            return None
        i = rng.choice(at)
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
    texts: dict[Path, str | None] = {}
    for kind in kinds:
        found = 0
        for _ in range(6000):
            if found >= per_kind:
                break
            path = rng.choice(files)
            language = language_for(None, path.name)
            if path not in texts:
                text = path.read_text(encoding="utf-8", errors="replace")
                tree = new_parser(language).parse(text.encode())
                texts[path] = text if not tree.root_node.has_error and text.isascii() and parses(language, text) else None
            text = texts[path]
            if text is None:
                continue
            lines = text.split("\n")
            row = rng.randrange(len(lines))
            if not lines[row].startswith((" ", "\t")) or lines[row].strip().startswith(("#", "//", "*")):
                continue  # inside a body, not a comment
            if any(c.path == path and c.row == row for c in cases):
                continue
            if kind in SINGLE_TOKEN:
                tree = new_parser(language).parse(text.encode())
                found_spots = spots(kind, language, tree, row)
                if not found_spots:
                    continue
                node = rng.choice(found_spots)
                col = node.start_point.column
                new = lines[row][:col] + lines[row][col + len(node.text) :]
            else:
                new = rewrite_mutation(kind, lines[row], language, rng)
                if new is None:
                    continue
            broken = "\n".join(lines[:row] + [new] + lines[row + 1 :])
            if parses(language, broken):
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
        # positions are utf-16; the files used are ASCII
        a = starts[e.range.start.line] + e.range.start.character
        b = starts[e.range.end.line] + e.range.end.character
        text = text[:a] + e.new_text + text[b:]
    return text


async def published(client, uri: str, log: list) -> list[types.Diagnostic]:
    for _ in range(1500):
        for p in log:
            if p.uri == uri:
                return list(p.diagnostics)
        await asyncio.sleep(0.02)
    return []


async def run_config(cases: list[Case], lookup: bool = True) -> list[dict]:
    caps = capabilities(inline=True)
    caps.text_document.publish_diagnostics.version_support = True
    log: list[types.PublishDiagnosticsParams] = []
    results = []
    async with session(caps, {"fixPromptLookup": lookup, "fixTimeBudgetMs": 20_000}) as client:
        features = client.protocol.fm.features
        original = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]
        features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = lambda *a: (log.append(a[-1]), original(*a))[1]
        for i, case in enumerate(cases):
            uri = f"file:///bench/{i}/{case.path.name}"
            open_doc(client, uri, case.broken, case.language)
            diags = await published(client, uri, log)
            near = [d for d in diags if case.row <= d.range.start.line <= case.row + 1
                    or d.range.start.line <= case.row <= d.range.end.line]
            result = {"case": case, "diagnosed": bool(near), "offered": False, "parses": False, "exact": False,
                      "seconds": 0.0, "title": "", "fixed": None}
            if diags:  # the diagnostic a user picks: on the line, else the nearest
                diag = (near or sorted(diags, key=lambda d: abs(d.range.start.line - case.row)))[0]
                actions = await client.text_document_code_action_async(types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), range=diag.range,
                    context=types.CodeActionContext(diagnostics=[diag])))
                actions = [a for a in actions or [] if isinstance(a, types.CodeAction) and a.title.startswith("Fix with sokuji")]
                if actions:
                    result["title"] = actions[0].title
                    t0 = time.perf_counter()
                    resolved = await client.code_action_resolve_async(actions[0])
                    result["seconds"] = time.perf_counter() - t0
                    if resolved.edit is not None:
                        fixed = apply(case.broken, resolved.edit)
                        result.update(offered=True, fixed=fixed, parses=parses(case.language, fixed),
                                      exact=fixed == case.original)
            client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
            results.append(result)
    return results


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def how(title: str) -> str:
    if not title:
        return "none listed"
    return "model rewrite" if "model rewrite" in title else "model picks" if "model picks" in title else "checked repair"


def single_token_report(results: list[dict]) -> None:
    print("| language | error dropped | cases | diagnosed | offered | parses | exact |")
    print("|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["case"].language, r["case"].kind), []).append(r)
    rows = sorted(groups.items()) + [(("all", "all"), results)]
    for (language, kind), rs in rows:
        n = len(rs)
        cells = [f"{sum(r[k] for r in rs)} ({100 * sum(r[k] for r in rs) / n:.0f} %)" for k in ("diagnosed", "offered", "parses", "exact")]
        print(f"| {language} | {kind} | {n} | " + " | ".join(cells) + " |")
    print("\n| how the offered fix was made | fixes | exact | p50 resolve s | p95 resolve s |")
    print("|---|---|---|---|---|")
    for method in ("checked repair", "model picks", "model rewrite"):
        rs = [r for r in results if r["offered"] and how(r["title"]) == method]
        if rs:
            lat = [r["seconds"] for r in rs]
            print(f"| {method} | {len(rs)} | {sum(r['exact'] for r in rs)} | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} |")
    broken = [r for r in results if r["offered"] and not r["parses"]]
    print(f"\noffered fixes that do not parse: {len(broken)}")
    for r in broken:
        case = r["case"]
        print(f"- {case.path.name}:{case.row + 1} ({case.language}, {case.kind}): {case.broken.split(chr(10))[case.row].strip()!r}")
        diff = [ln for ln in r["fixed"].split("\n") if ln not in case.broken.split("\n")][:3]
        print(f"  fixed to {diff}")
    missed = [r for r in results if not r["exact"]]
    if missed:
        print("\nnot restored exactly:")
        for r in missed:
            case = r["case"]
            fixed_line = r["fixed"].split("\n")[case.row].strip() if r["fixed"] and r["fixed"].count("\n") == case.broken.count("\n") else None
            print(f"- {case.path.name}:{case.row + 1} ({case.language}, {case.kind}, {how(r['title'])}): "
                  f"{case.broken.split(chr(10))[case.row].strip()!r} -> {fixed_line!r}, original {case.original.split(chr(10))[case.row].strip()!r}")


def rewrite_report(runs: dict[bool, list[dict]]) -> None:
    outcomes = {"fixed": lambda r: r["exact"], "parses, different": lambda r: r["parses"] and not r["exact"],
                "no fix offered": lambda r: not r["offered"], "wrong fix offered": lambda r: r["offered"] and not r["parses"]}
    print("| language | error | cases | " + " | ".join(outcomes) + " |")
    print("|---|---|---|" + "---|" * len(outcomes))
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs[True]:
        groups.setdefault((r["case"].language, r["case"].kind), []).append(r)
    for (language, kind), rs in sorted(groups.items()) + [(("all", "all"), runs[True])]:
        print(f"| {language} | {kind} | {len(rs)} | " + " | ".join(str(sum(map(f, rs))) for f in outcomes.values()) + " |")
    print("\n| prompt lookup | method | requests | p50 s | p95 s |")
    print("|---|---|---|---|---|")
    for lookup, rs in runs.items():
        for method in ("checked repair", "model picks", "model rewrite"):
            lat = [r["seconds"] for r in rs if r["seconds"] and how(r["title"]) == method]
            if lat:
                print(f"| {'on' if lookup else 'off'} | {method} | {len(lat)} | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} |")
    on = [r["seconds"] for r in runs[True] if r["seconds"] and how(r["title"]) == "model rewrite"]
    off = [r["seconds"] for r in runs[False] if r["seconds"] and how(r["title"]) == "model rewrite"]
    if on and off:
        print(f"\nmodel-rewrite resolves, p50 with lookup / without: {statistics.median(on) / statistics.median(off):.2f}x"
              f" (p95 {pct(on, 0.95) / pct(off, 0.95):.2f}x)")


def main() -> None:
    stdlib = Path(json.__file__).resolve().parents[1]
    npm = Path(shutil.which("npm") or "npm").resolve().parents[1] / "lib"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", nargs="*", default=[str(stdlib / p) for p in ("json", "email", "asyncio", "http", "tabnanny.py",
                                                                                   "argparse.py", "shutil.py", "textwrap.py")])
    parser.add_argument("--js", nargs="*", default=[str(npm)] if npm.is_dir() else [])
    parser.add_argument("--cases", type=int, default=12, help="cases per error kind and language")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rewrites", action="store_true", help="the model-rewrite suite, prompt lookup on and off")
    args = parser.parse_args()
    files = lambda dirs, ext: [f for d in dirs for f in (sorted(Path(d).rglob(f"*{ext}")) if Path(d).is_dir() else [Path(d)])]  # noqa: E731
    kinds = REWRITE_KINDS if args.rewrites else SINGLE_TOKEN
    cases = make_cases(files(args.python, ".py"), kinds, args.cases, args.seed)
    if args.js:
        cases += make_cases(files(args.js, ".js"), kinds, args.cases, args.seed)
    languages = sorted({c.language for c in cases})
    print(f"{len(cases)} cases ({', '.join(languages)}); embedded model; fixTimeBudgetMs 20000\n")
    if args.rewrites:
        rewrite_report({lookup: asyncio.run(run_config(cases, lookup)) for lookup in (True, False)})
    else:
        single_token_report(asyncio.run(run_config(cases)))


if __name__ == "__main__":
    main()
