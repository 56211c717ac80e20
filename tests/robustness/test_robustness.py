"""Bad input never takes the server down (part of the robustness issue): malformed JSON-RPC,
wrong parameter types, unknown methods, documents never opened, out-of-range edits and
positions, odd text. After each, the server still answers a normal request."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from lsprotocol import types

from lsp_server.engine.embedded import embedded_model_path

from ..helpers.e2e import capabilities, inline, insert, open_doc, session, stats, wait_stat

FIB = "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    \n"


class RawClient:
    """JSON-RPC over the server's stdio, bytes as written: for messages no LSP library sends."""

    def __init__(self, stderr=subprocess.DEVNULL, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "lsp_server", "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr, env={**os.environ, **env} if env else None)
        self._deadline = threading.Timer(120, self.proc.kill)  # an unanswered request fails the test, not CI
        self._deadline.start()

    def send_raw(self, body: bytes) -> None:
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        self.send_raw(json.dumps(message).encode())

    def read(self) -> dict:
        length = 0
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed its output"
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line in (b"\r\n", b"\n"):
                break
        return json.loads(self.proc.stdout.read(length))

    def answer(self, msg_id) -> dict:
        """The response to `msg_id` (notifications and server requests in between are skipped)."""
        while True:
            message = self.read()
            if message.get("id") == msg_id and "method" not in message:
                return message

    def logged(self, words: str) -> None:
        """Read on until a log message (window/logMessage) holds `words`."""
        while words not in self.read().get("params", {}).get("message", ""):
            pass

    def start(self, options: dict | None = None) -> None:
        """initialize (answered) and initialized."""
        self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"capabilities": {}, "initializationOptions": {"kvCachePersist": False, "lineStartConfidence": 0, **(options or {})}}})
        assert "result" in self.answer(1)
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def close(self) -> None:
        self._deadline.cancel()
        self.proc.kill()
        self.proc.wait(10)


def test_malformed_messages_get_errors_and_the_server_keeps_serving():
    client = RawClient()
    try:
        client.start()
        client.send_raw(b'{"jsonrpc": "2.0", "id": 2, "method": "textDoc')  # not JSON
        client.send({"jsonrpc": "2.0", "id": 3, "method": "sokuji/noSuchMethod", "params": {}})
        assert client.answer(3)["error"]["code"] == -32601  # method not found
        client.send({"jsonrpc": "2.0", "id": 4, "method": "textDocument/completion",
                     "params": {"textDocument": 42, "position": "here"}})  # wrong types
        assert "error" in client.answer(4)
        client.send({"jsonrpc": "2.0", "id": 5, "method": "workspace/executeCommand",
                     "params": {"command": "sokuji.stats", "arguments": []}})
        assert client.answer(5)["result"]["requestsServed"] == 0  # still serving
    finally:
        client.close()


async def test_odd_documents_and_positions_are_answered_and_documents_stay_intact():
    async with session(capabilities(inline=True)) as client:
        # a document never opened: an empty answer, not an error
        assert not (await inline(client, "file:///never/opened.py", 0, 0)).items
        # positions past the end of a line and of the file
        open_doc(client, "file:///w/fib.py", FIB)
        for line, character in ((1, 500), (400, 3), (0, 10_000)):
            await inline(client, "file:///w/fib.py", line, character)
        # an edit with a range past the end: clamped to the end, the text stays whole
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri="file:///w/fib.py", version=5),  # skipped versions
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=90, character=0), end=types.Position(line=99, character=9)),
                text="# appended\n")],
        ))
        ctx = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.context", arguments=["file:///w/fib.py", 5, 0]))
        assert ctx["prompt"].rstrip().endswith("return n\n    \n# appended".rstrip())
        # NUL characters, lone surrogates, an unknown languageId, a 100,000-character line
        open_doc(client, "file:///w/odd.txt", "x = '\x00\ud800'\n" + "y" * 100_000 + "\n", language="klingon")
        await inline(client, "file:///w/odd.txt", 1, 100_000)
        await inline(client, "file:///w/odd.txt", 0, 7)
        # and the server still completes normally
        result = await inline(client, "file:///w/fib.py", 3, 4)
        assert result.items and result.items[0].insert_text.strip()


