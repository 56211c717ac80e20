"""A line start over LSP with the real model: the first line of a block comes back at once,
the rest is written in the background and serves the next request without the model; a
request never waits behind that writing, and an edit elsewhere stops it. The line-start
gate is set to show every line here (lineStartConfidence 0): these tests are about the
flow, not about what the gate hides (test_line_start_gate_hides_an_unlikely_line is)."""

from __future__ import annotations

import asyncio

from ..helpers.e2e import capabilities, completion_logs, held, inline, insert, open_doc, session, stats, wait_stat

URI = "file:///w/fib.py"
DOC = "def fibonacci(n: int) -> int:\n    "  # Enter pressed after the signature: a block to write
OTHER = "file:///w/other.py"
SHOW_ALL = {"lineStartConfidence": 0}


def text(result) -> str:
    return result.items[0].insert_text if result.items else ""


def block_logs(client) -> list[str]:
    return [m.message for m in client.log_messages if m.message.startswith("sokuji: block ")]


async def test_first_line_first_then_the_block_from_the_background():
    async with session(capabilities(inline=True), SHOW_ALL) as client:
        open_doc(client, URI, DOC)
        first = text(await inline(client, URI, 1, 4))
        assert first.strip() and "\n" not in first, first  # one line, while the block goes on
        assert "the block goes on in the background" in completion_logs(client)[-1]
        await wait_stat(client, "blocksWhole", lambda n: n == 1, 300)
        block = text(await inline(client, URI, 1, 4))  # asked again: the whole block, no model call
        assert block.startswith(first + "\n") and block.count("\n") >= 1, block
        assert "stop=block" in completion_logs(client)[-1]
        # the first line accepted and Enter pressed: the next line comes from the block
        line2 = block.split("\n")[1]
        indent = line2[: len(line2) - len(line2.lstrip())]
        insert(client, URI, 2, 1, 4, first + "\n" + indent)
        after_enter = text(await inline(client, URI, 2, len(indent)))
        assert after_enter == block[len(first) + 1 + len(indent):], (after_enter, block)
        assert "stop=block" in completion_logs(client)[-1]
        assert (await stats(client))["blockAnswers"] == 2


async def test_a_request_does_not_wait_behind_the_background_block():
    # the background writing is held before its first line until a request cancels it
    async with session(capabilities(inline=True), SHOW_ALL, env={"SOKUJI_FAULTS": "hold:block@1"}) as client:
        open_doc(client, URI, DOC)
        open_doc(client, OTHER, "import os\nfiles = os.listd")
        first = text(await inline(client, URI, 1, 4))
        assert first.strip() and "\n" not in first
        await held(client, "block")  # the block is being written (held) ...
        other = await inline(client, OTHER, 1, len("files = os.listd"))  # ... and this is answered
        assert "stop=" in completion_logs(client)[-1] and "stop=block" not in completion_logs(client)[-1], other
        assert any("released at 'block'" in m.message for m in client.log_messages)
        # it went on after the request it yielded to, from where it was
        await wait_stat(client, "blocksWhole", lambda n: n == 1, 300)
        assert [line for line in block_logs(client) if "yielded" in line], block_logs(client)
        assert "\n" in text(await inline(client, URI, 1, 4))


async def test_an_edit_elsewhere_stops_the_background_block():
    async with session(capabilities(inline=True), SHOW_ALL, env={"SOKUJI_FAULTS": "hold:block@1"}) as client:
        open_doc(client, URI, DOC)
        first = text(await inline(client, URI, 1, 4))
        assert first.strip()
        await held(client, "block")
        insert(client, URI, 2, 0, 0, "import math\n")  # the buffer moved elsewhere: the block is not wanted
        for _ in range(200):
            if any("released at 'block'" in m.message for m in client.log_messages):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert (await stats(client))["blocksWhole"] == 0
        assert all("yielded" in line for line in block_logs(client)), block_logs(client)
        # asked at the same line again (now line 2): a model call, not the dropped block
        await inline(client, URI, 2, 4)
        assert "stop=block" not in completion_logs(client)[-1]


async def test_line_start_gate_hides_an_unlikely_line_unless_asked():
    """At the default gate the embedded model's first line here ('if n < 0:', far less likely
    than the gate asks) is not shown unasked, and is counted; asked for (Invoked), it is."""
    async with session(capabilities(inline=True), {"lineStartConfidence": None}) as client:
        open_doc(client, URI, DOC)
        assert text(await inline(client, URI, 1, 4)) == ""
        assert "stop=unsure" in completion_logs(client)[-1]
        assert (await stats(client))["suggestionsHidden"] == 1
        asked = await inline(client, URI, 1, 4, invoked=True)
        assert asked.items and asked.items[0].insert_text.strip()
