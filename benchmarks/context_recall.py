"""Definition recall of the context builder against a naive prefix/suffix window.

On real multi-file code nobody here wrote, hide one statement at a time inside function
bodies, build the context at several token budgets, and report *definition recall*: of the
identifiers in the hidden statement that are defined somewhere in the workspace (not in the
statement itself), the fraction whose definition appears in the context (its name line is
one of the context's lines, maybe followed by " ..."). The naive window gets the same budget, in the same run.

    python benchmarks/context_recall.py                          # stdlib packages: json, email, asyncio
    npm pack express@4 && tar xzf express-4*.tgz                 # a JavaScript package
    python benchmarks/context_recall.py --js package/lib --python ""

Token counts come from the embedded model's tokenizer (vocabulary only, nothing is generated).
Budgets are counted as for a FIM model: the suffix is part of the prompt.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsp_server.completion.pipeline import own_definitions  # noqa: E402
from lsp_server.context.languages import language_for  # noqa: E402
from lsp_server.context.prompt import Budget, build_prompt  # noqa: E402
from lsp_server.context.scope import identifiers  # noqa: E402
from lsp_server.context.symbols import Definition, SymbolIndex, SymbolSources  # noqa: E402
from lsp_server.context.workspace import read_definitions, workspace_files  # noqa: E402
from lsp_server.documents import Document  # noqa: E402
from lsp_server.structs import headed  # noqa: E402
from lsp_server.engine.embedded import embedded_model_path  # noqa: E402
from lsp_server.engine.model import Model  # noqa: E402

BLOCKS = {"block", "statement_block"}  # a function body's statement list (python, js/ts)
FUNCTIONS = {"function_definition", "function_declaration", "method_definition", "function_expression",
             "arrow_function", "generator_function_declaration", "function"}


@dataclass
class Case:
    path: Path
    row: int  # the hidden statement's line
    indent: str
    names: list[str]  # identifiers in it that the workspace defines


def _in_function(node) -> bool:
    while node is not None:
        if node.type in FUNCTIONS:
            return True
        node = node.parent
    return False


def find_cases(files: list[Path], defined: set[str], language_of) -> list[Case]:
    from lsp_server.context.languages import new_parser

    cases = []
    for path in files:
        source = path.read_bytes()
        parser = new_parser(language_of(path))
        if parser is None:
            continue
        tree = parser.parse(source)
        stack = [tree.root_node]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            if not node.is_named or node.parent is None or node.parent.type not in BLOCKS:
                continue
            if node.start_point.row != node.end_point.row or node.type == "comment" or not _in_function(node):
                continue
            line = source.split(b"\n")[node.start_point.row].decode("utf-8", "replace")
            if line.strip() != node.text.decode("utf-8", "replace").strip():
                continue  # shares its line with another statement
            names = sorted({n for n, _ in identifiers(language_of(path), node) if n in defined})
            if names:
                indent = line[: len(line) - len(line.lstrip())]
                cases.append(Case(path, node.start_point.row, indent, names))
    return cases


def naive_window(lines: list[str], row: int, indent: str, count, budget: Budget) -> str:
    suffix_budget = budget.suffix
    prefix_budget = budget.total - suffix_budget
    first, used = row, count(indent)
    while first > 0 and used + count(lines[first - 1] + "\n") <= prefix_budget:
        first -= 1
        used += count(lines[first] + "\n")
    last, used = row + 1, 0
    while last < len(lines) and used + count(lines[last] + "\n") <= suffix_budget:
        used += count(lines[last] + "\n")
        last += 1
    return "\n".join(lines[first:last])


def recall(context: str, names: list[str], defs_by_name: dict[str, list[Definition]]) -> int:
    shown = [line.strip() for line in context.split("\n")]
    return sum(1 for name in names if any(line.startswith(d.signature) for d in defs_by_name[name] for line in shown))


def run(workspace: Path, budgets: list[int], samples: int, model: Model, seed: int) -> list[dict]:
    index = SymbolIndex()
    files = list(workspace_files(workspace))
    defs_by_name: dict[str, list[Definition]] = {}
    for f in files:
        defs = read_definitions(f, f.as_uri()) or []
        index.update(f.as_uri(), defs)
        for d in defs:
            defs_by_name.setdefault(d.name, []).append(d)
    cases = find_cases(files, set(defs_by_name), lambda p: language_for(None, p.name))
    random.Random(seed).shuffle(cases)
    cases = cases[:samples]
    count = model.count_tokens
    rows = []
    for total in budgets:
        budget = Budget(total=total, suffix=min(256, total // 4), suffix_counts=True)
        ours = naive = wanted = 0
        tokens_ours: list[int] = []
        for case in cases:
            lines = case.path.read_text(encoding="utf-8").split("\n")
            lines[case.row] = case.indent  # the statement is hidden; the cursor is where it began
            text = "\n".join(lines)
            uri = case.path.as_uri()
            doc = Document(uri, "", 0, text, "utf-32")
            snap = doc.snapshot()
            # the index holds the file as it is on disk: the hidden statement must not leak from it
            sources = SymbolSources(index, {uri: own_definitions(snap)}, [workspace.as_uri()])
            prompt = build_prompt(snap, doc.cursor(case.row, len(case.indent)), count, budget, sources, own_definitions)
            context = "\n".join([c.text for c in prompt.extra] + [prompt.imports, prompt.prefix, prompt.suffix])
            tokens_ours.append(sum(count(p) for p in [prompt.imports, prompt.prefix, prompt.suffix])
                               + sum(count(headed(prompt.comment, c.path, c.text)) for c in prompt.extra))
            names = [n for n in case.names if defs_by_name[n]]
            wanted += len(names)
            ours += recall(context, names, defs_by_name)
            naive += recall(naive_window(lines, case.row, case.indent, count, budget), names, defs_by_name)
        rows.append({
            "budget": total, "statements": len(cases), "identifiers": wanted,
            "recall": ours / max(1, wanted), "naive": naive / max(1, wanted),
            "tokens_p50": statistics.median(tokens_ours) if tokens_ours else 0,
            "tokens_max": max(tokens_ours, default=0),
        })
    return rows


def main() -> None:
    stdlib = Path(json.__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", nargs="*", default=[str(stdlib / p) for p in ("json", "email", "asyncio")],
                        help="Python workspaces (default: stdlib packages json, email, asyncio)")
    parser.add_argument("--js", nargs="*", default=[], help="JavaScript / TypeScript workspaces")
    parser.add_argument("--budgets", nargs="*", type=int, default=[512, 1024, 2048])
    parser.add_argument("--samples", type=int, default=150, help="hidden statements per workspace")
    parser.add_argument("--model", default=None, help="GGUF whose tokenizer counts (default: the embedded model)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = Model(args.model or embedded_model_path(), vocab_only=True, context_size=4096)
    print(f"tokenizer: {model.info.name}; {args.samples} hidden statements per workspace (seed {args.seed})\n")
    by_language: dict[str, dict[int, list[float]]] = {}
    print("| language | workspace | budget | statements | identifiers | recall | naive | ratio | context tokens p50 / max |")
    print("|---|---|---|---|---|---|---|---|---|")
    for language, folders in (("python", [p for p in args.python if p]), ("js/ts", args.js)):
        for folder in folders:
            for row in run(Path(folder), args.budgets, args.samples, model, args.seed):
                ratio = row["recall"] / row["naive"] if row["naive"] else float("inf")
                print(f"| {language} | {Path(folder).name} | {row['budget']} | {row['statements']} | {row['identifiers']} "
                      f"| {row['recall']:.2f} | {row['naive']:.2f} | {ratio:.1f}x | {row['tokens_p50']:.0f} / {row['tokens_max']} |")
                agg = by_language.setdefault(language, {}).setdefault(row["budget"], [0, 0, 0])
                agg[0] += row["recall"] * row["identifiers"]
                agg[1] += row["naive"] * row["identifiers"]
                agg[2] += row["identifiers"]
    print("\nAll workspaces of a language together (identifier-weighted):\n")
    print("| language | budget | recall | naive | ratio |")
    print("|---|---|---|---|---|")
    for language, budgets in by_language.items():
        for total, (ours, naive, n) in budgets.items():
            ratio = ours / naive if naive else float("inf")
            print(f"| {language} | {total} | {ours / max(1, n):.2f} | {naive / max(1, n):.2f} | {ratio:.1f}x |")
    model.close()  # before the interpreter tears down (lsp_server/engine/lifetime.py)


if __name__ == "__main__":
    main()
