"""A native crash in the server (a real SIGSEGV or abort() at a fault point, as llama.cpp's
would be) does not end the editor's session: the supervisor in front of it (`sokuji serve`)
answers the request in flight, tells the user once, restarts the server with its state
replayed, and steps down to safer modes when crashes in the model repeat. Real server,
real model, raw JSON-RPC over the relay's stdio."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .test_robustness import FIB, RawClient

URI = "file:///w/fib.py"
EDITED = "# edited before the crash\n"
BROKEN = "def total(values, factor):\n    result = sum(values\n    return result * factor\n"


class Editor(RawClient):
    """A client that, as an editor does, answers the server's requests and keeps every
    message it reads."""

    def __init__(self, faults: str, crash_log: Path) -> None:
        super().__init__(stderr=subprocess.PIPE, env={"SOKUJI_FAULTS": faults, "SOKUJI_LOG_LEVEL": "INFO",
                                                      "SOKUJI_CRASH_LOG": str(crash_log)})
        self.seen: list[dict] = []
        self._next = 100
        self._stderr: list[bytes] = []
        threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True).start()

    def read(self) -> dict:
        message = super().read()
        self.seen.append(message)
        if "method" in message and "id" in message:  # the server asks: answer as VS Code would
            result = [None] if message["method"] == "workspace/configuration" else None
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        return message

    def request(self, method: str, params: dict) -> dict:
        self._next += 1
        self.send({"jsonrpc": "2.0", "id": self._next, "method": method, "params": params})
        return self.answer(self._next)

    def complete(self, line: int = 4, character: int = 4) -> dict:
        return self.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": {"line": line, "character": character}})

    def idle(self) -> None:
        """Until no block is written in the background (the engine thread is out of the model)."""
        deadline = time.monotonic() + 120
        while self.stats()["blockWriting"] and time.monotonic() < deadline:
            time.sleep(0.05)

    def stats(self) -> dict:
        """The server's counters. A request that reached a server as it died is answered with
        RequestFailed (the relay's answer): ask again."""
        while "result" not in (answer := self.request("workspace/executeCommand", {"command": "sokuji.stats"})):
            assert answer["error"]["code"] == -32803 and "crashed" in answer["error"]["message"], answer
        return answer["result"]

    def shown(self) -> list[str]:
        return [m["params"]["message"] for m in self.seen if m.get("method") == "window/showMessage"]

    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def __enter__(self) -> "Editor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def end(self) -> int:
        self.request("shutdown", {})
        self.send({"jsonrpc": "2.0", "method": "exit"})
        return self.proc.wait(60)


def begin(client: Editor, text: str = FIB) -> None:
    client.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "capabilities": {"window": {"workDoneProgress": True}}, "initializationOptions": {"kvCachePersist": False, "lineStartConfidence": 0}}})
    assert "result" in client.answer(1)
    client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    client.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": URI, "languageId": "python", "version": 1, "text": text}}})


def edit(client: Editor, version: int, text: str, line: int = 0) -> None:
    at = {"line": line, "character": 0}
    client.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": URI, "version": version}, "contentChanges": [{"range": {"start": at, "end": at}, "text": text}]}})


def test_a_segfault_mid_decode_is_answered_and_the_session_goes_on(tmp_path):
    with Editor("crash:decode@2", tmp_path / "crashes.jsonl") as client:
        begin(client)
        edit(client, 2, EDITED)
        crashed = client.complete(5, 4)
        assert crashed["result"] == {"isIncomplete": False, "items": []}  # answered, empty: no error popup
        assert [m for m in client.shown() if "crashed" in m] == [
            "sokuji: the server crashed (SIGSEGV) inside the model (llama.cpp); restarting it."]
        # a cancel for the request the relay answered goes nowhere; the session goes on
        client.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": crashed["id"]}})
        edit(client, 3, "# and after it\n", line=1)
        again = client.complete(6, 4)
        assert again["result"]["items"] and again["result"]["items"][0]["textEdit"]["newText"].strip()  # the model's answer
        ctx = client.request("workspace/executeCommand", {"command": "sokuji.context", "arguments": [URI, 6, 4]})["result"]
        assert EDITED + "# and after it\n" + FIB.splitlines(keepends=True)[0] in ctx["prompt"]  # both edits, in order
        stats = client.stats()
        assert (stats["crashes"], stats["engineMode"], stats["modelReady"]) == (1, "normal", True)
        # the server's requests carried the relay's ids, unique across the restart; progress tokens too
        server_ids = [m["id"] for m in client.seen if "method" in m and "id" in m]
        assert len(server_ids) == len(set(server_ids)) >= 2
        begun = [m["params"]["token"] for m in client.seen if m.get("method") == "$/progress"
                 and m["params"]["value"]["kind"] == "begin"]
        ended = [m["params"]["token"] for m in client.seen if m.get("method") == "$/progress"
                 and m["params"]["value"]["kind"] == "end"]
        assert len(begun) == len(set(begun)) == 2 and sorted(begun) == sorted(ended), (begun, ended)
        assert client.end() == 0
        assert "Fatal Python error: Segmentation fault" in client.stderr()  # the child's stack, in the log


