"""Every process that loads a model exits with status 0, its model closed before the
interpreter tears down. With a CUDA build a llama.cpp model freed after the CUDA runtime had
gone crashed the process at exit, and an editor reports a server that crashes on exit.

That crash cannot happen on a CPU, so these tests check the order instead: the server says
"engine closed" once its engine thread has stopped, and no process leaves a model open for
the interpreter's exit (lsp_server/engine/lifetime.py would close it then, and say so)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_robustness import FIB, RawClient

ROOT = Path(__file__).resolve().parents[2]
LEFT_OPEN = "was still open at exit"
HUMANEVAL = ROOT.parent / "shared" / "eval" / "humaneval-infilling"  # benchmarks/humaneval_infill.py's default
HELD = {"SOKUJI_FAULTS": "hold:token@1", "SOKUJI_LOG_LEVEL": "INFO"}  # the first completion waits, mid-decode, for its cancel


def held_completion(client: RawClient) -> None:
    """Open FIB and ask for a completion that the server then holds mid-decode (faults.py)."""
    client.start()
    client.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": "file:///w/fib.py", "languageId": "python", "version": 1, "text": FIB}}})
    client.send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion",
                 "params": {"textDocument": {"uri": "file:///w/fib.py"}, "position": {"line": 3, "character": 4}}})
    client.logged("holding at 'token'")


def finish(client: RawClient) -> tuple[int, str]:
    if client.proc.stdin.closed:
        client.proc.stdin = None  # closed on purpose: communicate() must not flush it
    try:
        _, err = client.proc.communicate(timeout=60)
    finally:
        client.close()
    return client.proc.returncode, err.decode(errors="replace")


def test_serve_exits_0_after_shutdown_and_exit_with_a_completion_mid_decode():
    client = RawClient(stderr=subprocess.PIPE, env=HELD)
    held_completion(client)
    client.send({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
    assert client.answer(2)["result"]["items"] == []  # cancelled by the shutdown: answered, empty
    assert client.answer(3)["result"] is None
    client.send({"jsonrpc": "2.0", "method": "exit"})
    returncode, err = finish(client)
    assert returncode == 0, err[-3000:]
    assert "engine closed" in err and LEFT_OPEN not in err, err[-3000:]


def test_serve_exits_0_when_stdin_closes_mid_decode():
    """An editor that goes away without shutdown: stdin ends while the model is decoding."""
    client = RawClient(stderr=subprocess.PIPE, env=HELD)
    held_completion(client)
    client.proc.stdin.close()
    returncode, err = finish(client)
    assert returncode == 0, err[-3000:]
    assert "engine closed" in err and LEFT_OPEN not in err, err[-3000:]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "SOKUJI_LOG_LEVEL": "INFO"})


def test_a_model_left_open_is_closed_at_exit_and_named():
    """The check the other tests rely on: a process that forgets is caught."""
    code = ("from lsp_server.engine.embedded import embedded_model_path\n"
            "from lsp_server.engine.model import Model\n"
            "model = Model(embedded_model_path(), vocab_only=True, context_size=256)\n")
    done = run("-c", code)
    assert done.returncode == 0 and LEFT_OPEN in done.stderr, done.stderr


@pytest.mark.parametrize("args", [
    ["-m", "lsp_server", "complete", "examples/fibonacci.py", "--line", "8", "--col", "5", "--max-tokens", "4"],
    ["-m", "lsp_server", "context", "examples/fibonacci.py", "--line", "7", "--col", "4"],
    ["-m", "lsp_server", "doctor"],
    ["benchmarks/complete_latency.py", "--repeat", "1"],
    ["benchmarks/kv_cache.py", "--fast", "--others", "1", "--chars", "2", "--configs", "perFile"],
    ["benchmarks/context_recall.py", "--python", str(Path(os.__file__).parent / "json"), "--budgets", "256", "--samples", "2"],
    pytest.param(["benchmarks/humaneval_infill.py", "--sets", "single", "--limit", "1"],
                 marks=pytest.mark.skipif(not HUMANEVAL.is_dir(), reason=f"no data set at {HUMANEVAL}")),
], ids=["complete", "context", "doctor", "complete_latency", "kv_cache", "context_recall", "humaneval_infill"])
def test_commands_and_benchmarks_close_their_model_and_exit_0(args):
    done = run(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert LEFT_OPEN not in done.stderr, done.stderr[-3000:]
