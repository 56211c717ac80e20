"""What the supervisor costs: the latency it adds per request and its memory, against the
server on its own (`serve --no-supervisor`), measured in the same run, rounds interleaved.

    .venv/bin/python benchmarks/relay_cost.py [--requests 400] [--rounds 5]

Per request kind, a round trip over stdio from a client in this process:
- `sokuji.stats` (a request the server answers on its event loop: the relay's pure overhead);
- a keystroke: a didChange, then a completion at the cursor on the embedded model (what an
  editor does while typing; the model's time dominates);
- a didOpen of a 200 kB file followed by `sokuji.stats` (the relay reads every didOpen and
  didChange to keep the buffer for a replay).
The relay's memory: its RSS beside the server's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "lsp_server", "serve"]
FIB = "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    \n"
BIG = (ROOT / "lsp_server" / "context" / "prompt.py").read_text() * 12  # ~200 kB


class Client:
    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self) -> dict:
        length = 0
        while (line := self.proc.stdout.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id and "method" not in message:
                return message

    def note(self, method: str, params: dict) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def stats(self) -> dict:
        return self.request("workspace/executeCommand", {"command": "sokuji.stats"})["result"]

    def close(self) -> None:
        self.request("shutdown", {})
        self.note("exit", {})
        self.proc.wait(60)


def start(argv: list[str]) -> Client:
    client = Client(argv)
    client.request("initialize", {"capabilities": {}, "initializationOptions": {"kvCachePersist": False, "maxTokens": 8}})
    client.note("initialized", {})
    client.note("textDocument/didOpen", {"textDocument": {"uri": "file:///w/fib.py", "languageId": "python",
                                                          "version": 1, "text": FIB}})
    while not client.stats()["modelReady"]:
        time.sleep(0.1)
    return client


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def run_round(client: Client, requests: int, version: list[int]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"stats": [], "keystroke": [], "open 200 kB": []}
    for _ in range(requests):
        out["stats"].append(timed(client.stats))

    def keystroke() -> None:
        version[0] += 1
        at = {"line": 3, "character": 4}
        client.note("textDocument/didChange", {"textDocument": {"uri": "file:///w/fib.py", "version": version[0]},
                                               "contentChanges": [{"range": {"start": at, "end": at}, "text": ""}]})
        client.request("textDocument/completion", {"textDocument": {"uri": "file:///w/fib.py"}, "position": at})

    for _ in range(max(5, requests // 40)):
        out["keystroke"].append(timed(keystroke))

    def open_big() -> None:
        version[0] += 1
        uri = f"file:///w/big{version[0]}.py"
        client.note("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": BIG}})
        client.stats()
        client.note("textDocument/didClose", {"textDocument": {"uri": uri}})

    for _ in range(max(5, requests // 40)):
        out["open 200 kB"].append(timed(open_big))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.chdir(ROOT)
    alone, relayed = start(SERVE + ["--no-supervisor"]), start(SERVE)
    times: dict[str, dict[str, list[float]]] = {"alone": {}, "relayed": {}}
    versions = {"alone": [1], "relayed": [1]}
    try:
        for _ in range(args.rounds):  # interleaved: both see the same machine
            for name, client in (("alone", alone), ("relayed", relayed)):
                for kind, values in run_round(client, args.requests, versions[name]).items():
                    times[name].setdefault(kind, []).extend(values)
        server_pid = relayed.stats()["pid"]
        memory = (rss_mib(relayed.proc.pid), rss_mib(server_pid), rss_mib(alone.proc.pid))
    finally:
        alone.close()
        relayed.close()
    print(f"\nrelay cost: {args.rounds} rounds interleaved, {args.requests} stats requests a round\n")
    print("| request | n | p50 alone (ms) | p50 relayed (ms) | added p50 (ms) | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in times["alone"]:
        a, r = statistics.median(times["alone"][kind]), statistics.median(times["relayed"][kind])
        print(f"| {kind} | {len(times['alone'][kind])} | {a:.3f} | {r:.3f} | {r - a:+.3f} | {r / a:.3f} |")
    relay, server, alone_rss = memory
    print(f"\n| memory | RSS (MiB) |\n|---|---:|\n| the relay (`sokuji serve`) | {relay:.1f} |"
          f"\n| its server | {server:.1f} |\n| the server alone (`--no-supervisor`) | {alone_rss:.1f} |"
          f"\n| relay / server | {relay / server:.3f} |")


if __name__ == "__main__":
    main()
