"""Per-file KV cache, measured through the real server over LSP on a realistic editing trace.

    .venv/bin/python benchmarks/kv_cache.py [--llama-server PATH] [--files 12] [--keys 8]

The trace, over real source files (Python's own standard library, so every machine has them):
in each file a line deep in the file is hidden; the user types it back character by
character, asking for a completion every second keystroke; then moves on to the next file.
After visiting every file the user returns to each in turn (after all the others) and types one
more character.

Configurations, each a fresh `sokuji serve` on the embedded model with the same limits, all
running at once and served the trace interleaved (each step goes to every one, in an order
that rotates), so a noisy machine slows them alike:
  off      every prompt evaluated in full (no KV reuse)
  shared   one context, longest-prefix reuse only (llama-cpp-python's default behaviour)
  perFile  sokuji's per-file KV states
and, with --llama-server, llama.cpp's own server driven as llama.vim drives it (one slot,
`cache_prompt`, `--cache-reuse 256`, its host-RAM prompt cache on by default), sent the very
prompt sokuji's model sees at each step (`sokuji.context`), with the same generation limit and
the same single-line stop.

Prints per configuration: prompt tokens evaluated per request (typing / return visits),
the physical minimum (tokens after the first token that changed since the file's previous
prompt), latency p50/p95, peak RSS, and ratios against `off` measured in the same run; the
same requests side by side where sokuji called its model (not its result cache); writes
benchmarks/kv_cache.png (latency against prompt size).

    .venv/bin/python benchmarks/kv_cache.py --fast [--others 6] [--chars 30]

The fast trace: requests come faster than the server's background work. One file is open and
has had a completion; `--others` fresh files are opened, and right away a line of `--chars`
characters is typed into the first one, a completion after each keystroke, the next keystroke
sent as soon as the answer arrives (no pause: the other files' definitions, read once their
edits pause, land mid-typing). Prints tokens evaluated per typing request against the
physical minimum, from a reference server that had read every file before typing.
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


def build_fast_trace(others: int, chars: int) -> tuple[list[str], list[str], list[Step]]:
    """The first file gets a line (code, `chars` long or more) hidden and typed back one
    character at a time; the next `others` files are opened just before the typing starts."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [(stdlib / name).read_text() for name in FILES[: others + 1]]
    uris = [f"file:///bench/{i}_{Path(name).name}" for i, name in enumerate(FILES[: others + 1])]
    lines = texts[0].split("\n")
    row = next(r for r in range(int(len(lines) * 0.6), len(lines))
               if len(lines[r].strip()) >= chars and not lines[r].strip().startswith("#") and "'" not in lines[r] and '"' not in lines[r])
    hidden = lines[row]
    indent = len(hidden) - len(hidden.lstrip())
    steps = []
    for k in range(chars + 1):
        lines[row] = hidden[: indent + k]
        steps.append(Step(0, "cold" if k == 0 else "type", "\n".join(lines), row, indent + k))
    texts[0] = steps[0].text
    return texts, uris, steps


async def run_fast(configs: list[str], vocab: Model, texts, uris, steps):
    """Each configuration on its own (no other server slows its pace): the first file open
    and completed once, the others opened, then every keystroke right after the last answer.
    The reference server, with every file open and read before typing, gives the prompts
    the physical minimum is counted on."""
    results: dict[str, list[Request]] = {}
    rss = {}
    for config in configs:
        server = Sokuji(config)
        await server.start(uris[:1], texts[:1])
        try:
            reqs = [await server.complete(uris[0], steps[0], 0)]  # the model is loaded, the file warm
            for uri, text in zip(uris[1:], texts[1:]):
                server.open(uri, text)
            for step in steps[1:]:
                server.type(uris[0], step)
                reqs.append(await server.complete(uris[0], step, 0))
            results[config] = reqs
        finally:
            rss[config] = await server.stop()
    source = Sokuji("off")
    await source.start(uris, texts)
    tokens = []
    try:
        for n, step in enumerate(steps):
            if n:
                source.type(uris[0], step)
            tokens.append(vocab.llm.tokenize((await source.prompt(uris[0], step)).encode(), add_bos=False, special=True))
    finally:
        await source.stop()
    for reqs in results.values():
        for req, toks in zip(reqs, tokens):
            req.prompt_tokens = len(toks)
    return results, rss, tokens


