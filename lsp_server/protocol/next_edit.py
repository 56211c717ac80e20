"""Next edits over LSP: `textDocument/copilotInlineEdit` in the shape Copilot's language
server answers it ({edits: [{text, range, textDocument: {uri, version}, command}]}, that
document's proposals), and the `sokuji.nextEdit` command (every open buffer's)."""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from ..nextedit.proposal import Proposal
from .convert import field
from .server import SokujiServer  # at run time: pygls reads the handlers' annotations

NEXT_EDIT = "sokuji.nextEdit"
ACCEPTED = "sokuji.nextEditAccepted"  # the command an item carries: the client runs it once applied
INLINE_EDIT = "textDocument/copilotInlineEdit"


def _item(ls: SokujiServer, p: Proposal) -> dict | None:
    doc = ls.docs.get(p.uri)
    if doc is None:
        return None
    (l0, c0), (l1, c1) = doc.position(p.start), doc.position(p.end)
    return {"text": p.text,
            "range": {"start": {"line": l0, "character": c0}, "end": {"line": l1, "character": c1}},
            "textDocument": {"uri": p.uri, "version": p.version},
            "command": {"title": "sokuji: next edit applied", "command": ACCEPTED, "arguments": [p.rule]},
            "rule": p.rule, "source": p.source}


async def _edits(ls: SokujiServer, uri: str, line: int | None, character: int | None, only_here: bool) -> dict:
    doc = ls.docs.get(uri)
    if doc is None:
        raise JsonRpcInvalidParams(f"{uri} is not open")
    offset = doc.cursor(line, character).offset if line is not None and character is not None else 0
    found = await ls.next_edits.proposals(uri, offset)
    items = [item for p in found if (not only_here or p.uri == uri) and (item := _item(ls, p)) is not None]
    return {"edits": items}


async def inline_edit(ls: SokujiServer, params: Any) -> dict:
    """{textDocument: {uri, version}, position}: this document's proposals, nearest first."""
    uri = field(field(params, "textDocument"), "uri")
    position = field(params, "position")
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{INLINE_EDIT} takes {{textDocument: {{uri, version}}, position}}")
    line, character = field(position, "line"), field(position, "character")
    ok = isinstance(line, int) and isinstance(character, int)
    return await _edits(ls, uri, line if ok else None, character if ok else None, only_here=True)


async def next_edit_command(ls: SokujiServer, *args: Any) -> dict:
    """`sokuji.nextEdit` [uri] or [uri, line, character]: every open buffer's proposals,
    that document's first, nearest to the position first."""
    if not args or not isinstance(args[0], str):
        raise JsonRpcInvalidParams(f"{NEXT_EDIT} takes [uri] or [uri, line, character]")
    try:
        line, character = (int(args[1]), int(args[2])) if len(args) >= 3 else (None, None)
    except (TypeError, ValueError):
        raise JsonRpcInvalidParams(f"{NEXT_EDIT} takes [uri] or [uri, line, character]") from None
    return await _edits(ls, args[0], line, character, only_here=False)


def accepted(ls: SokujiServer, *args: Any) -> None:
    if args and isinstance(args[0], str):
        ls.next_edits.accepted(args[0])


def register(ls: SokujiServer) -> None:
    ls.feature(INLINE_EDIT)(inline_edit)
    ls.command(NEXT_EDIT)(next_edit_command)
    ls.command(ACCEPTED)(accepted)
