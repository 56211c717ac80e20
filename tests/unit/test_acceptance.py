"""The acceptance ledger (acceptance.py): each returned suggestion counted once, as accepted,
partly accepted (with the characters taken) or dropped for a reason; accepts inferred from
edits never counted twice with the client's own signal; the saved counts hold no text; and
where prefetching starts (completion/prefetch.py)."""

from __future__ import annotations

import json

from lsp_server.acceptance import Ledger, read, table
from lsp_server.completion.prefetch import after_enter, indent_unit

BEFORE, AFTER = "def f(x):\n    ", "\n"


def counts(ledger: Ledger) -> dict:
    return {k: v for k, v in ledger.stats().items() if k != "byLanguage"}


def test_command_after_the_edit_counts_one_accept():
    ledger = Ledger()
    item = ledger.returned("u", "python", (1, 4), BEFORE, AFTER, "return x")
    taken = ledger.edited("u", BEFORE + "return x" + AFTER)  # the editor inserts, then runs the command
    assert taken is not None and taken.line_done
    assert ledger.accepted(item) is None  # already settled by the edit
    got = counts(ledger)
    assert (got["returned"], got["shown"], got["accepted"], got["charsAccepted"]) == (1, 1, 1, 8)
    assert got["acceptanceRate"] == 1.0


def test_partial_accepts_count_once_and_typing_along_is_not_an_accept():
    ledger = Ledger()
    item = ledger.returned("u", "python", (1, 4), BEFORE, AFTER, "return x + 1")
    assert ledger.edited("u", BEFORE + "re" + AFTER) is not None  # two characters in one edit: an accept
    assert ledger.partly(item, 2) is None  # the client's signal for that same accept: not counted again
    word = ledger.partly(item, 6)  # "return": the client's length counts
    assert word is not None and not word.line_done
    assert ledger.edited("u", BEFORE + "return" + AFTER) is None  # the edit of that accept
    assert ledger.edited("u", BEFORE + "return " + AFTER) is None  # typed along: not taken
    ledger.requested("u", (2, 0))  # moved on: settled as partly accepted
    got = counts(ledger)
    assert (got["partlyAccepted"], got["accepted"], got["charsAccepted"], got["movedAway"]) == (1, 0, 6, 0)


def test_a_one_character_accept_reported_after_its_edit_counts():
    ledger = Ledger()
    item = ledger.returned("u", "python", (1, 4), BEFORE, AFTER, "x = 1")
    assert ledger.edited("u", BEFORE + "x" + AFTER) is None  # alone, it looks like typing
    assert ledger.partly(item, 1) is not None
    ledger.closed("u")
    assert counts(ledger)["partlyAccepted"] == 1 and counts(ledger)["charsAccepted"] == 1


def test_enter_and_its_auto_indent_after_a_taken_line_are_typing():
    """A block's first line taken, then Enter: the editor's newline and indentation match
    the block's next line, but the user typed them."""
    ledger = Ledger()
    item = ledger.returned("u", "python", (1, 4), BEFORE, AFTER, "if x:\n        return 1")
    assert ledger.partly(item, 5) is not None  # the first line, by line
    assert ledger.edited("u", BEFORE + "if x:" + AFTER) is None
    assert ledger.edited("u", BEFORE + "if x:\n        " + AFTER) is None  # Enter, auto-indented
    ledger.requested("u", (2, 8))
    got = counts(ledger)
    assert (got["partlyAccepted"], got["accepted"], got["charsAccepted"]) == (1, 0, 5)


def test_drops_by_reason():
    ledger = Ledger()
    ledger.returned("u", "python", (1, 4), BEFORE, AFTER, "return x")
    ledger.edited("u", BEFORE + "pass" + AFTER)  # typed over
    ledger.returned("u", "python", (1, 4), BEFORE, AFTER, "return x")
    ledger.returned("u", "python", (1, 4), BEFORE, AFTER, "return y")  # asked again: dismissed
    ledger.edited("u", "import os\n" + BEFORE + AFTER)  # an edit elsewhere: moved away
    ledger.returned("v", "javascript", (0, 0), "", "", "let a")
    ledger.closed("v")
    got = ledger.stats()
    assert (got["typedOver"], got["dismissed"], got["movedAway"], got["returned"]) == (1, 1, 2, 4)
    assert got["byLanguage"]["javascript"]["movedAway"] == 1
    assert got["acceptanceRate"] is None  # nothing shown


def test_saved_counts_add_up_and_hold_no_text(tmp_path):
    path = tmp_path / "acceptance.json"
    for _ in range(2):
        ledger = Ledger()
        item = ledger.returned("file:///secret.py", "python", (1, 4), BEFORE, AFTER, "return secret_value")
        ledger.accepted(item)
        ledger.save(path)
    assert "secret" not in path.read_text() and "def f" not in path.read_text()
    saved = read(path)
    assert saved["accepted"] == 2 and saved["charsAccepted"] == 2 * len("return secret_value")
    assert "python" in table(saved)
    path.write_text("{not json")
    assert read(path) is None
    assert json.loads(json.dumps(Ledger().stats()))["returned"] == 0


def test_prefetch_predicts_enter_at_a_line_end_only():
    assert indent_unit("def f():\n  x = 1\n    y\n") == "  "
    assert indent_unit("x = 1\n") == "    "
    assert indent_unit("if a:\n\tb\n") == "\t"
    text, offset = after_enter("def f(x):\n    if x:", "\n", "    ")
    assert text == "def f(x):\n    if x:\n        \n" and offset == len("def f(x):\n    if x:\n        ")
    assert after_enter("def f(x):\n    y = 1", "\nz", "    ")[0] == "def f(x):\n    y = 1\n    \nz"
    assert after_enter("def f(x):\n    y = ", "1\n", "    ") is None  # not at the line's end
    assert after_enter("def f(x):\n    ", "\n", "    ") is None  # an empty line