def print_fast(results: dict[str, list["Request"]], rss: dict[str, float], tokens: list[list[int]], others: int) -> None:
    typed = len(tokens) - 1
    print(f"fast trace: {others} files opened, then {typed} keystrokes typed, each sent as soon as the "
          f"previous answer arrived; prompts {min(map(len, tokens))}-{max(map(len, tokens))} tokens, maxTokens {MAX_TOKENS}\n")
    head = ["config", "model calls", "result hits", "eval/req typing", "min typing", "eval/min", "max eval", "p50 typing s", "peak RSS MB"]
    print(" | ".join(f"{h:>15}" for h in head))
    for config, reqs in results.items():
        typing = [r for r in reqs if r.kind == "type" and not r.from_results]
        evaluated, minimum = float(avg([r.evaluated for r in typing])), float(avg([r.minimum for r in typing]))
        row = [len(typing), sum(r.from_results for r in reqs), evaluated, minimum, evaluated / max(minimum, 1e-9),
               max((r.evaluated for r in typing), default=0), pct([r.latency for r in reqs if r.kind == "type"], 0.5), rss[config]]
        print(" | ".join([f"{config:>15}", *(f"{v:15d}" if isinstance(v, int) else f"{v:15.2f}" for v in row)]))
    print("\n(the minimum: tokens after the first one that changed, the reference prompt tokenized whole; the"
          "\nserver tokenizes its parts apart, so a keystroke can cost it a token less)")


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


class Sokuji:
    """One `sokuji serve` over LSP, holding the trace's files open."""

    def __init__(self, config: str) -> None:
        self.config = config
        self.client = make_test_lsp_client()
        self.versions: dict[str, int] = {}
        self.current: dict[str, str] = {}

    async def start(self, uris: list[str], texts: list[str]) -> None:
        await self.client.start_io(sys.executable, "-m", "lsp_server", "serve")
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(inline_completion=types.InlineCompletionClientCapabilities()),
            window=types.WindowClientCapabilities(work_done_progress=False),
        )
        options = {"maxTokens": MAX_TOKENS, "timeBudgetMs": 60_000, "contextSize": CONTEXT,
                   "kvCache": self.config, "kvCachePersist": False}
        await self.client.initialize_session(types.InitializeParams(capabilities=caps, initialization_options=options))
        for uri, text in zip(uris, texts):
            self.open(uri, text)

    def type(self, uri: str, step: Step) -> None:
        """The typed line replaced, as an editor sends it: a range, not the whole file."""
        old_line = self.current[uri].split("\n")[step.line]
        self.current[uri] = step.text
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(step.line, 0), types.Position(step.line, len(old_line))),
                text=step.text.split("\n")[step.line])]))

    async def prompt(self, uri: str, step: Step) -> str:
        """The prompt sokuji's model is given at this step, as text (`sokuji.context`)."""
        reply = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.context", arguments=[uri, step.line, step.col]))
        return reply["prompt"]

    def open(self, uri: str, text: str) -> None:
        self.versions[uri], self.current[uri] = 1, text
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))

    async def complete(self, uri: str, step: Step, n_tokens: int) -> Request:
        n_logs = len(self.client.log_messages)
        t0 = time.perf_counter()
        await self.client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=step.line, character=step.col),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        latency = time.perf_counter() - t0
        match = None
        for _ in range(100):  # the log line is written before the answer; a lagging one is waited for
            match = next((m for m in map(LOG.search, (x.message for x in self.client.log_messages[n_logs:])) if m), None)
            if match:
                break
            await asyncio.sleep(0.01)
        evaluated = int(match.group(4)) if match else 0
        hit = bool(match) and match.group(2) == "cache"
        generated, model_ms = (int(match.group(5)), int(match.group(6))) if match else (0, 0)
        return Request(self.config, step.kind, step.file, latency, n_tokens, evaluated, 0, hit, generated, model_ms / 1000)

    async def stop(self) -> float:
        stats = await self.client.workspace_execute_command_async(types.ExecuteCommandParams(command="sokuji.stats"))
        rss = peak_rss_mb(stats["pid"])  # the server's, not the supervisor's in front of it
        await self.client.shutdown_session()
        await self.client.stop()
        return rss


