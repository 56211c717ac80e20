"""Next edits over LSP with the real server: a rename typed at a definition, key by key, is
proposed at the other references (`textDocument/copilotInlineEdit`, Copilot's shape); a
parameter removed in one file drops the argument in another open file (`sokuji.nextEdit`);
a proposal is never served for a version that is gone; a bad request gets an error and the
server keeps serving."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..helpers.e2e import capabilities, open_doc, replace, session, stats

A, B = "file:///w/shapes.py", "file:///w/main.py"
SHAPES = "def area(width, height):\n    total = width * height\n    return total\n\n\ndef other(width):\n    return width\n"


async def inline_edit(client, uri: str, version: int, line: int, character: int) -> dict:
    params = {"textDocument": {"uri": uri, "version": version}, "position": {"line": line, "character": character}}
    return await asyncio.wait_for(client.protocol.send_request_async("textDocument/copilotInlineEdit", params), 30)


async def next_edit(client, *args) -> dict:
    return await asyncio.wait_for(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="sokuji.nextEdit", arguments=list(args))), 30)


def _plain(obj):
    """pygls hands a custom request's result back as named tuples: as dicts and lists."""
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return [_plain(v) for v in obj] if isinstance(obj, list) else obj


def apply(text: str, edits: list[dict]) -> str:
    lines = text.split("\n")
    offset = lambda p: sum(len(s) + 1 for s in lines[: p["line"]]) + p["character"]  # noqa: E731  (ASCII text)
    for e in sorted(edits, key=lambda e: -offset(e["range"]["start"])):
        text = text[: offset(e["range"]["start"])] + e["text"] + text[offset(e["range"]["end"]):]
    return text


async def test_a_rename_typed_at_the_definition_is_proposed_at_the_other_references():
    async with session(capabilities(inline=True)) as client:
        open_doc(client, A, SHAPES)
        start = len("def area(")
        replace(client, A, 2, 0, start, start + len("width"), "")
        for n, ch in enumerate("w"):
            replace(client, A, 3 + n, 0, start + n, start + n, ch)
        got = _plain(await inline_edit(client, A, 3, 0, start + 1))
        edits = got["edits"]
        assert edits and {e["textDocument"]["uri"] for e in edits} == {A}
        assert all(e["textDocument"]["version"] == 3 for e in edits)
        assert all(e["command"]["command"] == "sokuji.nextEditAccepted" for e in edits)
        assert edits[0]["range"]["start"]["line"] == 1  # the nearest first
        renamed = SHAPES.replace("def area(width", "def area(w")
        assert apply(renamed, edits) == SHAPES.replace("width, height", "w, height").replace("width *", "w *")

        # the user goes on typing: the proposal of version 3 is not served for version 4
        replace(client, A, 4, 0, start + 1, start + 1, "x")
        after = _plain(await inline_edit(client, A, 4, 0, start + 2))
        assert all(e["textDocument"]["version"] == 4 for e in after["edits"])
        assert all(e["text"] == "wx" for e in after["edits"]), after
        counts = (await stats(client))["nextEdits"]
        assert counts["rename"] >= 2 and counts["computed"] >= 2, counts


async def test_a_removed_parameter_drops_the_argument_in_another_open_file():
    async with session(capabilities(inline=True)) as client:
        open_doc(client, A, "def send(host, port, retries):\n    pass\n")
        open_doc(client, B, "from shapes import send\n\nsend('h', 80, 3)\nsend('h', port=80, retries=3)\n")
        replace(client, A, 2, 0, len("def send(host, "), len("def send(host, port, "), "")
        got = _plain(await next_edit(client, A, 0, len("def send(host, ")))
        assert {e["rule"] for e in got["edits"]} == {"signature"}
        assert {e["textDocument"]["uri"] for e in got["edits"]} == {B}
        main = "from shapes import send\n\nsend('h', 80, 3)\nsend('h', port=80, retries=3)\n"
        assert apply(main, got["edits"]) == "from shapes import send\n\nsend('h', 3)\nsend('h', retries=3)\n"
        # copilotInlineEdit answers for its own document only
        assert _plain(await inline_edit(client, A, 2, 0, 0))["edits"] == []


