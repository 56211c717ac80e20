"""Completions while typing, and at line starts, scored: real code typed as a user types it,
and Enter pressed at line ends, over LSP with the real server on the embedded model.

    .venv/bin/python benchmarks/typing_quality.py [--lines 24] [--stride 2] [--enters 8] [--sweep 0.2,0.4]

Lines of real files (Python's standard library and npm's own JavaScript, so every machine with
Python and Node has them; picked with a fixed seed, code only, no comments or strings) are
typed character by character after their indentation, a completion asked every `stride`
keystrokes. Each answer is scored against what the line really goes on with: correct (a
non-empty prefix of it), wrong, or empty; the characters of the line a correct one would
save; the latency the client saw. Keystrokes are split by the character before the cursor:
inside a word (a letter, digit or `_`) or after a token boundary (`.`, `(`, `,`, `=`, space…);
"all" is those two.

Line starts (line_starts.py): `--enters` lines per file of the files held apart from the
gates' calibration (benchmarks/gate_data.py's test split: these Python files and npm's
npm.js, config.js, install.js, ls.js), each a line of code inside a function after a code
line. The line is deleted and Enter pressed at the end of the line above (the new line gets
the real line's indentation, as an editor's auto-indent gives it); the first line shown is
scored against the real line: right (trimmed, a prefix of it covering at least half),
short (a shorter prefix), wrong, empty; the characters of the line it saves; p50 over the
answers that show something.

Configurations, each a fresh `sokuji serve` with the default settings but these, all running
at once and sent every request in an order that rotates (a noisy machine slows them alike);
before a request goes to one, the others' background work (a block being written) ends, so
no server's work is timed against another's:
  raw       the model called as a plain plugin calls it: no healing, no gate, a whole block
            generated at a line start (greedy, up to maxTokens), its prompt prefix cached
  before    the server before line starts were gated (issue 27): healing, minConfidence 0.3
            for every language while typing, the whole block shown at a line start
  sokuji    the defaults: the gates calibrated per language, the first line of a block first
  gate@x    the defaults but minConfidence x, for each x in --sweep
Prints one table per configuration and the ratios the issue asks for; and the in-process cost
of healing's own work (rollback and the allowed-token set) per request.
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

import gate_data
import line_starts
from line_starts import ratio

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
    kind: str  # "word" | "boundary" (line starts: line_starts.py)
    outcome: str  # "correct" | "wrong" | "empty"
    saved: int
    latency: float
    model: bool  # the model was called (not the result cache, not skipped)
    language: str = ""


@dataclass
class Config:
    name: str
    options: dict
    answers: list[Answer] = field(default_factory=list)
    enters: list = field(default_factory=list)  # line_starts.Enter
    stats: dict = field(default_factory=dict)


def code_lines(path: Path, language: str, count: int, rng: random.Random) -> list[Line]:
    """`count` lines of code from the second half of the file (context above them), ASCII,
    12-70 characters after the indentation, starting outside any comment or string."""
    tree, lines, offsets = gate_data.parsed(path, language)
    picks = []
    for row in range(len(lines) // 2, len(lines)):
        raw = lines[row]
        body = raw.strip()
        if not (12 <= len(body) <= 70) or not raw.isascii() or body.startswith(("#", "//", "*", "/*")):
            continue
        start = offsets[row] + len(raw) - len(raw.lstrip())
        node = tree.root_node.descendant_for_byte_range(start, start + len(body))
        if any(n.type in SKIP_NODES for n in gate_data.ancestors(node)) or tree.root_node.descendant_for_byte_range(start, start).type in SKIP_NODES:
            continue
        picks.append(Line(path, language, row, raw[: len(raw) - len(raw.lstrip())], body))
    return sorted(rng.sample(picks, min(count, len(picks))), key=lambda ln: ln.row)


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

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))

    def replace_line(self, uri: str, row: int, old: str, new: str) -> None:
        self.change(uri, (row, 0), (row, len(old)), new)

    def change(self, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(*start), types.Position(*end)), text=text)]))

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
        model = any("stop=" in m and not any(f"stop={k}" in m for k in ("cache", "skipped", "block", "prefetch")) for m in logs)
        return text if isinstance(text, str) else text.value, latency, model

    async def idle(self) -> None:
        """Until no block is being written in the background (at most a minute)."""
        for _ in range(600):
            stats = await self.client.workspace_execute_command_async(types.ExecuteCommandParams(command="sokuji.stats"))
            if not stats.get("blockWriting"):
                return
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self.config.stats = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.stats"))
        await self.client.shutdown_session()
        await self.client.stop()


async def run(configs: list[Config], lines: list[Line], stride: int, enters: int) -> None:
    servers = [Server(c) for c in configs]
    await asyncio.gather(*(s.start() for s in servers))
    if lines:
        await typing(servers, lines, stride)
    await line_starts.press_enters(servers, line_starts.cases(enters))
    await asyncio.gather(*(s.stop() for s in servers))


async def typing(servers: list[Server], lines: list[Line], stride: int) -> None:
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
            if i % stride or not ch:  # line starts: line_starts.py
                continue
            kind = "word" if WORD.match(ch) else "boundary"
            rest = line.content[i:]
            turn += 1
            order = servers[turn % len(servers):] + servers[: turn % len(servers)]
            for s in order:
                await asyncio.gather(*(o.idle() for o in servers if o is not s))
                text, latency, model = await s.complete(uri, line.row, len(typed))
                outcome, saved = score(text, rest)
                s.config.answers.append(Answer(kind, outcome, saved, latency, model, line.language))
                if VERBOSE:
                    print(f"    {s.config.name:>8} {typed.strip()[-24:]!r:>28} -> {text!r} ({outcome}, {latency * 1000:.0f} ms)",
                          file=sys.stderr)
        for s in servers:
            s.replace_line(uri, line.row, typed, original)
        print(f"  line {n + 1}/{len(lines)} {line.path.name}:{line.row + 1} {line.content!r}", file=sys.stderr)
    for path in texts:
        for s in servers:
            s.close(path.as_uri())


def pick(answers: list[Answer], kind: str, language: str = "") -> list[Answer]:
    """"all" is what the user types into a line: inside words and after token boundaries."""
    return [a for a in answers if (kind == "all" or a.kind == kind) and (not language or a.language == language)]


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
    print("\n#### While typing\n")
    print("| configuration | language | cursor | requests | correct | wrong | empty | chars saved / request | p50 ms "
          "| p95 ms | p50 ms, model calls |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        for language in ("", "python", "javascript"):
            for kind in ("word", "boundary", "all"):
                r = rates(pick(c.answers, kind, language))
                print(f"| {c.name} | {language or 'both'} | {kind} | {r['n']} | {r['correct']:.0%} | {r['wrong']:.0%} "
                      f"| {r['empty']:.0%} | {r['saved']:.2f} | {r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} "
                      f"| {r['model_p50'] * 1000:.0f} |")
    print("\nsokuji.stats: " + ", ".join(f"{c.name}: hidden {c.stats.get('suggestionsHidden')}, "
                                         f"result-cache hits {c.stats.get('resultCacheHits')}, blocks started / whole / "
                                         f"answers {c.stats.get('blocksStarted')} / {c.stats.get('blocksWhole')} / "
                                         f"{c.stats.get('blockAnswers')}" for c in configs))
    named = {c.name: c for c in configs}
    if "before" not in named:
        return
    print("\nWhile typing, against the server before (targets: correct and saved >= 0.95x, wrong <= 1.05x, p50 <= 1.1x):\n")
    print("| configuration | language | correct | wrong | chars saved | p50 |")
    print("|---|---|---:|---:|---:|---:|")
    for c in configs:
        if c.name in ("raw", "before"):
            continue
        for language in ("", "python", "javascript"):
            r, b = rates(pick(c.answers, "all", language)), rates(pick(named["before"].answers, "all", language))
            print(f"| {c.name} / before | {language or 'both'} | {ratio(r['correct'], b['correct'])} "
                  f"| {ratio(r['wrong'], b['wrong'])} | {ratio(r['saved'], b['saved'])} | {ratio(r['p50'], b['p50'])} |")


def healing_cost(lines: list[Line], stride: int) -> None:
    """Healing's own work per request, in this process: the cursor line's tokens taken back
    and the first allowed-token set (what the engine adds before and around decoding)."""
    if not lines:
        return
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
    ap.add_argument("--enters", type=int, default=8, help="Enter presses per held-apart file (line_starts.py)")
    ap.add_argument("--sweep", default="", help="more minConfidence values, comma-separated")
    args = ap.parse_args()
    lines = corpus(args.lines)
    configs = [Config("raw", {"tokenHealing": False, "minConfidence": 0, "lineStartConfidence": 0, "firstLineFirst": False}),
               Config("before", {"tokenHealing": True, "minConfidence": 0.3, "lineStartConfidence": 0, "firstLineFirst": False}),
               Config("sokuji", {})]
    configs += [Config(f"gate@{x}", {"minConfidence": float(x)}) for x in args.sweep.split(",") if x]
    if not args.lines:  # line starts only: "before" is the typing tables' baseline
        configs = [c for c in configs if c.name != "before"]
    print(f"{len(lines)} lines ({sum(ln.language == 'python' for ln in lines)} Python, "
          f"{sum(ln.language == 'javascript' for ln in lines)} JavaScript), a completion every {args.stride} keystrokes; "
          f"{args.enters} Enter presses per held-apart file", file=sys.stderr)
    asyncio.run(run(configs, lines, args.stride, args.enters))
    print(f"{len(lines)} lines typed, a completion every {args.stride} keystrokes; {args.enters} Enter presses per file")
    print_tables(configs)
    line_starts.print_tables(configs)
    healing_cost(lines, args.stride)


if __name__ == "__main__":
    main()
