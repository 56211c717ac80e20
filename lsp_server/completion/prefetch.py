"""Where the user will most likely be after accepting a suggestion, as a document to prefetch
a suggestion for. After a whole line: Enter, auto-indented as editors do (the line's own
indentation, one level more after a line that opens a block). After a word, nothing to
predict: the rest of the line is already in the result cache. Pure."""

from __future__ import annotations

import re

from ..context.prompt import OPENERS

_INDENTS = re.compile(r"^([ \t]+)\S", re.MULTILINE)


def indent_unit(text: str) -> str:
    """The file's indentation step: a tab, or the smallest run of spaces it indents by
    (among its first 200 indented lines); 4 spaces when it shows none."""
    sizes = []
    for n, match in enumerate(_INDENTS.finditer(text)):
        if n >= 200:
            break
        lead = match.group(1)
        if "\t" in lead:
            return "\t"
        sizes.append(len(lead))
    return " " * min(sizes) if sizes else "    "


def after_enter(before: str, after: str, unit: str) -> tuple[str, int] | None:
    """The document with Enter pressed at the end of the line `before` ends on (`after` must
    start at that line's end), and the cursor's offset there; None when the cursor is not at
    a line's end or the line is empty."""
    if after.split("\n", 1)[0].strip():
        return None
    line = before.rsplit("\n", 1)[-1]
    if not line.strip():
        return None
    indent = line[: len(line) - len(line.lstrip())]
    if line.rstrip().endswith(OPENERS):
        indent += unit
    head = before + "\n" + indent
    return head + after, len(head)
