"""Completions while typing, over LSP with the real model: where the prompt ends inside a
word, the raw prompt makes the model start a new word; token healing completes the one the
user is typing. The confidence gate hides what the model is unsure of, and says so in stats."""

from __future__ import annotations

from lsprotocol import types

from ..helpers.e2e import capabilities, completion_logs, inline, open_doc, session, stats

# (document, what the word at its end goes on with)
CASES = [
    ("import os\nfiles = os.listd", "ir"),
    ("import os\n\nfor i in ran", "ge("),
]


async def suggestions(client) -> list[str]:
    out = []
    for n, (text, _) in enumerate(CASES):
        uri = f"file:///w/typing{n}.py"
        open_doc(client, uri, text)
        lines = text.split("\n")
        result = await inline(client, uri, len(lines) - 1, len(lines[-1]))
        out.append(result.items[0].insert_text if result.items else "")
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    return out


async def test_healing_completes_the_word_the_raw_prompt_breaks():
    async with session(capabilities(inline=True), {"tokenHealing": False}) as client:
        raw = await suggestions(client)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sokuji": {"tokenHealing": True}}))
        healed = await suggestions(client)
        logs = completion_logs(client)
    for (text, goes_on), before, after in zip(CASES, raw, healed):
        assert not before.startswith(goes_on), (text, before)  # the model read the partial word as finished
        assert after.startswith(goes_on), (text, after)
    assert any("healed=5" in line for line in logs), logs  # b"listd" taken back and spelled again


async def test_confidence_gate_hides_unsure_suggestions_and_counts_them():
    # A file of unrelated names: after `x = `, the model cannot know which comes next.
    text = "import os\nalpha = 1\nbeta = os.sep\ngamma = [alpha]\nx = "
    async with session(capabilities(inline=True), {"minConfidence": 0.99}) as client:
        open_doc(client, "file:///w/gate.py", text)
        result = await inline(client, "file:///w/gate.py", 4, 4)
        hidden = (await stats(client))["suggestionsHidden"]
        assert len(result.items) == 0 and hidden == 1
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"sokuji": {"minConfidence": 0}}))
        result = await inline(client, "file:///w/gate.py", 4, 4)
        assert len(result.items) == 1 and result.items[0].insert_text.strip()
        assert (await stats(client))["suggestionsHidden"] == hidden
