"""End to end: the real server process, the real embedded model (greedy, so repeatable)."""

import asyncio

from lsprotocol import types

from ..helpers.e2e import (cancel_when_held, capabilities, complete_at, completion_logs, held, inline, insert, open_doc,
                           session, wait_stat)

FIB = '''def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
    
'''
# Plain text (no grammar, no block to leave): decoding runs to maxTokens unless stopped.
LONG = "The fifty states of the USA, one per line, with their capitals:\n\nAlabama: Montgomery\n"


async def test_inline_completion_from_the_real_model():
    async with session(capabilities(inline=True)) as client:
        caps = client.init_result.capabilities
        assert caps.inline_completion_provider is not None and caps.completion_provider is None
        assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
        uri = "file:///work/fib.py"
        open_doc(client, uri, FIB)
        result = await inline(client, uri, 4, 4)
        assert len(result.items) == 1
        item = result.items[0]
        assert item.insert_text.strip() and "\n" not in item.insert_text  # a block's first line, at once
        assert item.range.start == item.range.end == types.Position(line=4, character=4)
        await wait_stat(client, "blocksWhole", lambda n: n == 1, 300)  # the rest, written in the background
        block = (await inline(client, uri, 4, 4)).items[0].insert_text
        assert block.startswith(item.insert_text + "\n") and "fibonacci" in block  # the recursive call a model writes here
        # the model was loaded in the background, reported with $/progress
        reports = [r for rs in client.progress_reports.values() for r in rs]
        assert isinstance(reports[0], types.WorkDoneProgressBegin)
        assert isinstance(reports[-1], types.WorkDoneProgressEnd)

        # an incremental edit: the next completion sees the edited text
        insert(client, uri, 2, 4, 4, "return fib")
        again = await inline(client, uri, 4, 14)
        assert again.items and again.items[0].insert_text.startswith("onacci(")


async def test_completion_fallback_for_clients_without_inline():
    async with session(capabilities(inline=False)) as client:
        caps = client.init_result.capabilities
        assert caps.completion_provider is not None and caps.inline_completion_provider is None
        uri = "file:///work/fib.py"
        open_doc(client, uri, FIB)
        result = await complete_at(client, uri, 4, 4)
        assert len(result.items) == 1
        edit = result.items[0].text_edit
        assert edit.range.start == edit.range.end == types.Position(line=4, character=4)
        assert edit.new_text.strip(), "the model produced no text"
        # the model's text for the function body: every further line stays inside the function
        assert all(not ln.strip() or ln.startswith("    ") for ln in edit.new_text.split("\n")[1:])


# The 2nd generated token waits until its request is cancelled: a request stays in flight
# however fast the model is (lsp_server/faults.py). Fires once: later requests run free.
HOLD = {"SOKUJI_FAULTS": "hold:token@2"}


async def test_cancel_stops_decoding_and_the_next_request_works():
    async with session(capabilities(inline=True), {"maxTokens": 40, "firstLineFirst": False}, env=HOLD) as client:
        uri = "file:///work/states.txt"
        open_doc(client, uri, LONG, language="plaintext")
        await cancel_when_held(client, uri, 3, 0, "long-1")
        # exactly one answer came back (the cancellation error); the next request works
        result = await inline(client, uri, 3, 0)
        assert result.items and result.items[0].insert_text.strip()
        logs = completion_logs(client)
        cancelled = [m for m in logs if "stop=cancelled" in m]
        assert len(cancelled) == 1, logs
        assert "generated=1," in cancelled[0]  # decoding stopped at the token it was on
        finished = [m for m in logs if "4:1:" in m and "stop=max_tokens" in m]
        assert finished, logs  # the uncancelled request decoded to the end


async def test_newer_request_for_the_same_document_wins():
    async with session(capabilities(inline=True), {"maxTokens": 40, "firstLineFirst": False}, env=HOLD) as client:
        uri = "file:///work/states.txt"
        open_doc(client, uri, LONG, language="plaintext")
        first = asyncio.ensure_future(inline(client, uri, 3, 0))
        await held(client)
        second = await inline(client, uri, 1, 0)
        older = await first
        assert len(older.items) == 0  # superseded: answered, empty, and its decoding stopped
        assert [m for m in completion_logs(client) if "stop=cancelled" in m and "4:1:" in m]
        assert second.items and second.items[0].insert_text.strip()  # the newer one decoded as usual


LINE = 'label = "😀 漢字" + na + "!"'
NAME_LINE = 'name = "sokuji"'