def test_invalid_utf8_is_read_with_replacement_characters_and_answered():
    client = RawClient()
    try:
        client.start()
        # bytes 0xff 0xfe inside the text of a didOpen, then a request whose params hold 0xc3 alone
        client.send_raw(b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": '
                        b'{"uri": "file:///w/bin.py", "languageId": "python", "version": 1, '
                        b'"text": "def f(\xff\xfe):\\n    return 1\\n"}}}')
        client.send_raw(b'{"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand", "params": '
                        b'{"command": "sokuji.context", "arguments": ["file:///w/bin.py", 1, 12, "\xc3"]}}')
        answer = client.answer(2)
        assert "def f(\ufffd\ufffd):\n    return 1" in answer["result"]["prompt"]  # the rest of the text kept
        # a body that is not JSON: JSON-RPC's parse error, id null
        client.send_raw(b'{"jsonrpc": "2.0", "id": 3, "method": ')
        assert client.answer(None)["error"]["code"] == -32700
        client.send({"jsonrpc": "2.0", "id": 4, "method": "workspace/executeCommand",
                     "params": {"command": "sokuji.stats", "arguments": []}})
        assert "result" in client.answer(4)
    finally:
        client.close()


async def test_a_10_mb_file_is_served_as_plain_text():
    import sysconfig

    source = (Path(sysconfig.get_paths()["stdlib"]) / "difflib.py").read_text()
    big = (source * (10_000_000 // len(source) + 1))[:10_000_000]
    big = big[: big.rindex("\n") + 1]
    rows = big.count("\n")
    async with session(capabilities(inline=True), {"maxTokens": 8}) as client:
        uri = "file:///w/big.py"
        open_doc(client, uri, big)
        open_doc(client, "file:///w/fib.py", FIB)
        await inline(client, uri, rows // 2, 4)  # answered (whatever the model writes)
        insert(client, uri, 2, rows, 0, "def appended_at_the_end():\n    ")
        ctx = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.context", arguments=[uri, rows + 1, 4]))
        assert ctx["prompt"].endswith("def appended_at_the_end():\n    ")
        assert any("10.0 MB: kept as plain text" in m.message for m in client.log_messages)
        result = await inline(client, "file:///w/fib.py", 3, 4)
        assert result.items and result.items[0].insert_text.strip()


async def test_bad_model_files_are_reported_and_the_server_keeps_serving(tmp_path: Path):
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("these are not the weights you are looking for\n")
    truncated = tmp_path / "truncated.gguf"
    with open(embedded_model_path(), "rb") as fh:
        truncated.write_bytes(fh.read(1 << 20))  # the first MiB of the real model
    async with session(capabilities(inline=True), {"model": str(not_gguf), "maxTokens": 8}) as client:
        uri = "file:///w/fib.py"
        open_doc(client, uri, FIB)
        assert not (await inline(client, uri, 3, 4)).items
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sokuji": {"model": str(truncated), "maxTokens": 8}}))
        assert not (await inline(client, uri, 3, 4)).items
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 2
        assert "not a GGUF file" in errors[0] and "notes.gguf" in errors[0]
        assert "truncated.gguf" in errors[1]
        # diagnostics need no model: still published
        open_doc(client, "file:///w/broken.py", "def f(:\n    pass\n")
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sokuji": {"maxTokens": 8, "lineStartConfidence": 0}}))  # back to the embedded model
        assert (await inline(client, uri, 3, 4)).items


def _without_root_powers() -> list[str]:
    """A command prefix that makes permission bits bind: root reads through them otherwise."""
    if os.geteuid() != 0:
        return []
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--"]


async def test_corrupt_and_unreadable_cache_files_are_ignored(tmp_path: Path):
    import sysconfig

    from lsp_server.engine.kv_cache import model_fingerprint

    cache = tmp_path / "cache"
    states = cache / "sokuji" / "kv" / model_fingerprint(embedded_model_path())
    states.mkdir(parents=True)
    uris = ["file:///w/corrupt.py", "file:///w/locked.py"]
    files = [states / f"{hashlib.sha256(u.encode()).hexdigest()[:40]}.kv" for u in uris]
    files[0].write_bytes(b"SOKUJIKV\x05\x00\x00\x00garbage")
    files[1].write_bytes(b"SOKUJIKV" + os.urandom(4096))
    files[1].chmod(0)
    source = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text().split("\n")
    text = "\n".join(source[:30]) + "\n"  # a state of several MB: over the 1 MB budget, kept on disk only
    rows = text.count("\n")
    options = {"maxTokens": 16, "kvCachePersist": True, "kvCacheMb": 1}
    env = {"XDG_CACHE_HOME": str(cache)}
    async with session(capabilities(inline=True), options, env=env, prefix=_without_root_powers()) as client:
        for i, uri in enumerate(uris):
            open_doc(client, uri, f"# copy {i}\n{text}")
        texts = []
        for uri in uris + uris:  # each file twice: the second visit reads what the first one saved
            result = await inline(client, uri, rows + 1, 0)
            texts.append(result.items[0].insert_text if result.items else "")
            insert(client, uri, len(texts) + 1, 0, 0, "#")  # not a cached result next time
        figures = await stats(client)
        await asyncio.sleep(0.2)
        logs = [m.message for m in client.log_messages]
    assert texts[0].strip() and texts[1].strip()
    assert sum("ignoring KV state" in m for m in logs) == 1  # and the file was removed
    assert sum("cannot read KV state" in m and "Permission denied" in m for m in logs) == 1
    assert figures["kvDiskHits"] == 2 and figures["requestsServed"] == 4  # states saved over the bad files


async def test_unreadable_folders_and_symlink_loops_in_the_workspace(tmp_path: Path):
    work = tmp_path / "work"
    (work / "pkg").mkdir(parents=True)
    (work / "main.py").write_text("def main():\n    pass\n")
    (work / "pkg" / "util.py").write_text("def helper():\n    pass\n")
    locked = work / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text("def hidden():\n    pass\n")
    locked.chmod(0)
    (work / "pkg" / "loop").symlink_to(work)  # a loop
    (work / "pkg" / "self").symlink_to("self")  # a link to itself
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def secret():\n    pass\n")
    (work / "escape").symlink_to(outside)
    try:
        async with session(capabilities(inline=True), {"maxTokens": 8}, root_uri=work.as_uri(),
                           prefix=_without_root_powers()) as client:
            await wait_stat(client, "indexFiles", lambda n: n >= 2, 60)
            await asyncio.sleep(0.5)
            figures = await stats(client)
            assert figures["indexFiles"] == 2 and figures["indexDefinitions"] == 2  # main.py, pkg/util.py
            assert any("locked" in m.message and "Permission denied" in m.message for m in client.log_messages)
            open_doc(client, (work / "main.py").as_uri(), "def main():\n    \n")
            assert (await inline(client, (work / "main.py").as_uri(), 1, 4)) is not None
    finally:
        locked.chmod(0o755)


def test_messages_due_after_exit_do_not_keep_the_server_alive():
    """Completions still decoding when the editor says exit: their answers and log lines find
    stdout closed. The server must exit, not report the failed write to the client, fail to
    write that report, and so on (that loop once filled a disk)."""
    client = RawClient(stderr=subprocess.PIPE, env={"SOKUJI_FAULTS": "hold:token@1"})  # see lsp_server/faults.py
    client.start({"maxTokens": 64})
    client.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": "file:///w/fib.py", "languageId": "python", "version": 1, "text": FIB}}})
    completion = {"textDocument": {"uri": "file:///w/fib.py"}, "position": {"line": 3, "character": 4}}
    client.send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion", "params": completion})
    client.logged("holding at 'token'")  # decoding, held until cancelled: at any model speed
    for i, line in enumerate((0, 1, 2, 3), start=3):  # new prompts, queued behind it at the exit
        client.send({"jsonrpc": "2.0", "id": i, "method": "textDocument/completion",
                     "params": {**completion, "position": {"line": line, "character": 0}}})
    client.send({"jsonrpc": "2.0", "method": "exit"})
    client.proc.stdout.close()
    try:
        _, err = client.proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        client.proc.kill()
        _, err = client.proc.communicate()
        raise AssertionError(f"the server did not exit; stderr ends with {err[-2000:]!r}") from None
    finally:
        client.close()
    assert len(err.splitlines()) < 5000, err[-2000:]  # a few tracebacks of the failed writes, not a loop
    assert client.proc.returncode == 0, err[-2000:]


async def test_notifications_leave_nothing_behind():
    """pygls filed every notification's handler future and only a response took one out:
    each keystroke's didChange stayed in memory for the server's lifetime."""
    uri = "file:///w/typing.py"
    async with session(capabilities(inline=True)) as client:
        open_doc(client, uri, "x = 1\n")
        for version in range(2, 402):
            insert(client, uri, version, 0, 3 + version, "1")  # typing at the end of "x = 1..."
        await wait_stat(client, "requestsInFlight", lambda n: n == 1)  # the stats request itself
        await inline(client, uri, 0, 405)  # the end of the typed line
        assert (await stats(client))["requestsInFlight"] == 1
