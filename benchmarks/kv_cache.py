"""Per-file KV cache, measured through the real server over LSP on a realistic editing trace.

    .venv/bin/python benchmarks/kv_cache.py [--llama-server PATH] [--files 12] [--keys 8]

The trace, over real source files (Python's own standard library, so every machine has them):
in each file a line deep in the file is hidden; the user types it back character by
character, asking for a completion every second keystroke; then moves on to the next file.
After visiting every file the user returns to each in turn (after all the others) and types one
more character.

Configurations, each a fresh `sokuji serve` on the embedded model with the same limits:
  off      every prompt evaluated in full (no KV reuse)
  shared   one context, longest-prefix reuse only (llama-cpp-python's default behaviour)
  perFile  sokuji's per-file KV states
and, with --llama-server, llama.cpp's own server driven as llama.vim drives it (one slot,
`cache_prompt`, `--cache-reuse 256`, its host-RAM prompt cache on by default), sent the very
prompts sokuji builds, with the same generation limit and the same single-line stop.

Prints per configuration: prompt tokens evaluated per request (typing / return visits),
the physical minimum (tokens after the first token that changed since the file's previous
prompt), latency p50/p95, peak RSS, and ratios against `off` measured in the same run;
writes benchmarks/kv_cache.png (latency against prompt size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pytest_lsp.client import make_test_lsp_client

from lsp_server.completion import make_prompt
from lsp_server.config import Settings
from lsp_server.documents import UTF16, Document
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.model import Model
from lsp_server.structs import Prompt

FILES = ["textwrap.py", "json/decoder.py", "json/encoder.py", "csv.py", "fractions.py", "heapq.py",
         "shlex.py", "string.py", "calendar.py", "pprint.py", "statistics.py", "difflib.py",
         "ipaddress.py", "dataclasses.py"]
MAX_TOKENS = 32
CONTEXT = 4096
LOG = re.compile(r"completion (\S+): .*stop=(\w+), prompt=(\d+) evaluated=(\d+) generated=(\d+), (\d+) ms")


@dataclass
class Request:
    config: str
    kind: str  # "cold" (first request in a file), "type", "return"
    file: int
    latency: float
    prompt_tokens: int
    evaluated: int
    minimum: int  # tokens after the first changed token: what any cache must evaluate
    from_results: bool = False  # answered from sokuji's result cache, no model call
    generated: int = 0
    model_s: float = 0.0  # in the engine: prompt evaluation and generation


@dataclass
class Step:
    file: int
    kind: str
    text: str  # the document after the keystroke
    line: int
    col: int


def build_trace(n_files: int, keys: int) -> tuple[list[str], list[str], list[Step]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts, uris, steps = [], [], []
    typed: list[tuple[list[str], int, str, int]] = []
    for i, name in enumerate(FILES[:n_files]):
        lines = (stdlib / name).read_text().split("\n")
        row = next(r for r in range(int(len(lines) * 0.6), len(lines)) if len(lines[r].strip()) >= 24)
        hidden = lines[row]
        indent = len(hidden) - len(hidden.lstrip())
        lines[row] = hidden[:indent]
        texts.append("\n".join(lines))
        uris.append(f"file:///bench/{i}_{Path(name).name}")
        typed.append((lines, row, hidden, indent))
    for i, (lines, row, hidden, indent) in enumerate(typed):
        for k in range(1, keys + 1):
            lines[row] = hidden[: indent + k]
            if k % 2 == 0:
                steps.append(Step(i, "cold" if k == 2 else "type", "\n".join(lines), row, indent + k))
    for i in range(n_files):  # come back to every file, each time after visiting all the others
        lines, row, hidden, indent = typed[i]
        lines[row] = hidden[: indent + keys + 1]
        steps.append(Step(i, "return", "\n".join(lines), row, indent + keys + 1))
    return texts, uris, steps


def build_prompts(model: Model, steps: list[Step]) -> list[Prompt]:
    """The prompt sokuji builds at each step (budgets counted with the model's tokenizer), from
    the file alone: llama-server is not told about the other open files."""
    settings = Settings(context_size=CONTEXT, max_tokens=MAX_TOKENS)
    out = []
    for step in steps:
        doc = Document("file:///x.py", "python", 1, step.text, UTF16)
        out.append(make_prompt(model, doc.snapshot(), doc.cursor(step.line, step.col), settings))
    return out


def set_minimum(model: Model, steps: list[Step], tokens: list[list[int]], reqs: list[Request]) -> None:
    """Tokens after the first token that differs from the file's last prompt the model saw:
    what any KV cache has to evaluate (result-cache hits never reach the model)."""
    seen: dict[int, list[int]] = {}
    for step, toks, req in zip(steps, tokens, reqs):
        if req.from_results:
            continue
        old = seen.get(step.file)
        req.minimum = len(toks) - (model.llm.longest_token_prefix(old, toks) if old else 0)
        seen[step.file] = toks


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_sokuji(config: str, texts, uris, steps, tokens) -> tuple[list[Request], float]:
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "lsp_server", "serve")
    caps = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(inline_completion=types.InlineCompletionClientCapabilities()),
        window=types.WindowClientCapabilities(work_done_progress=False),
    )
    options = {"maxTokens": MAX_TOKENS, "timeBudgetMs": 60_000, "contextSize": CONTEXT,
               "kvCache": config, "kvCachePersist": False}
    await client.initialize_session(types.InitializeParams(capabilities=caps, initialization_options=options))
    for uri, text in zip(uris, texts):
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    versions = {uri: 1 for uri in uris}
    current = dict(zip(uris, texts))
    out = []
    for step, toks in zip(steps, tokens):
        uri = uris[step.file]
        versions[uri] += 1
        # the typed line replaced, as an editor sends it: a range, not the whole file
        old_line = current[uri].split("\n")[step.line]
        current[uri] = step.text
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(step.line, 0), types.Position(step.line, len(old_line))),
                text=step.text.split("\n")[step.line])]))
        n_logs = len(client.log_messages)
        t0 = time.perf_counter()
        await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=step.line, character=step.col),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        latency = time.perf_counter() - t0
        await asyncio.sleep(0.05)  # let the log line arrive
        match = next((m for m in map(LOG.search, (x.message for x in client.log_messages[n_logs:])) if m), None)
        evaluated = int(match.group(4)) if match else 0
        hit = bool(match) and match.group(2) == "cache"
        generated, model_ms = (int(match.group(5)), int(match.group(6))) if match else (0, 0)
        out.append(Request(config, step.kind, step.file, latency, len(toks), evaluated, 0, hit, generated, model_ms / 1000))
    rss = peak_rss_mb(client._server.pid)
    await client.shutdown_session()
    await client.stop()
    return out, rss


def run_llama_server(binary: str, steps, prompts: list[str], tokens) -> tuple[list[Request], float]:
    port = 18080 + os.getpid() % 1000
    proc = subprocess.Popen(
        [binary, "-m", embedded_model_path(), "-c", str(CONTEXT), "--parallel", "1", "--cache-reuse", "256",
         "-t", str(os.cpu_count()), "--port", str(port), "--host", "127.0.0.1", "--no-webui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        out = []
        for step, prompt, toks in zip(steps, prompts, tokens):
            body = json.dumps({"prompt": prompt, "n_predict": MAX_TOKENS, "cache_prompt": True,
                               "temperature": 0, "stop": ["\n"], "id_slot": 0}).encode()
            t0 = time.perf_counter()
            req = urllib.request.Request(f"{url}/completion", body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=300) as r:
                reply = json.loads(r.read())
            latency = time.perf_counter() - t0
            timings = reply.get("timings", {})
            model_s = (timings.get("prompt_ms", 0) + timings.get("predicted_ms", 0)) / 1000
            out.append(Request("llama-server", step.kind, step.file, latency, len(toks), timings.get("prompt_n", 0), 0,
                               generated=timings.get("predicted_n", 0), model_s=model_s))
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    return out, rss


def avg(values: list[float]) -> float:
    return statistics.mean(values) if values else float("nan")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def print_paired(ours: list[Request], theirs: list[Request]) -> None:
    """The same requests on both sides: those sokuji sent to its model (not its result cache)."""
    print("\nsame requests, model calls only (perFile | llama-server):")
    head = ["kind", "n", "generated", "p50 s", "p50 engine s", "p50 outside s", "p50 ratio", "mean ratio"]
    print(" | ".join(f"{h:>22}" for h in head))
    for kind in ("type", "return"):
        pairs = [(a, b) for a, b in zip(ours, theirs) if a.kind == kind and not a.from_results]
        if not pairs:
            continue
        ratios = [a.latency / b.latency for a, b in pairs]
        cells = [f"{avg([a.generated for a, _ in pairs]):.1f} | {avg([b.generated for _, b in pairs]):.1f}"]
        for value in (lambda r: r.latency, lambda r: r.model_s, lambda r: r.latency - r.model_s):
            cells.append(f"{pct([value(a) for a, _ in pairs], 0.5):.3f} | {pct([value(b) for _, b in pairs], 0.5):.3f}")
        cells += [f"{pct([a.latency for a, _ in pairs], 0.5) / pct([b.latency for _, b in pairs], 0.5):.3f}x",
                  f"{avg(ratios):.3f}x"]
        print(" | ".join(f"{c:>22}" for c in [kind, str(len(pairs)), *cells]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llama-server", help="path to a llama-server binary built from the same llama.cpp")
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--keys", type=int, default=8)
    parser.add_argument("--configs", default="off,shared,perFile", help="the sokuji configurations to run")
    parser.add_argument("--plot", default=str(Path(__file__).with_name("kv_cache.png")))
    args = parser.parse_args()

    texts, uris, steps = build_trace(args.files, args.keys)
    vocab = Model(embedded_model_path(), vocab_only=True, context_size=CONTEXT)  # the budget follows CONTEXT
    prompts = build_prompts(vocab, steps)
    tokens = [vocab.prompt_tokens(p) for p in prompts]
    results: dict[str, list[Request]] = {}
    rss: dict[str, float] = {}
    for config in args.configs.split(","):
        results[config], rss[config] = asyncio.run(run_sokuji(config, texts, uris, steps, tokens))
    if args.llama_server:
        bos = len(vocab.prompt_tokens(Prompt("", "")))  # llama-server adds its own BOS
        texts_sent = [vocab.llm.detokenize(t[bos:]).decode("utf-8", "replace") for t in tokens]
        results["llama-server"], rss["llama-server"] = run_llama_server(
            args.llama_server, steps, texts_sent, tokens)
    for reqs in results.values():
        set_minimum(vocab, steps, tokens, reqs)

    print(f"trace: {args.files} files, {len(steps)} requests, prompts "
          f"{min(map(len, tokens))}-{max(map(len, tokens))} tokens, maxTokens {MAX_TOKENS}\n")
    head = ["config", "result hits", "eval/req typing", "min typing", "eval/min", "eval return", "return %prompt",
            "p50 s", "p95 s", "p50 typing", "p50 return", "p50 type model", "p50 ret model", "peak RSS MB"]
    print(" | ".join(f"{h:>15}" for h in head))
    rows = {}
    for config, reqs in results.items():
        # token counts over model calls; latencies over every request the user made
        typing = [r for r in reqs if r.kind == "type" and not r.from_results]
        back = [r for r in reqs if r.kind == "return" and not r.from_results]
        ev_typing = avg([r.evaluated for r in typing])
        min_typing = avg([r.minimum for r in typing])
        row = {
            "result hits": sum(r.from_results for r in reqs),
            "eval/req typing": ev_typing,
            "min typing": min_typing,
            "eval/min": ev_typing / max(min_typing, 1),
            "eval return": avg([r.evaluated for r in back]),
            "return %prompt": 100 * avg([r.evaluated / r.prompt_tokens for r in back]),
            "p50 s": pct([r.latency for r in reqs], 0.5),
            "p95 s": pct([r.latency for r in reqs], 0.95),
            "p50 typing": pct([r.latency for r in reqs if r.kind == "type"], 0.5),
            "p50 return": pct([r.latency for r in reqs if r.kind == "return"], 0.5),
            # the same without the requests sokuji's result cache answered: what the model costs
            "p50 type model": pct([r.latency for r in typing], 0.5),
            "p50 ret model": pct([r.latency for r in back], 0.5),
            "peak RSS MB": rss[config],
        }
        rows[config] = row
        print(" | ".join([f"{config:>15}"] + [f"{row[h]:15.2f}" for h in head[1:]]))
    base = rows.get("off")
    print("\nratios to `off` (same run):" if base else "")
    for config, row in rows.items() if base else ():
        print(f"{config:>15}: p50 {row['p50 s'] / base['p50 s']:.3f}x, p50 typing "
              f"{row['p50 typing'] / base['p50 typing']:.3f}x, p50 return {row['p50 return'] / base['p50 return']:.3f}x,"
              f" tokens evaluated typing {row['eval/req typing'] / base['eval/req typing']:.3f}x")
    if "llama-server" in rows and "perFile" in rows:
        ls, pf = rows["llama-server"], rows["perFile"]
        print(f"\nperFile / llama-server: p50 typing {pf['p50 typing'] / ls['p50 typing']:.3f}x, "
              f"p50 return {pf['p50 return'] / ls['p50 return']:.3f}x, p50 all {pf['p50 s'] / ls['p50 s']:.3f}x")
        print(f"  model calls only (no result-cache answers): p50 typing "
              f"{pf['p50 type model'] / ls['p50 type model']:.3f}x, p50 return {pf['p50 ret model'] / ls['p50 ret model']:.3f}x")
        print_paired(results["perFile"], results["llama-server"])

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for config, marker in zip(results, "ox^s"):
        reqs = results[config]
        ax.scatter([r.prompt_tokens for r in reqs], [r.latency for r in reqs], label=config, marker=marker, alpha=0.7)
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("latency (s)")
    ax.set_yscale("log")
    ax.set_title(f"sokuji completion latency, gemma-3-270m, {os.cpu_count()} CPU cores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
