"""The edit history (edits/history.py) and the recent edits' block (context/recent.py), on
literal edit sequences."""

from lsp_server.context.recent import Recent, RecentMemo, block, choose, names, render
from lsp_server.edits.history import MAX_HUNK_BYTES, EditHistory, changed_rows

A, B = "file:///w/a.py", "file:///w/b.py"
LABEL = lambda uri: uri.rsplit("/", 1)[-1]  # noqa: E731


def typed(history: EditHistory, uri: str, text: str, at: int, chars: str, now: float = 0.0) -> str:
    """`chars` typed one by one at offset `at`, as an editor reports them; the text after."""
    for ch in chars:
        new = text[:at] + ch + text[at:]
        history.record(uri, text, new, now, (at, at, at + 1))
        text, at = new, at + 1
    return text


def test_changed_rows_finds_the_rows_an_edit_replaced():
    assert changed_rows("a\nb\nc", "a\nb\nc") is None
    assert changed_rows("a\nb\nc", "a\nbx\nc") == (1, 2, 2)
    assert changed_rows("a\nb\nc", "a\nb\n\nc") == (2, 3, 4)  # Enter: a row made of the old one
    assert changed_rows("a\nb\nc", "a\nc") == (1, 3, 2)


def test_keystrokes_on_a_line_and_the_lines_below_it_coalesce_into_one_hunk():
    history = EditHistory()
    text = "def f(a):\n    return a\n\n\nx = 1\n"
    text = typed(history, A, text, text.index("a)") + 1, ", b")
    text = typed(history, A, text, text.index("return a") + len("return a"), " + b\n    pass")
    [hunk] = history.recent(0.0)
    assert hunk.before == ("def f(a):", "    return a")
    assert hunk.after == ("def f(a, b):", "    return a + b", "    pass")
    assert (hunk.start, hunk.end) == (0, 3)


def test_an_edit_elsewhere_starts_a_hunk_and_rows_below_an_edit_follow_it():
    history = EditHistory()
    text = "x = 1\n\n\n\ny = 2\nz = 3\n"
    text = typed(history, A, text, text.index("2") + 1, "0", now=1.0)  # y = 20
    text = typed(history, A, text, 0, "# head\n", now=2.0)  # a line inserted above it
    low, high = history.recent(2.0)
    assert (low.after, high.after) == (("y = 20",), ("# head", "x = 1"))
    assert text.split("\n")[low.start] == "y = 20"  # moved down with its row


def test_undoing_an_edit_leaves_no_hunk():
    history = EditHistory()
    before = "a = 1\nb = 2\n"
    after = typed(history, A, before, 5, "0")
    history.record(A, after, before, 1.0)
    assert history.recent(1.0) == ()


def test_hunks_age_out_and_the_bounds_keep_the_newest():
    history = EditHistory(max_hunks=2, max_age=60.0)
    text = "\n".join(f"v{i} = {i}" for i in range(12)) + "\n"
    for n, row in enumerate((0, 4, 8)):
        at = text.index(f"v{row} = ") + len(f"v{row} = ")
        text = typed(history, A, text, at, "9", now=float(n))
    assert [h.after for h in history.recent(2.0)] == [("v4 = 94",), ("v8 = 98",)]
    assert [h.after for h in history.recent(62.0)] == [("v8 = 98",)]  # v4's is 61 s old
    assert history.recent(100.0) == ()
    small = EditHistory(max_bytes=20)  # each hunk: 13 bytes
    small.record(A, "a\n", "abcdefghij\n", 0.0)
    small.record(B, "b\n", "bcdefghijk\n", 1.0)
    assert [h.uri for h in small.recent(1.0)] == [B]
    assert small.stats()["bytes"] <= 20


