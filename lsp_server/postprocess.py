"""Pure text-in, text-out clean-up of raw model output."""

from __future__ import annotations


def clean(text: str, suffix: str, multiline: bool) -> str:
    """Trim what the editor must not show; '' means no suggestion."""
    text = text.rstrip() if multiline else text.rstrip("\r\n ")
    if not text.strip():
        return ""
    rest_of_line = suffix.split("\n", 1)[0].strip()
    if rest_of_line and text.rstrip().endswith(rest_of_line):  # model re-typed what follows the cursor
        text = text.rstrip()[: -len(rest_of_line)].rstrip()
    return text if text.strip() else ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def stop_index(text: str, multiline: bool, block_indent: int) -> int | None:
    """Where decoding should stop, checked after every token: the end of the line in
    single-line mode; in multi-line mode the first complete line that dedents below
    the cursor's block (the model has left the block it was asked to fill)."""
    if not multiline:
        cut = text.find("\n")
        return cut if cut >= 0 else None
    start = 0
    while (nl := text.find("\n", start)) >= 0:
        line_start = nl + 1
        rest = text[line_start:]
        if "\n" not in rest and not rest.strip():
            return None  # the next line has not shown its indentation yet
        line = rest.split("\n", 1)[0]
        if line.strip() and _indent(line) < block_indent:
            return nl
        start = line_start
    return None

