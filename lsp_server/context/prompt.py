"""The local window around the cursor, under a budget counted in model tokens.

The prefix start snaps to a multiple of STABLE_LINES so that consecutive keystrokes keep
the same first line, and with it the same cached token prefix in the engine.
"""

from __future__ import annotations

from collections.abc import Callable

from ..documents import Cursor, Snapshot
from ..structs import Prompt

CountTokens = Callable[[str], int]
STABLE_LINES = 16


OPENERS = (":", "{", "(", "[", "=>", " do", " then")


def block_indent(line_before: str, previous_line: str = "") -> int:
    """Indentation that lines of a multi-line completion must keep to stay in the block."""
    if not line_before.strip():
        if line_before or not previous_line.strip():
            return len(line_before)  # blank line: the block is where the cursor is
        line_before = previous_line  # column 0 of a blank line: the block of the line above
    indent = len(line_before) - len(line_before.lstrip(" \t"))
    return indent + 1 if line_before.rstrip().endswith(OPENERS) else indent  # a block opener's body is deeper


def is_multiline(line_before: str, line_after: str) -> bool:
    """Multi-line on a blank line or after a line that opens a block; single-line mid-line
    and mid-expression (typing at the end of a statement completes that line)."""
    if line_after.strip():
        return False
    head = line_before.rstrip()
    return not head or head.endswith(OPENERS)


def build_prompt(
    snap: Snapshot,
    cursor: Cursor,
    count_tokens: CountTokens,
    prefix_budget: int,
    suffix_budget: int,
) -> Prompt:
    text = snap.text
    before, after = text[: cursor.offset], text[cursor.offset :]
    before_lines = before.split("\n")  # last item: the cursor line up to the cursor
    after_lines = after.split("\n")  # first item: the cursor line after the cursor

    # Prefix: whole lines, walking up from the cursor while they fit.
    used = count_tokens(before_lines[-1])
    first = len(before_lines) - 1
    while first > 0:
        cost = count_tokens(before_lines[first - 1] + "\n")
        if used + cost > prefix_budget:
            break
        used += cost
        first -= 1
    if first > 0:  # cut: snap forward to a stable line so the cached prefix survives typing
        first = min(len(before_lines) - 1, -(-first // STABLE_LINES) * STABLE_LINES)
    prefix = "\n".join(before_lines[first:])

    # Suffix: whole lines walking down, nearest first.
    used = count_tokens(after_lines[0])
    last = 1
    while last < len(after_lines):
        cost = count_tokens("\n" + after_lines[last])
        if used + cost > suffix_budget:
            break
        used += cost
        last += 1
    suffix = "\n".join(after_lines[:last])

    return Prompt(
        prefix=prefix,
        suffix=suffix,
        language=snap.language,
        path=snap.uri,
        multiline=is_multiline(before_lines[-1], after_lines[0]),
        block_indent=block_indent(before_lines[-1], next((ln for ln in reversed(before_lines[:-1]) if ln.strip()), "")),
    )
