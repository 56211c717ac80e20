"""sokuji on an existing inference server: llama-cpp-python's OpenAI-compatible server,
started here on loopback with the embedded model, doing the generating for completions and
fixes; cancelled requests, and the server going away and coming back."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from lsprotocol import types

from lsp_server.engine.embedded import embedded_model_path

from ..helpers.e2e import cancel_when_held, capabilities, completion_logs, inline, open_doc, session, wait_stat
from .test_fixes_e2e import BROKEN, FIXED, apply, code_actions, resolve

FIB = "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    "
STATES = "# The fifty states of the USA, one per line\nSTATES = [\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_engine(port: int) -> subprocess.Popen:
    """llama-cpp-python's server with the embedded model; returns once it answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", embedded_model_path(), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("llama_cpp.server exited") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start")


def stop_engine(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(10)


@pytest.fixture
def engine():
    port = free_port()
    proc = start_engine(port)
    yield port, proc
    if proc.poll() is None:
        stop_engine(proc)


def options(port: int, **more) -> dict:
    return {"engine": "openai", "url": f"http://127.0.0.1:{port}/v1", "timeoutMs": 10000, **more}


async def test_completion_and_fix_come_from_the_remote_engine(engine, tmp_path: Path):
    port, _ = engine
    async with session(capabilities(inline=True), options(port)) as client:
        uri = (tmp_path / "fib.py").as_uri()
        open_doc(client, uri, FIB)
        first = (await inline(client, uri, 3, 4)).items[0].insert_text  # a block's first line ...
        logs = completion_logs(client)
        assert logs and "stop=" in logs[-1]
        await wait_stat(client, "blocksWhole", lambda n: n == 1, 300)  # ... the rest written in the background
        text = (await inline(client, uri, 3, 4)).items[0].insert_text
        assert text.startswith(first + "\n")
        assert "fibonacci(n - 1)" in text.replace("n-1", "n - 1"), text  # the model's body, over HTTP

        # an explicit ask gets alternatives here too: first tokens from the server's logprobs
        asked = [item.insert_text for item in (await inline(client, uri, 3, 4, invoked=True)).items]
        assert asked[0] == text and len(asked) >= 2, asked
        firsts = [t.strip().split("\n", 1)[0].strip() for t in asked]
        assert len(set(firsts)) == len(firsts), asked

        # fixes go through the engine too (it gives no scores: the first repair that parses)
        broken = (tmp_path / "calc.py").as_uri()
        open_doc(client, broken, BROKEN)
        diag = types.Diagnostic(
            range=types.Range(start=types.Position(line=1, character=4), end=types.Position(line=1, character=23)),
            message="missing ')'", source="sokuji",
        )
        (action,) = await code_actions(client, broken, [diag])
        resolved = await resolve(client, action)
        assert apply(BROKEN, resolved.edit, broken, 1) == FIXED
        stats = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="sokuji.stats"))
        assert stats["requestsServed"] >= 1

        # healing's equivalent: the partial word leaves the prompt, the answer must spell it first
        listd = (tmp_path / "listd.py").as_uri()
        open_doc(client, listd, "import os\nfiles = os.listd")
        result = await inline(client, listd, 1, len("files = os.listd"))
        assert result.items and result.items[0].insert_text.startswith("ir"), result.items
        assert "healed=5" in completion_logs(client)[-1]


async def test_cancel_closes_the_request_and_the_next_one_works(engine):
    port, _ = engine
    hold = {"SOKUJI_FAULTS": "hold:token@2"}  # the stream's 2nd event waits for the cancel (lsp_server/faults.py)
    async with session(capabilities(inline=True), options(port, maxTokens=40), env=hold) as client:
        uri = "file:///work/states.txt"
        open_doc(client, uri, STATES, language="plaintext")
        await cancel_when_held(client, uri, 2, 0, "remote-1")  # streaming is under way
        for _ in range(100):  # the worker logs once the stream is closed
            cancelled = [m for m in completion_logs(client) if "stop=cancelled" in m]
            if cancelled:
                break
            await asyncio.sleep(0.1)
        assert cancelled, completion_logs(client)
        assert int(cancelled[0].split("generated=")[1].split(",")[0]) <= 2  # stopped at the event it was on
        result = await inline(client, uri, 2, 0)
        assert result.items and result.items[0].insert_text.strip()


async def test_engine_killed_and_restarted_mid_session(engine, tmp_path: Path):
    port, proc = engine
    async with session(capabilities(inline=True), options(port, timeoutMs=60000)) as client:
        uri = (tmp_path / "fib.py").as_uri()
        open_doc(client, uri, FIB)
        assert (await inline(client, uri, 3, 4)).items

        stop_engine(proc)
        for i in range(3):  # while it is down: empty answers, and one message, not one per request
            other = (tmp_path / f"down{i}.py").as_uri()  # new text: not served from the result cache
            open_doc(client, other, FIB.replace("fibonacci", f"fib{i}"))
            assert not (await inline(client, other, 3, 4)).items
        errors = [m for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0].message, errors

        restarted = start_engine(port)
        try:
            back = (tmp_path / "back.py").as_uri()
            open_doc(client, back, FIB.replace("fibonacci", "fib_again"))
            result = await inline(client, back, 3, 4)  # the restarted server loads its model first: timeoutMs
            assert result.items and result.items[0].insert_text.strip(), (client.messages, completion_logs(client))
            infos = [m for m in client.messages if m.type == types.MessageType.Info and "answers again" in m.message]
            assert len(infos) == 1
        finally:
            stop_engine(restarted)


LLAMA_SERVER = os.environ.get("SOKUJI_LLAMA_SERVER")  # a llama-server binary (not built by CI: ~10 min)


@pytest.mark.skipif(not LLAMA_SERVER, reason="set SOKUJI_LLAMA_SERVER to a llama-server binary to run")
async def test_llama_server_flavor(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen([LLAMA_SERVER, "-m", embedded_model_path(), "--port", str(port), "-c", "4096", "-np", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        async with session(capabilities(inline=True), {"engine": "llama-server", "url": f"http://127.0.0.1:{port}"}) as client:
            uri = (tmp_path / "fib.py").as_uri()
            open_doc(client, uri, FIB)
            text = (await inline(client, uri, 3, 4)).items[0].insert_text
            assert "return" in text, text  # the model's body for the function, through /completion
    finally:
        stop_engine(proc)
