"""Recent edits over LSP with the real model: a rename made in one file, typed keystroke by
keystroke, is in the prompt of another file (sokuji.context shows the block), and makes the
right suggestion appear there; with `recentEdits` off, the same edits do not."""

from __future__ import annotations

from lsprotocol import types

from ..helpers.e2e import capabilities, inline, open_doc, replace, session, stats

A, B = "file:///w/users.py", "file:///w/report.py"
USERS = "import json\n\n\ndef fetch_user(uid):\n    with open(f'{uid}.json') as f:\n        return json.load(f)\n"
REPORT = "from users import *\n\n\ndef summary(uid):\n    user = load_\n"
RENAMED = "load_user_record"


def rename_by_keystrokes(client) -> None:
    """`fetch_user` deleted and `load_user_record` typed, a key at a time, as an editor sends them."""
    open_doc(client, A, USERS)
    start = len("def ")
    replace(client, A, 2, 3, start, start + len("fetch_user"), "")
    for n, ch in enumerate(RENAMED):
        replace(client, A, 3 + n, 3, start + n, start + n, ch)


async def suggestion(options: dict) -> tuple[str, dict, dict]:
    async with session(capabilities(inline=True), {"minConfidence": 0, **options}) as client:
        rename_by_keystrokes(client)
        open_doc(client, B, REPORT)
        got = await inline(client, B, 4, len("    user = load_"))
        context = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="sokuji.context", arguments=[B, 4, len("    user = load_")]))
        return (got.items[0].insert_text if got.items else ""), context, (await stats(client))["recentEdits"]


async def test_a_rename_typed_in_another_file_makes_the_right_suggestion_appear():
    text, context, history = await suggestion({})
    parts = {p["label"]: p for p in context["parts"]}
    assert "recent edits" in parts, context["parts"]
    block = parts["recent edits"]
    assert "-def fetch_user(uid):\n+def load_user_record(uid):" in block["text"], block["text"]  # one hunk, coalesced
    assert block["tokens"] > 0 and history["hunks"] == 1 and 0 < history["bytes"] <= history["maxBytes"]
    assert text.startswith("user_record("), text

    text_off, context_off, _ = await suggestion({"recentEdits": False})
    assert "recent edits" not in {p["label"] for p in context_off["parts"]}
    assert not text_off.startswith("user_record"), text_off