async def test_positions_in_the_negotiated_encoding():
    """The cursor after `na` on a line with an emoji and CJK: code point 19, which is
    column 20 in utf-16 units and 26 in utf-8 bytes. Both clients get the same suggestion,
    placed at the column they sent."""
    head = LINE[: LINE.index("na +") + 2]
    assert (len(head), len(head.encode("utf-16-le")) // 2, len(head.encode())) == (19, 20, 26)
    texts = []
    for encoding, column in [("utf-16", 20), ("utf-8", 26)]:
        async with session(capabilities(inline=True, encodings=[encoding])) as client:
            assert client.init_result.capabilities.position_encoding == encoding
            uri = "file:///work/emoji.py"
            open_doc(client, uri, f"{NAME_LINE}\n{LINE}\n")
            result = await inline(client, uri, 1, column)
            logs = completion_logs(client)
            assert any("emoji.py:2:20:" in m for m in logs), logs  # the server saw code point 19
            assert len(result.items) == 1, logs
            assert result.items[0].range.start == types.Position(line=1, character=column)
            texts.append(result.items[0].insert_text)
    assert texts[0] == texts[1]


async def test_missing_model_one_clear_message_and_empty_results():
    async with session(capabilities(inline=True), {"model": "/nowhere/model.gguf", "maxTokens": "lots"}) as client:
        uri = "file:///work/fib.py"
        open_doc(client, uri, FIB)
        for _ in range(3):  # every request is answered, empty, without an error storm
            result = await inline(client, uri, 4, 4)
            assert len(result.items) == 0
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and "/nowhere/model.gguf" in errors[0]
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        assert any("'maxTokens'" in w and "64" in w for w in warnings)

        # fixing the setting loads the model: completions come back
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sokuji": {"maxTokens": 32, "lineStartConfidence": 0}})
        )
        result = await inline(client, uri, 4, 4)
        assert len(result.items) == 1 and result.items[0].insert_text.strip()


async def test_model_flag_names_a_bad_file_and_the_server_stays_up(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)  # a truncated GGUF
    async with session(capabilities(inline=False), model_flag=str(bad)) as client:
        uri = "file:///work/fib.py"
        open_doc(client, uri, FIB)
        result = await complete_at(client, uri, 4, 4)
        assert len(result.items) == 0
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and "broken.gguf" in errors[0]


def test_tcp_transport(tmp_path):
    """`sokuji serve --tcp HOST:PORT` answers initialize over a socket."""
    import json
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "lsp_server", "serve", "--tcp", f"127.0.0.1:{port}"])
    try:
        for _ in range(100):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                time.sleep(0.1)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += conn.recv(65536)
        reply = json.loads(rest[:length])
        assert reply["id"] == 1
        assert reply["result"]["serverInfo"]["name"] == "sokuji"
        assert "completionProvider" in reply["result"]["capabilities"]  # no inline capability offered
        conn.close()
    finally:
        proc.kill()
        proc.wait()


MAIN = 'def add(a, b):\n    return a + b\n\n\ndef main():\n    total = add(1, 2)\n    print(total)\n\n\nif __name__ == "__main__":\n    '


async def test_inline_completion_answered_for_any_client_and_several_items_when_asked():
    """A client that advertised only completion (the Neovim and Emacs modules' LSP clients)
    still gets inlineCompletion answered; an explicit ask (Invoked) gets alternatives to
    cycle through, best first, each with its own first line; typing (Automatic) gets one."""
    async with session(capabilities(inline=False)) as client:
        caps = client.init_result.capabilities
        assert caps.completion_provider is not None and caps.inline_completion_provider is None  # advertising unchanged
        uri = "file:///work/main.py"
        open_doc(client, uri, MAIN)
        typed = await inline(client, uri, 10, 4)
        assert [item.insert_text for item in typed.items] == ["main()"]
        asked = await inline(client, uri, 10, 4, invoked=True)
        texts = [item.insert_text for item in asked.items]
        assert len(texts) == 3, texts
        assert texts[0] == "main()"  # the greedy one first
        firsts = [t.strip().split("\n", 1)[0].strip() for t in texts]
        assert len(set(firsts)) == len(firsts), texts
        assert all(item.range.start == item.range.end == types.Position(line=10, character=4) for item in asked.items)
        assert any("alternatives " in m.message and "2 more" in m.message for m in client.log_messages)
        again = await inline(client, uri, 10, 4, invoked=True)  # greedy all along: the same alternatives
        assert [item.insert_text for item in again.items] == texts