async def test_bad_requests_get_an_error_and_the_server_keeps_serving():
    async with session(capabilities(inline=True)) as client:
        with pytest.raises(JsonRpcException):
            await next_edit(client, "file:///w/not-open.py")
        with pytest.raises(JsonRpcException):
            await next_edit(client)
        open_doc(client, A, SHAPES)
        assert _plain(await next_edit(client, A))["edits"] == []  # no edit yet: nothing implied
        assert "nextEdits" in await stats(client)


POINT = "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n\n\ndef norm(p):\n    return (p.x ** 2 + p.y ** 2) ** 0.5\n"


async def test_the_model_path_end_to_end_with_the_embedded_model_as_next_edit_model():
    """Sweep's prompt run on the embedded model (no Sweep tokens: its markers go as plain text,
    see docs/models-and-gpu.md): a parameter added to __init__ gets its assignment proposed."""
    from lsp_server.engine.embedded import embedded_model_path

    async with session(capabilities(inline=True), {"nextEditModel": embedded_model_path()}) as client:
        open_doc(client, A, POINT)
        at = len("    def __init__(self, x, y")
        replace(client, A, 2, 1, at, at, ", z")
        got = _plain(await inline_edit(client, A, 2, 1, at + 3))
        model = [e for e in got["edits"] if e["rule"] == "model"]
        assert model and model[0]["source"] == "Gemma 3 270m", got
        assert "self.z = z" in apply(POINT.replace("x, y):", "x, y, z):"), model), model
        counts = await stats(client)
        assert counts["nextEdits"]["model"] >= 1 and counts["nextEditModel"] == "Gemma 3 270m", counts


SERIES = "def area(width, height):\n    total = width * height\n    print(width)\n    return total\n"


async def test_applying_one_proposal_goes_on_to_the_next_of_the_series():
    """The editor applies the nearest proposal of a rename (one didChange, as its key does):
    asked again, the other reference is still proposed, at its place in the new version; once
    both are applied nothing is left. An edit that is not a proposal carries nothing."""
    async with session(capabilities(inline=True)) as client:
        open_doc(client, A, SERIES)
        start = len("def area(")
        replace(client, A, 2, 0, start, start + len("width"), "size")
        first = _plain(await inline_edit(client, A, 2, 0, start))["edits"]
        assert [(e["range"]["start"]["line"], e["text"]) for e in first] == [(1, "size"), (2, "size")], first
        renamed = SERIES.replace("area(width", "area(size")
        r = first[0]["range"]
        replace(client, A, 3, r["start"]["line"], r["start"]["character"], r["end"]["character"], "size")
        second = _plain(await inline_edit(client, A, 3, 1, 12))["edits"]
        assert [(e["textDocument"]["version"], e["text"]) for e in second] == [(3, "size")], second
        assert apply(apply(renamed, first[:1]), second) == SERIES.replace("width", "size")
        r = second[0]["range"]
        replace(client, A, 4, r["start"]["line"], r["start"]["character"], r["end"]["character"], "size")
        assert _plain(await inline_edit(client, A, 4, 2, 10))["edits"] == []
        assert (await stats(client))["nextEdits"]["carried"] == 1

        # another file: the user types something that is no proposal: the series is not carried on
        open_doc(client, B, SERIES)
        replace(client, B, 2, 0, start, start + len("width"), "size")
        assert len(_plain(await inline_edit(client, B, 2, 0, start))["edits"]) == 2
        replace(client, B, 3, 3, 0, 0, "# ")
        assert _plain(await inline_edit(client, B, 3, 3, 2))["edits"] == []
