"""A block written a line at a time (results.Block): which edits stay on its path and what a
request there is answered with; and the line-start gate's measure (completion/gate.py)."""

from __future__ import annotations

import math

from lsp_server.completion import gate
from lsp_server.completion.blocks import first_line_end
from lsp_server.config import Settings
from lsp_server.results import Block
from lsp_server.structs import Prompt

BEFORE, AFTER = "def f(n):\n    ", "\n\nprint(f(2))\n"


def block(text: str, done: bool) -> Block:
    return Block("file:///f.py", BEFORE, AFTER, Prompt(BEFORE, AFTER), None, None, text, 0, done)  # type: ignore[arg-type]


def test_on_path_while_written_and_once_whole():
    b = block("if n < 2:\n        return n", done=False)
    assert b.on_path(BEFORE + AFTER) == ""
    assert b.on_path(BEFORE + "if n" + AFTER) == "if n"
    assert b.on_path(BEFORE + "if n < 2:\n        " + AFTER) == "if n < 2:\n        "
    # typed past what is written: a new line's indentation only
    assert b.on_path(BEFORE + "if n < 2:\n        return n\n    " + AFTER) == "if n < 2:\n        return n\n    "
    assert b.on_path(BEFORE + "if n < 2:\n        return n\n    x" + AFTER) is None
    assert b.on_path(BEFORE + "while" + AFTER) is None  # typed something else
    assert b.on_path("import os\n" + BEFORE + AFTER) is None  # an edit elsewhere
    b.done = True
    assert b.on_path(BEFORE + "if n < 2:\n        return n\n    " + AFTER) is None


def test_rest_is_one_line_until_the_block_is_whole():
    b = block("if n < 2:\n        return n\n    return f(n - 1)", done=False)
    assert b.rest("") == "if n < 2:"
    assert b.rest("if n") == " < 2:"
    assert b.rest("if n < 2:") == "\n        return n"
    assert b.rest("if n < 2:\n    ") == "    return n"  # the editor indented less than the block
    assert b.rest("if n < 2:\n        return n\n    return f(n - 1)") == ""
    b.done = True
    assert b.rest("") == "if n < 2:\n        return n\n    return f(n - 1)"
    assert b.rest("if n < 2:\n        ") == "return n\n    return f(n - 1)"


def test_first_line_end_skips_a_block_openers_newline():
    assert first_line_end("x = 1\ny") == 5
    assert first_line_end("\n    return x\n") == 13
    assert first_line_end("x = 1") is None


def test_line_probability_leaves_out_the_indentation():
    # "    " (p 0.5), "return" (0.9), " x" (0.8), "\n" (1.0): offsets are the text's length after each
    tokens = [(4, 0.5), (10, 0.9), (12, 0.8), (13, 1.0)]
    assert math.isclose(gate.line_probability(tokens, "    return x\n"), 0.72)
    assert gate.line_probability([], "x") is None


def test_line_start_gate_per_language_and_setting():
    tokens = [(6, 0.5), (8, 0.16)]  # probability 0.08
    defaults = Settings()
    assert gate.line_start(tokens, "return x", "python", defaults) == "return x"  # python's 0.05
    assert gate.line_start(tokens, "return x", "javascript", defaults) == ""  # under javascript's 0.1
    assert gate.line_start(tokens, "return x", "javascript", Settings(line_start_confidence=0)) == "return x"
    assert gate.line_start(tokens, "return x", "python", Settings(line_start_confidence=0.3)) == ""
    assert not gate.measures(Settings(line_start_confidence=0))
    assert gate.mid_line(defaults, "javascript") == gate.MID_LINE["javascript"]
    assert gate.mid_line(Settings(min_confidence=0.5), "javascript") == 0.5