def test_an_abort_is_survived_the_same_way(tmp_path):
    with Editor("abort:decode@1", tmp_path / "crashes.jsonl") as client:
        begin(client)
        assert client.complete()["result"]["items"] == []
        assert any("crashed (SIGABRT)" in m for m in client.shown())
        assert client.complete()["result"]["items"]
        assert client.end() == 0


def doctor_crashes(log: Path) -> list[str]:
    """The crashes `sokuji doctor` reports from the supervisor's record, without their times."""
    done = subprocess.run([sys.executable, "-m", "lsp_server", "doctor"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SOKUJI_CRASH_LOG": str(log)})
    lines = done.stdout.split("server crashes")[1].splitlines()[1:]
    return [line.split(" ", 3)[3] for line in lines if line.startswith("  20")]


def wait_mode(client: Editor, mode: str, seconds: float = 240) -> dict:
    """Ask for completions (each one crashes the server while it may) until it runs in `mode`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        client.complete()
        stats = client.stats()
        if stats["engineMode"] == mode:
            return stats
    raise AssertionError(f"never reached {mode}: {client.shown()}")


def test_repeated_crashes_in_the_model_step_down_to_no_model_and_fixes_still_work(tmp_path):
    """Four crashes while decoding on this CPU-only build: normal, normal again (stepped down to
    plain buffers), plain buffers, plain buffers again (no GPU to turn off: stepped to no model)."""
    with Editor("crash:decode@1*4", tmp_path / "crashes.jsonl") as client:
        begin(client, BROKEN)
        stats = wait_mode(client, "noModel")
        assert stats["crashes"] == 4 and not stats["modelReady"]
        crashed = [m for m in client.shown() if "crashed" in m]
        assert crashed == [
            "sokuji: the server crashed (SIGSEGV) inside the model (llama.cpp); restarting it.",
            "sokuji: the server crashed (SIGSEGV) inside the model (llama.cpp); restarting it without extra buffer "
            "types (no AMX, no repacking).",
            "sokuji: the server crashed (SIGSEGV) inside the model (llama.cpp); restarting it (still plainBuffers).",
            "sokuji: the server crashed (SIGSEGV) inside the model (llama.cpp); restarting it without a model: "
            "diagnostics and checked fixes go on, completions are off.",
        ], client.shown()
        assert client.complete()["result"]["items"] == []  # answered, empty
        assert doctor_crashes(tmp_path / "crashes.jsonl") == [
            "SIGSEGV inside the model: restarted in mode normal",
            "SIGSEGV inside the model: restarted in mode plainBuffers, stepped down",
            "SIGSEGV inside the model: restarted in mode plainBuffers",
            "SIGSEGV inside the model: restarted in mode noModel, stepped down",
        ]
        diagnostics = [m for m in client.seen if m.get("method") == "textDocument/publishDiagnostics"
                       and m["params"]["diagnostics"]]
        problem = diagnostics[-1]["params"]["diagnostics"][0]
        actions = client.request("textDocument/codeAction", {
            "textDocument": {"uri": URI}, "range": problem["range"], "context": {"diagnostics": [problem]}})["result"]
        assert any(a["title"].startswith("Fix with sokuji: insert ')'") for a in actions), actions
        assert client.end() == 0


def test_crashes_outside_the_model_restart_without_stepping_down(tmp_path):
    with Editor("crash:change@1*2", tmp_path / "crashes.jsonl") as client:
        begin(client)
        assert client.complete()["result"]["items"]  # the model is loaded ...
        client.idle()  # ... and idle: the block the completion began is written
        edit(client, 2, "# one\n")  # the first server dies handling it
        assert client.stats()["crashes"] == 1
        # the relay knows whether a job was in the model, not which thread crashed: the new
        # server's model load must be over before the loop dies again
        assert client.complete()["result"]["items"]
        client.idle()
        edit(client, 3, "# two\n")  # and the second
        stats = client.stats()
        assert (stats["crashes"], stats["engineMode"]) == (2, "normal")
        assert [m for m in client.shown() if "crashed" in m] == [
            "sokuji: the server crashed (SIGSEGV) outside the model; restarting it."] * 2
        ctx = client.request("workspace/executeCommand", {"command": "sokuji.context", "arguments": [URI, 2, 0]})["result"]
        assert ctx["prompt"].endswith("# two\n# one\n")  # the prefix up to line 2: both edits
        assert client.complete(6, 4)["result"]["items"]
        assert client.end() == 0
