"""The per-file cache through the real server: stats, result reuse, dropping stale states."""

import asyncio

from lsprotocol import types

from ..helpers.e2e import capabilities, inline, insert, open_doc, session, stats

A = '''"""Geometry helpers for circles.

Every function takes a radius in metres and returns a float (or a string describing the
circle). The functions are pure: no state, no input or output, so they are easy to test and
to reuse from other modules of the package, such as the plotting and the report modules.
"""
import math


def area(radius: float) -> float:
    """Area of a circle."""
    return math.pi * radius ** 2


def circumference(radius: float) -> float:
    """Circumference of a circle."""
    return 2 * math.pi * radius


def describe(radius: float) -> str:
    return f"circle of radius {radius}: area '''
B = '''class Stack:
    """A last-in, first-out stack."""

    def __init__(self) -> None:
        self.items: list[int] = []

    def push(self, item: int) -> None:
        self.items.append(item)

    def pop(self) -> int:
        return self.items.'''


def at_end(text: str) -> tuple[int, int]:
    return text.count("\n"), len(text.rsplit("\n", 1)[-1])


async def test_stats_result_reuse_and_stale_states(tmp_path):
    a_path, b_path = tmp_path / "a.py", tmp_path / "b.py"
    a_path.write_text(A)
    b_path.write_text(B)
    a, b = a_path.as_uri(), b_path.as_uri()
    caps = capabilities(inline=True)
    caps.workspace.workspace_folders = True
    # recentEdits off: the edit typed into a.py below would show in b.py's prompt, so b's answer
    # would no longer come from the result cache, which the states' count below relies on
    async with session(caps, {"kvCachePersist": False, "recentEdits": False}, root_uri=tmp_path.as_uri()) as client:
        open_doc(client, a, A)
        open_doc(client, b, B)
        first = await inline(client, a, *at_end(A))
        await inline(client, b, *at_end(B))
        s = await stats(client)
        assert s["kvFiles"] == 1 and s["kvBytesHeld"] > 0  # a's state was kept when b came
        # back to a, at another place in it: a's state is restored, almost nothing re-evaluated
        await inline(client, a, 11, len("    return math.pi"))
        s2 = await stats(client)
        assert s2["kvHits"] == 1
        assert s2["promptTokensEvaluated"] - s["promptTokensEvaluated"] <= 2
        assert s2["resultCacheHits"] == 0
        # the first request again: answered from the result cache, no model call
        again = await inline(client, a, *at_end(A))
        assert again.items[0].insert_text == first.items[0].insert_text
        assert (await stats(client))["resultCacheHits"] == 1

        # the user types the first two characters of the suggestion: the rest comes from the cache
        suggestion = first.items[0].insert_text
        assert len(suggestion) > 2
        line, col = at_end(A)
        insert(client, a, 2, line, col, suggestion[:2])
        evaluated_before = (await stats(client))["promptTokensEvaluated"]
        rest = await inline(client, a, line, col + 2)
        s3 = await stats(client)
        assert rest.items[0].insert_text == suggestion[2:]
        assert s3["resultCacheHits"] == 2 and s3["promptTokensEvaluated"] == evaluated_before
        assert s3["requestsServed"] == 5 and s3["latencyP50Ms"] is not None

        # the editor saves b.py (disk text = buffer): b's state stays
        assert (await stats(client))["kvFiles"] == 1
        b_path.write_text(B)
        await asyncio.sleep(1.0)
        assert (await stats(client))["kvFiles"] == 1

        # b.py changes on disk outside the editor: its state is dropped
        await inline(client, b, *at_end(B))  # a is stashed, b resident
        await inline(client, a, line, col + 2)  # b stashed
        assert (await stats(client))["kvFiles"] == 1
        b_path.write_text(B + "pop()\n")
        for _ in range(50):
            if (await stats(client))["kvFiles"] == 0:
                break
            await asyncio.sleep(0.2)
        assert (await stats(client))["kvFiles"] == 0

        # closing a file drops its state too
        await inline(client, b, 7, len("        self.items.append("))  # a new prompt: a is stashed
        assert (await stats(client))["kvFiles"] == 1
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=a))
        )
        await asyncio.sleep(0.2)
        assert (await stats(client))["kvFiles"] == 0


async def test_context_choices_reused_until_another_buffers_definitions_change(tmp_path):
    """Typing along a line reuses the context builder's choices; an edit in another open
    file keeps them while its definitions stay the same, and not once they change."""
    a, b = (tmp_path / "a.py").as_uri(), (tmp_path / "b.py").as_uri()
    async with session(capabilities(inline=True)) as client:
        open_doc(client, a, A)
        open_doc(client, b, B)
        await inline(client, a, *at_end(A))
        reused = (await stats(client))["contextChoicesReused"]
        insert(client, b, 2, *at_end(B), "\n\n# a comment: no definition changes")
        await asyncio.sleep(0.5)  # edits paused: the worker reads b's definitions
        await inline(client, a, *at_end(A))
        assert (await stats(client))["contextChoicesReused"] == reused + 1
        insert(client, b, 3, 0, 0, "def peek(stack: Stack) -> int:\n    return stack.items[-1]\n\n\n")
        await inline(client, a, *at_end(A))  # b defines another function now: chosen again
        assert (await stats(client))["contextChoicesReused"] == reused + 1
