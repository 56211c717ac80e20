"""Completions while typing, scored: real code typed as a user types it, over LSP with the
real server on the embedded model.

    .venv/bin/python benchmarks/typing_quality.py [--lines 24] [--stride 2] [--sweep 0.1,0.2,0.4]

Lines of real files (Python's standard library and npm's own JavaScript, so every machine with
Python and Node has them; picked with a fixed seed, code only, no comments or strings) are
typed character by character after their indentation, a completion asked every `stride`
keystrokes. Each answer is scored against what the line really goes on with: correct (a
non-empty prefix of it), wrong, or empty; the characters of the line a correct one would
save; the latency the client saw. Keystrokes are split by the character before the cursor:
inside a word (a letter, digit or `_`) or after a token boundary (`.`, `(`, `,`, `=`, space…);
"all" is those two. The request at the line's start (only its indentation typed, scored
against the whole line) is reported apart.

Configurations, each a fresh `sokuji serve` with the default settings but these, all running
at once and sent every keystroke in an order that rotates (a noisy machine slows them alike):
  raw       the same model and prompt, no healing, no gate
  healing   tokenHealing on
  gate      tokenHealing on, minConfidence at the default (or --gate)
  gate@x    tokenHealing on, minConfidence x, for each x in --sweep (choosing the default)
Prints one table per configuration and the ratios against raw the issue asks for; and the
in-process cost of healing's own work (rollback and the allowed-token set) per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pytest_lsp.client import make_test_lsp_client

from lsp_server.config import Settings
from lsp_server.context.languages import new_parser
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.healing import rollback
from lsp_server.engine.model import Model

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PY_FILES = ["textwrap.py", "csv.py", "fractions.py", "shlex.py", "pprint.py", "statistics.py"]
JS_ROOT = Path("/usr/lib/node_modules/npm/lib")
JS_FILES = ["npm.js", "commands/config.js"]
WORD = re.compile(r"[A-Za-z0-9_]")
VERBOSE = bool(os.environ.get("SOKUJI_BENCH_VERBOSE"))  # every answer on stderr
SKIP_NODES = {"comment", "string", "string_content", "template_string", "line_comment", "block_comment"}


@dataclass(frozen=True)
class Line:
    path: Path
    language: str
    row: int
    indent: str
    content: str  # what the user types after the indentation


@dataclass
class Answer:
    kind: str  # "word" | "boundary"
    outcome: str  # "correct" | "wrong" | "empty"
    saved: int
    latency: float
    model: bool  # the model was called (not the result cache, not skipped)


@dataclass
class Config:
    name: str
    options: dict
    answers: list[Answer] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def code_lines(path: Path, language: str, count: int, rng: random.Random) -> list[Line]:
    """`count` lines of code from the second half of the file (context above them), ASCII,
    12-70 characters after the indentation, starting outside any comment or string."""
    text = path.read_text()
    tree = new_parser(language).parse(text.encode())
    lines = text.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)
    picks = []
    for row in range(len(lines) // 2, len(lines)):
        raw = lines[row]
        body = raw.strip()
        if not (12 <= len(body) <= 70) or not raw.isascii() or body.startswith(("#", "//", "*", "/*")):
            continue
        start = offsets[row] + len(raw) - len(raw.lstrip())
        node = tree.root_node.descendant_for_byte_range(start, start + len(body))
        if any(n.type in SKIP_NODES for n in _ancestors(node)) or tree.root_node.descendant_for_byte_range(start, start).type in SKIP_NODES:
            continue
        picks.append(Line(path, language, row, raw[: len(raw) - len(raw.lstrip())], body))
    return sorted(rng.sample(picks, min(count, len(picks))), key=lambda ln: ln.row)


def _ancestors(node):
    while node is not None:
        yield node
        node = node.parent


def corpus(n_lines: int) -> list[Line]:
    rng = random.Random(16)
    files = [(STDLIB / f, "python") for f in PY_FILES]
    files += [(JS_ROOT / f, "javascript") for f in JS_FILES if (JS_ROOT / f).is_file()]
    per_file = max(1, round(n_lines / len(files)))
    lines = [ln for path, lang in files for ln in code_lines(path, lang, per_file, rng)]
    return lines[:n_lines]


def score(suggestion: str, rest: str) -> tuple[str, int]:
    """correct: a non-empty prefix of the rest of the line (a suggestion that goes past the
    line's end counts when it completes the line first); saved: characters of the line."""
    if not suggestion:
        return "empty", 0
    first = suggestion.split("\n", 1)[0]
    if "\n" in suggestion and first == rest or "\n" not in suggestion and rest.startswith(first) and first:
        return "correct", len(first)
    return "wrong", 0


class Server:
    """One `sokuji serve` over LSP with one configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.client = make_test_lsp_client()
        self.versions: dict[str, int] = {}

    async def start(self) -> None:
        await self.client.start_io(sys.executable, "-m", "lsp_server", "serve")
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(inline_completion=types.InlineCompletionClientCapabilities()),
            window=types.WindowClientCapabilities(work_done_progress=False),
        )
        options = {"kvCachePersist": False, "timeBudgetMs": 60_000, **self.config.options}
        await self.client.initialize_session(types.InitializeParams(capabilities=caps, initialization_options=options))

    def open(self, uri: str, language: str, text: str) -> None:
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))

    def replace_line(self, uri: str, row: int, old: str, new: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(row, 0), types.Position(row, len(old))), text=new)]))

    async def complete(self, uri: str, row: int, col: int) -> tuple[str, float, bool]:
        n_logs = len(self.client.log_messages)
        t0 = time.perf_counter()
        reply = await self.client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(row, col),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        latency = time.perf_counter() - t0
        items = reply.items if isinstance(reply, types.InlineCompletionList) else reply or []
        text = items[0].insert_text if items else ""
        await asyncio.sleep(0.02)  # the request's log line ("stop=cache" when the model was not called)
        logs = [m.message for m in self.client.log_messages[n_logs:] if "completion " in m.message]
        model = any("stop=" in m and "stop=cache" not in m and "stop=skipped" not in m for m in logs)
        return text if isinstance(text, str) else text.value, latency, model

    async def stop(self) -> None:
        self.config.stats = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.stats"))
        await self.client.shutdown_session()
        await self.client.stop()


async def run(configs: list[Config], lines: list[Line], stride: int) -> None:
    servers = [Server(c) for c in configs]
    await asyncio.gather(*(s.start() for s in servers))
    texts: dict[Path, list[str]] = {}
    turn = 0
    for n, line in enumerate(lines):
        uri = line.path.as_uri()
        if line.path not in texts:
            texts[line.path] = line.path.read_text().split("\n")
            for s in servers:
                s.open(uri, line.language, "\n".join(texts[line.path]))
        original = texts[line.path][line.row]
        for s in servers:
            s.replace_line(uri, line.row, original, line.indent)
        typed = line.indent
        for i, ch in enumerate([""] + list(line.content[:-1])):
            for s in servers:
                s.replace_line(uri, line.row, typed, typed + ch)
            typed += ch
            if i % stride:
                continue
            kind = "line start" if not ch else "word" if WORD.match(ch) else "boundary"
            rest = line.content[i:]
            turn += 1
            order = servers[turn % len(servers):] + servers[: turn % len(servers)]
            for s in order:
                text, latency, model = await s.complete(uri, line.row, len(typed))
                outcome, saved = score(text, rest)
                s.config.answers.append(Answer(kind, outcome, saved, latency, model))
                if VERBOSE:
                    print(f"    {s.config.name:>8} {typed.strip()[-24:]!r:>28} -> {text!r} ({outcome}, {latency * 1000:.0f} ms)",
                          file=sys.stderr)
        for s in servers:
            s.replace_line(uri, line.row, typed, original)
        print(f"  line {n + 1}/{len(lines)} {line.path.name}:{line.row + 1} {line.content!r}", file=sys.stderr)
    await asyncio.gather(*(s.stop() for s in servers))


def pick(answers: list[Answer], kind: str) -> list[Answer]:
    """"all" is what the user types into a line: inside words and after token boundaries."""
    return [a for a in answers if a.kind == kind or kind == "all" and a.kind != "line start"]


def rates(answers: list[Answer]) -> dict[str, float]:
    n = len(answers) or 1
    called = [a.latency for a in answers if a.model]
    return {
        "model_p50": statistics.median(called) if called else float("nan"),
        "n": len(answers),
        "correct": sum(a.outcome == "correct" for a in answers) / n,
        "wrong": sum(a.outcome == "wrong" for a in answers) / n,
        "empty": sum(a.outcome == "empty" for a in answers) / n,
        "saved": sum(a.saved for a in answers) / n,
        "p50": statistics.median(a.latency for a in answers) if answers else float("nan"),
        "p95": statistics.quantiles([a.latency for a in answers], n=20)[18] if len(answers) > 1 else float("nan"),
    }


def print_tables(configs: list[Config]) -> None:
    print("\n| configuration | cursor | requests | correct | wrong | empty | chars saved / request | p50 ms | p95 ms "
          "| p50 ms, model calls |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        for kind in ("word", "boundary", "all", "line start"):
            r = rates(pick(c.answers, kind))
            print(f"| {c.name} | {kind} | {r['n']} | {r['correct']:.0%} | {r['wrong']:.0%} | {r['empty']:.0%} "
                  f"| {r['saved']:.2f} | {r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} | {r['model_p50'] * 1000:.0f} |")
    print("\nsokuji.stats: " + ", ".join(f"{c.name}: hidden {c.stats.get('suggestionsHidden')}, "
                                         f"result-cache hits {c.stats.get('resultCacheHits')}" for c in configs))
    raw = configs[0]
    print("\n| configuration | word correct / raw | word correct / boundary correct | wrong shown / raw (all) "
          "| boundary correct / raw | boundary saved / raw | p50 / raw | p50 model calls / raw "
          "| line start: correct / raw, wrong / raw |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    kinds = ("word", "boundary", "all", "line start")
    base = {k: rates(pick(raw.answers, k)) for k in kinds}
    for c in configs[1:]:
        r = {k: rates(pick(c.answers, k)) for k in kinds}

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}x" if b else ("inf" if a else "-")

        print(f"| {c.name} | {ratio(r['word']['correct'], base['word']['correct'])} "
              f"| {ratio(r['word']['correct'], r['boundary']['correct'])} "
              f"| {ratio(r['all']['wrong'], base['all']['wrong'])} "
              f"| {ratio(r['boundary']['correct'], base['boundary']['correct'])} "
              f"| {ratio(r['boundary']['saved'], base['boundary']['saved'])} "
              f"| {ratio(r['all']['p50'], base['all']['p50'])} "
              f"| {ratio(r['all']['model_p50'], base['all']['model_p50'])} "
              f"| {ratio(r['line start']['correct'], base['line start']['correct'])}, "
              f"{ratio(r['line start']['wrong'], base['line start']['wrong'])} |")


def healing_cost(lines: list[Line], stride: int) -> None:
    """Healing's own work per request, in this process: the cursor line's tokens taken back
    and the first allowed-token set (what the engine adds before and around decoding)."""
    model = Model(embedded_model_path(), vocab_only=True, kv_mode="off")
    times = []
    for line in lines:
        for i in range(0, len(line.content), stride):
            tokens = model.tokenize(line.indent + line.content[:i])
            t0 = time.perf_counter()
            _, removed = rollback(tokens, model.pieces)
            if removed:
                model.pieces.allowed(removed)
            times.append(time.perf_counter() - t0)
    model.close()
    print(f"\nhealing's own work per request (rollback + allowed set), {len(times)} requests: "
          f"p50 {statistics.median(times) * 1e6:.0f} us, max {max(times) * 1e3:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=24)
    ap.add_argument("--stride", type=int, default=2, help="ask for a completion every N keystrokes")
    ap.add_argument("--gate", type=float, default=Settings().min_confidence)
    ap.add_argument("--sweep", default="", help="more minConfidence values, comma-separated")
    args = ap.parse_args()
    lines = corpus(args.lines)
    configs = [Config("raw", {"tokenHealing": False, "minConfidence": 0}),
               Config("healing", {"tokenHealing": True, "minConfidence": 0}),
               Config("gate", {"tokenHealing": True, "minConfidence": args.gate})]
    configs += [Config(f"gate@{x}", {"tokenHealing": True, "minConfidence": float(x)}) for x in args.sweep.split(",") if x]
    print(f"{len(lines)} lines ({sum(ln.language == 'python' for ln in lines)} Python, "
          f"{sum(ln.language == 'javascript' for ln in lines)} JavaScript), a completion every {args.stride} keystrokes; "
          f"gate = minConfidence {args.gate}", file=sys.stderr)
    asyncio.run(run(configs, lines, args.stride))
    print(f"{len(lines)} lines, a completion every {args.stride} keystrokes, gate = minConfidence {args.gate}")
    print_tables(configs)
    healing_cost(lines, args.stride)


if __name__ == "__main__":
    main()
