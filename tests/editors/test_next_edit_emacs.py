"""Next edits in Emacs 28 + eglot (editors/emacs/sokuji-next-edit.el), headless, with the real
`sokuji serve' and the embedded model: a rename typed at a definition is drawn at the other
references (the range marked, the new text after it), M-n jumps there and applies it, the next
of the series follows, C-g dismisses, an edit elsewhere clears; off screen a marker at the
window's edge names the line; ghost text wins a key bound for both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .test_editors import readme_snippet, run_emacs, workspace

SHAPES = "def area(width, height):\n    total = width * height\n    print(width)\n    return total\n"
LONG = "def scale(width):\n    total = 0\n" + "    total += 1\n" * 75 + "    return total * width\n"  # 78 lines

def test_emacs_next_edits(tmp_path: Path):
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("emacs is not installed (.ci/run installs emacs-nox and elpa-eglot)")
    ws = workspace(tmp_path)
    (ws / "shapes.py").write_text(SHAPES)
    (ws / "dims.py").write_text(SHAPES)
    (ws / "long.py").write_text(LONG)
    (ws / "tall.py").write_text(LONG)
    out, _ = run_emacs(emacs, "emacs_next_edit_test.el", tmp_path, ws,
                       readme_snippet("emacs") + readme_snippet("emacs-next-edit"), 900)
    assert out["delay"] == 0.3  # the snippet's option
    # the rename, typed: drawn at line 2, `width' marked, `size' after it
    assert out["typed"] == "def area(size, height):"
    assert out["binding_before"] is None and out["binding_shown"] == "sokuji-next-edit-jump-or-apply"
    assert out["first"] == ["width", 2, len("    total = "), "size", "sokuji-next-edit-delete-face", 1], out["first"]
    # M-n jumps, M-n applies; the next (line 3) shows; M-n jumps, the snippet's TAB applies
    assert out["after_jump"] == [2, len("    total = ")]
    assert out["line2"] == "    total = size * height"
    assert out["second"] == ["width", 3, len("    print("), "size", "sokuji-next-edit-delete-face", 1], out["second"]
    assert out["after_jump2"] == [3, len("    print(")]
    assert out["tab_next_edit_only"] == ["sokuji-next-edit-jump-or-apply", None]
    assert out["renamed"] == SHAPES.replace("width", "size")
    assert out["after_series"] is None and out["binding_after"] is None
    assert out["stats"]["accepted.rename"] == 2, out["stats"]  # the items' commands ran
    # a second rename, `height' -> `h' (in dims.py, a copy): proposed, dismissed (C-g takes shown ghost text first), stays dismissed
    assert out["height"][:4] == ["height", 2, len("    total = width * "), "h"], out["height"]
    if "cg_with_ghost" in out:
        assert out["cg_with_ghost"] == "sokuji-dismiss" and out["cg_ghost_gone"] and out["cg_next_edit_kept"]
    assert out["cg_binding"] == "sokuji-next-edit-dismiss"
    assert out["dismissed"] is None and out["still_dismissed"] is None and out["unchanged_by_dismiss"]
    # ghost text and a next edit both shown, TAB bound for both: the ghost text is taken
    assert out["again"] == out["height"]
    assert "both" in out, "no ghost text where the next edit is shown"
    ghost, binding = out["both"]
    assert binding == "sokuji-accept"
    line1, line2, shown = out["after_tab_both"]
    assert line1.startswith("def area(width, h" + ghost.split("\n")[0]) and line2 == "    total = width * height"
    assert shown is None  # the accepted ghost text is an edit: the proposal goes
    assert out["tab_neither"][0] == "indent-for-tab-command" and out["tab_neither"][1:] == [None, None]
    # off screen: the marker at the bottom line names line 78; gone once it is on screen
    height, top = out["window"]
    assert top == 1 and height < 78
    assert out["far"][:4] == ["width", 78, len("    return total * "), "w"], out["far"]
    assert out["edge_below"] == ["  ↓ next edit: line 78", height], out["edge_below"]
    assert out["edge_at_it"][0] is None and out["edge_at_it"][1] > 1
    assert out["far_applied"] == "    return total * w"
    assert out["near"][:4] == ["width", 1, len("def scale("), "w"], out["near"]
    edge, top = out["edge_above"]
    assert edge == ["  ↑ next edit: line 1", top] and top > 1
    # an edit elsewhere: nothing drawn, the request in flight cancelled
    assert out["after_edit_elsewhere"] == [None, None] and out["cancel_sent"]