class LlamaServer:
    """llama.cpp's own server, driven as llama.vim drives it: one slot, `cache_prompt`,
    `--cache-reuse 256`, its host-RAM prompt cache on by default. With `reuse`, also
    llama.vim's own client-side reuse (autoload/llama.vim, s:fim_try_hint): a suggestion
    received for a context up to 128 characters back is shown again, less what was typed
    since, when what was typed is its start; the server is not asked."""

    def __init__(self, binary: str, reuse: bool = False, port: int = 0) -> None:
        self.config = "llama.vim" if reuse else "llama-server"
        self.reuse = reuse
        self.shown: list[tuple[str, str]] = []  # (prompt, suggestion), newest last
        self.port = 18080 + os.getpid() % 1000 + port
        self.proc = subprocess.Popen(
            [binary, "-m", embedded_model_path(), "-c", str(CONTEXT), "--parallel", "1", "--cache-reuse", "256",
             "-t", str(os.cpu_count()), "--port", str(self.port), "--host", "127.0.0.1", "--no-webui"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)

    def complete(self, step: Step, prompt: str, n_tokens: int) -> Request:
        t0 = time.perf_counter()
        for before, content in reversed(self.shown) if self.reuse else ():
            typed = prompt[len(before) :]
            if prompt.startswith(before) and len(typed) <= 128 and content.startswith(typed) and content != typed:
                return Request(self.config, step.kind, step.file, time.perf_counter() - t0, n_tokens, 0, 0, True)
        body = json.dumps({"prompt": prompt, "n_predict": MAX_TOKENS, "cache_prompt": True,
                           "temperature": 0, "stop": ["\n"], "id_slot": 0}).encode()
        t0 = time.perf_counter()
        req = urllib.request.Request(f"{self.url}/completion", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            reply = json.loads(r.read())
        latency = time.perf_counter() - t0
        timings = reply.get("timings", {})
        model_s = (timings.get("prompt_ms", 0) + timings.get("predicted_ms", 0)) / 1000
        if reply.get("content"):
            self.shown = [*self.shown[-249:], (prompt, reply["content"])]  # llama.vim keeps 250
        return Request(self.config, step.kind, step.file, latency, n_tokens, timings.get("prompt_n", 0), 0,
                       generated=timings.get("predicted_n", 0), model_s=model_s)

    def stop(self) -> float:
        rss = peak_rss_mb(self.proc.pid)
        self.proc.terminate()
        self.proc.wait()
        return rss


async def run_trace(configs: list[str], binary: str | None, vocab: Model, texts, uris, steps):
    """Every configuration serves every step, interleaved (the order rotating from step to
    step), so a noisy machine slows them alike. A server of its own gives the prompt that
    llama-server is sent: the very text sokuji's model sees, without warming the others."""
    servers: list = [Sokuji(config) for config in configs]
    source = Sokuji("off")
    for server in [*servers, source]:
        await server.start(uris, texts)
    if binary:
        servers += [LlamaServer(binary), LlamaServer(binary, reuse=True, port=1)]
    results: dict[str, list[Request]] = {server.config: [] for server in servers}
    tokens = []
    bos = vocab.llm.detokenize(vocab.prompt_tokens(Prompt("", "")), special=True).decode()
    try:
        for n, step in enumerate(steps):
            uri = uris[step.file]
            for server in [*servers, source]:
                if isinstance(server, Sokuji):
                    server.type(uri, step)
            prompt = await source.prompt(uri, step)
            tokens.append(vocab.llm.tokenize(prompt.encode(), add_bos=False, special=True))
            text = prompt.removeprefix(bos)  # llama-server adds its own BOS
            for server in servers[n % len(servers):] + servers[: n % len(servers)]:
                if isinstance(server, Sokuji):
                    req = await server.complete(uri, step, len(tokens[-1]))
                else:
                    req = await asyncio.to_thread(server.complete, step, text, len(tokens[-1]))
                results[server.config].append(req)
    finally:
        rss = {}
        for server in servers:
            rss[server.config] = await server.stop() if isinstance(server, Sokuji) else server.stop()
        await source.stop()
    return results, rss, tokens


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
    parser.add_argument("--configs", help="the sokuji configurations to run (off,shared,perFile; --fast: perFile)")
    parser.add_argument("--plot", default=str(Path(__file__).with_name("kv_cache.png")))
    parser.add_argument("--fast", action="store_true", help="the fast trace (see above) instead")
    parser.add_argument("--others", type=int, default=6, help="fast trace: files opened right before typing")
    parser.add_argument("--chars", type=int, default=30, help="fast trace: characters typed")
    args = parser.parse_args()
    vocab = Model(embedded_model_path(), vocab_only=True, context_size=CONTEXT)
    try:
        report(args, vocab)
    finally:
        vocab.close()  # before the interpreter tears down (lsp_server/engine/lifetime.py)


def report(args: argparse.Namespace, vocab: Model) -> None:
    if args.fast:
        texts, uris, steps = build_fast_trace(args.others, args.chars)
        results, rss, tokens = asyncio.run(run_fast((args.configs or "perFile").split(","), vocab, texts, uris, steps))
        for reqs in results.values():
            set_minimum(vocab, steps, tokens, reqs)
        print_fast(results, rss, tokens, args.others)
        return

    texts, uris, steps = build_trace(args.files, args.keys)
    configs = (args.configs or "off,shared,perFile").split(",")
    results, rss, tokens = asyncio.run(run_trace(configs, args.llama_server, vocab, texts, uris, steps))
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
        vim = rows["llama.vim"]
        print(f"\nperFile / llama.vim (llama-server and llama.vim's client-side reuse): p50 typing "
              f"{pf['p50 typing'] / vim['p50 typing']:.3f}x, p50 return {pf['p50 return'] / vim['p50 return']:.3f}x, "
              f"p50 all {pf['p50 s'] / vim['p50 s']:.3f}x")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for config, marker in zip(results, "ox^sv"):
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
