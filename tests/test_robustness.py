"""Bad input never takes the server down (part of the robustness issue): malformed JSON-RPC,
wrong parameter types, unknown methods, documents never opened, out-of-range edits and
positions, odd text. After each, the server still answers a normal request."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from lsprotocol import types

from .e2e import capabilities, inline, open_doc, session

FIB = "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    \n"


class RawClient:
    """JSON-RPC over the server's stdio, bytes as written: for messages no LSP library sends."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "lsp_server", "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
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

    def close(self) -> None:
        self._deadline.cancel()
        self.proc.kill()
        self.proc.wait(10)


def test_malformed_messages_get_errors_and_the_server_keeps_serving():
    client = RawClient()
    try:
        client.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                     "params": {"capabilities": {}, "initializationOptions": {"kvCachePersist": False}}})
        assert "result" in client.answer(1)
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
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
