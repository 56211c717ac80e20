"""Acceptance over LSP with the real model: the accept command an item carries, a partial
accept and a shown item in Copilot's notifications, an accept inferred from the edit that
inserts an item, the counts in sokuji.stats and `sokuji stats`, and the suggestion prefetched
after a whole line is taken."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from lsprotocol import types

from ..helpers.e2e import capabilities, completion_logs, inline, insert, open_doc, session, stats

URI = "file:///w/fib.py"
DOC = "import os\nfiles = os.listd\n"  # the model finishes the word: "ir(...)"


def item_id(item: types.InlineCompletionItem) -> str:
    assert item.command is not None and item.command.command == "sokuji.accepted", item
    return item.command.arguments[0]


def notify(client, method: str, item: types.InlineCompletionItem, **more) -> None:
    client.protocol.notify(method, {"item": {"insertText": item.insert_text,
                                             "command": {"title": "", "command": "sokuji.accepted",
                                                         "arguments": item.command.arguments}}, **more})


async def accept(client, item_id: str) -> None:
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command="sokuji.accepted", arguments=[item_id]))


async def counts(client) -> dict:
    return (await stats(client))["acceptance"]


async def test_accept_command_partial_accept_and_shown_are_counted():
    async with session(capabilities(inline=True)) as client:
        open_doc(client, URI, DOC)
        first = (await inline(client, URI, 1, 16)).items[0]
        notify(client, "textDocument/didShowCompletion", first)
        insert(client, URI, 2, 1, 16, first.insert_text)  # the editor inserts it, then runs its command
        await accept(client, item_id(first))
        got = await counts(client)
        assert (got["returned"], got["shown"], got["accepted"]) == (1, 1, 1), got
        assert got["charsAccepted"] == len(first.insert_text)
        assert got["byLanguage"]["python"]["accepted"] == 1 and got["acceptanceRate"] == 1.0

        # a partial accept (a word), as Copilot's clients report it; then the user moves on
        open_doc(client, "file:///w/other.py", "import os\nos.path.jo")
        second = (await inline(client, "file:///w/other.py", 1, 10)).items[0]
        notify(client, "textDocument/didShowCompletion", second)
        notify(client, "textDocument/didPartiallyAcceptCompletion", second, acceptedLength=2)
        await inline(client, "file:///w/other.py", 0, 0)  # asked elsewhere: the item is settled
        got = await counts(client)
        assert got["returned"] >= 2 and (got["shown"], got["partlyAccepted"]) == (2, 1), got
        assert got["charsAccepted"] == len(first.insert_text) + 2


async def test_accept_inferred_from_the_edit_and_drops():
    async with session(capabilities(inline=True)) as client:
        open_doc(client, URI, DOC)
        item = (await inline(client, URI, 1, 16)).items[0]
        insert(client, URI, 2, 1, 16, item.insert_text)  # a client with no signal: the edit says it
        await asyncio.sleep(0.2)
        got = await counts(client)
        assert (got["accepted"], got["shown"], got["charsAccepted"]) == (1, 1, len(item.insert_text)), got
        # typed over: another text where the suggestion was
        open_doc(client, "file:///w/b.py", DOC)
        (await inline(client, "file:///w/b.py", 1, 16)).items[0]
        insert(client, "file:///w/b.py", 2, 1, 16, "Z")
        # dismissed: asked again at the same place without taking it
        open_doc(client, "file:///w/c.py", DOC)
        await inline(client, "file:///w/c.py", 1, 16)
        await inline(client, "file:///w/c.py", 1, 16)
        got = await counts(client)
        assert (got["typedOver"], got["dismissed"]) == (1, 1), got


async def test_a_line_taken_then_enter_is_answered_from_the_prefetch(tmp_path):
    doc = "def area(width, height):\n    w = width\n    h = hei"
    uri = "file:///w/area.py"
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    async with session(capabilities(inline=True), env=env) as client:
        open_doc(client, uri, doc)
        item = (await inline(client, uri, 2, 11)).items[0]
        assert "\n" not in item.insert_text
        insert(client, uri, 2, 2, 11, item.insert_text)  # the rest of the line taken with Tab ...
        await accept(client, item_id(item))
        for _ in range(600):  # ... so Enter comes next: its suggestion is made in the background
            now = await stats(client)
            if now["prefetches"] and not now["blockWriting"]:
                break
            await asyncio.sleep(0.1)
        assert now["prefetches"] == 1
        insert(client, uri, 3, 2, 11 + len(item.insert_text), "\n    ")  # Enter, auto-indented
        after = await inline(client, uri, 3, 4)
        assert after.items and after.items[0].insert_text.strip()
        log = completion_logs(client)[-1]
        assert any(f"stop={s}" in log for s in ("cache", "block", "prefetch")), completion_logs(client)  # no model call
    run = subprocess.run([sys.executable, "-m", "lsp_server", "stats"], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=120)
    assert run.returncode == 0 and "python" in run.stdout and "returned" in run.stdout, run.stdout + run.stderr

