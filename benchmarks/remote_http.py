"""The remote engine's client, before and after its move onto httpx: per-request p50 latency of
the old RemoteEngine (http.client, a new connection per request) and the new one (httpx, one
client per engine, connections kept), back to back against the same servers, rounds interleaved.

    git worktree add /tmp/remote_old <the commit before the move>
    .venv/bin/python benchmarks/remote_http.py [--old /tmp/remote_old] [--rounds 5] [--requests 20]

Each RemoteEngine runs in a process of its own (PYTHONPATH: the old tree or this one) that
keeps its engine between rounds. Servers, both on loopback:
- a tiny fake OpenAI-style server in this process that answers at once (what the client costs);
- llama-cpp-python's server (`python -m llama_cpp.server`) with the embedded model (`--no-llama`: skip).
Request kinds: a streamed completion (max 8 tokens, the same prompt each time, so the server
reuses its evaluated prefix), and count_tokens on text never seen (the engine's cache misses).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.test_remote_e2e import free_port, start_engine  # noqa: E402

KINDS = {"complete": "streamed completion (8 tokens)", "tokenize": "tokenize (count_tokens, cache miss)"}

# Runs in each tree's process: one engine per server URL, kept; a command in, latencies out.
WORKER = r"""
import json, sys, time
from lsp_server.engine import remote
from lsp_server.structs import CancelToken, GenParams, Prompt

PROMPT = Prompt(prefix="def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    ", suffix="")
PARAMS = GenParams(max_tokens=8, time_budget_ms=60000, temperature=0.0)
print(json.dumps({"module": remote.__file__}), flush=True)
engines, fresh = {}, 0
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["url"] not in engines:
        engines[cmd["url"]] = remote.RemoteEngine("openai", cmd["url"], timeout_s=60)
    engine, times, text = engines[cmd["url"]], [], ""
    for _ in range(cmd["n"]):
        fresh += 1
        started = time.perf_counter()
        if cmd["kind"] == "complete":
            text = engine.complete(PROMPT, PARAMS, CancelToken()).text
        else:
            engine.count_tokens(f"def f{fresh}(x):\n    return x * {fresh}\n")
        times.append(time.perf_counter() - started)
    print(json.dumps({"times": times, "text": text}), flush=True)
"""


class Worker:
    def __init__(self, tree: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.module = json.loads(self.proc.stdout.readline())["module"]

    def run(self, url: str, kind: str, n: int) -> dict:
        self.proc.stdin.write(json.dumps({"url": url, "kind": kind, "n": n}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


class FakeHandler(BaseHTTPRequestHandler):
    """An OpenAI-style server that answers at once: 8 tokens, each its own SSE event."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as a real server's events, each leaves at once

    def log_message(self, *args) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # the old client closes at [DONE], before the body's end
            super().handle()

    def do_GET(self) -> None:
        self.answer({"data": [{"id": "fake"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/extras/tokenize":
            return self.answer({"tokens": [1] + [2] * len(body["input"].split())})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(8):
            self.chunk({"choices": [{"text": f" tok{i}", "finish_reason": None}]})
        self.chunk({"choices": [{"text": "", "finish_reason": "length"}]})
        self.chunk("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def answer(self, data: dict) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def chunk(self, data: dict | str) -> None:
        event = b"data: " + (data if isinstance(data, str) else json.dumps(data)).encode() + b"\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))


def start_llama_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    return start_engine(port), f"http://127.0.0.1:{port}/v1"  # the remote tests' own server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", default="/tmp/remote_old", help="a worktree of the commit before the move")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20, help="per kind, server, tree and round")
    parser.add_argument("--no-llama", action="store_true", help="only the fake server")
    args = parser.parse_args()

    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeHandler)
    fake.daemon_threads = True
    threading.Thread(target=fake.serve_forever, args=(0.05,), daemon=True).start()
    servers = {"fake server": f"http://127.0.0.1:{fake.server_address[1]}/v1"}
    llama = None
    if not args.no_llama:
        llama, servers["llama-cpp-python"] = start_llama_server()
    workers = {"old": Worker(Path(args.old).resolve()), "new": Worker(ROOT)}
    try:
        for name, worker in workers.items():
            print(f"{name}: {worker.module}", file=sys.stderr)
        times: dict[tuple[str, str, str], list[float]] = {}
        texts: dict[tuple[str, str], set[str]] = {}
        for server, url in servers.items():  # warm up: imports, the probe, the tokenizer's path, the server
            for worker in workers.values():
                for kind in KINDS:
                    worker.run(url, kind, 3)
        for round_ in range(args.rounds):
            order = list(workers) if round_ % 2 == 0 else list(reversed(workers))
            for server, url in servers.items():
                for kind in KINDS:
                    for name in order:
                        result = workers[name].run(url, kind, args.requests)
                        times.setdefault((server, kind, name), []).extend(result["times"])
                        if kind == "complete":
                            texts.setdefault((server, name), set()).add(result["text"])
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for worker in workers.values():
            worker.close()
        fake.shutdown()
        if llama is not None:
            llama.kill()
            llama.wait(10)

    print(f"\n{args.rounds} rounds x {args.requests} requests per kind, server and client; p50 per request\n")
    print("| request kind | p50 old (ms) | p50 new (ms) | new / old |")
    print("|---|---:|---:|---:|")
    for server in servers:
        for kind, label in KINDS.items():
            old, new = (statistics.median(times[(server, kind, name)]) * 1000 for name in ("old", "new"))
            print(f"| {server}: {label} | {old:.2f} | {new:.2f} | {new / old:.2f} |")
    for server in servers:
        same = texts[(server, "old")] == texts[(server, "new")]
        print(f"\n{server}: the completions' text {'is the same' if same else 'DIFFERS'} old and new: "
              f"{sorted(texts[(server, 'new')])!r}")


if __name__ == "__main__":
    main()