def test_a_paste_of_a_whole_file_is_not_kept():
    history = EditHistory()
    history.record(A, "", "x = 1\n" * (MAX_HUNK_BYTES // 4), 0.0)
    assert history.recent(0.0) == ()


def test_a_closed_files_hunks_keep_their_text_and_stop_following_rows():
    history = EditHistory()
    typed(history, A, "a = 1\n", 5, "0")
    history.closed(A)
    history.record(A, "a = 10\n", "a = 100\n", 1.0)  # reopened, edited at the same place
    hunks = history.recent(1.0)
    assert [h.open for h in hunks] == [False, True]
    assert hunks[0].after == ("a = 10",)


def test_relevance_puts_hunks_sharing_names_with_the_cursor_first_then_the_same_files_and_drops_the_rest():
    C = "file:///w/c.py"
    history = EditHistory()
    history.record(B, "\n\n\nlog('x')\n", "\n\n\nlogger('x')\n", 0.0)  # shares nothing, not among the latest
    history.record(B, "total = price\n", "total = price * rate\n", 1.0)
    history.record(A, "\n" * 30 + "n = 1\n", "\n" * 30 + "n = 2\n", 2.0)
    history.record(C, "y = 1\n", "y = 3\n", 3.0)  # shares nothing, but the latest
    hunks = history.recent(3.0)
    near = names(["subtotal = price * 2"])
    assert near == {"subtotal", "price"}
    assert [h.after for h in choose(hunks, A, (0, 10), near)] == [("total = price * rate",), ("n = 2",), ("y = 3",)]
    in_window = choose(hunks, A, (25, 35), near)  # A's own hunk is in the window: left out
    assert [h.after for h in in_window] == [("total = price * rate",), ("y = 3",)]


def test_the_block_is_diffs_without_line_numbers_under_the_budget_oldest_first():
    history = EditHistory()
    history.record(B, "def scale(a):\n", "def scale(a, b):\n", 0.0)
    history.record(B, "\n\n\nscale(1)\n", "\n\n\nscale(1, 2)\n", 1.0)
    hunks = history.recent(1.0)
    assert render(hunks[0], LABEL) == "--- a/b.py\n+++ b/b.py\n@@\n-def scale(a):\n+def scale(a, b):\n"
    count = lambda text: len(text.split())  # noqa: E731  (a stand-in tokenizer: words)
    both = block(hunks, A, (0, 5), {"scale"}, count, 100, LABEL)
    assert both.index("def scale(a, b)") < both.index("scale(1, 2)")
    one = block(hunks, A, (0, 5), {"scale"}, count, 8, LABEL)
    assert "scale(1, 2)" in one and "def scale" not in one  # the newest fits; both would not


def test_the_block_stays_the_same_while_the_line_at_the_cursor_is_typed():
    history, memo = EditHistory(), RecentMemo()
    history.record(B, "rate = price\n", "tax_rate = price * 2\n", 0.0)
    text = "def g(price):\n    \n"
    lines = text.split("\n")
    count = lambda text: len(text)  # noqa: E731
    first = Recent(history.recent(0.0), memo).block(A, lines, 1, (0, 3), count, 500, LABEL)
    assert "tax_rate" in first
    for chars in ("    return price * tax", "    return price * tax_rate\n    "):
        new = typed(history, A, text, len("def g(price):\n"), chars[4:], now=1.0)
        recent = Recent(history.recent(1.0), memo)
        assert len(recent.hunks) == 2  # the line typed is a hunk of its own ...
        assert recent.block(A, new.split("\n"), 1, (0, 3 + chars.count("\n")), count, 500, LABEL) == first  # ... in the window
    history.record(B, "\n" * 5 + "price = 1\n", "\n" * 5 + "price = 2\n", 2.0)  # an edit elsewhere changes it
    assert Recent(history.recent(2.0), memo).block(A, lines, 1, (0, 3), count, 500, LABEL) != first


def test_two_versions_of_a_file_become_a_hunk_per_changed_region():
    history = EditHistory()
    old = "def f(a):\n    return a\n\n\n\nprint(f(1))\n"
    new = "def f(a, b):\n    return a + b\n\n\n\nprint(f(1, 2))\n"
    history.record_versions(A, old, new, 0.0)
    assert sorted((h.start, h.before, h.after) for h in history.recent(0.0)) == [
        (0, ("def f(a):", "    return a"), ("def f(a, b):", "    return a + b")), (5, ("print(f(1))",), ("print(f(1, 2))",))]
