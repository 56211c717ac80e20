"""Blocks written a line at a time. Where a completion would be a block (a line start, after
a line that opens one), the request is answered with the first line as soon as it is
complete and passes the gate; the rest of the block is then written here, in the
background, one gated line after another. The next request on the block's path (the first
line accepted and Enter pressed, or the same place asked again) is answered from it without
the model: the whole rest of the block once it is written, else the next written line.

The blocks themselves (results.Block) are the engine thread's: the session holds the newest
one per file, beside the result cache; the event loop only reads `on_path`, to tell an edit
along a block from one elsewhere.
"""

from __future__ import annotations

import msgspec

from .. import faults
from ..config import Settings
from ..context.syntax import error_counter
from ..engine.base import Engine
from ..results import Block
from ..structs import CancelToken, Cursor, GenParams, Prompt, Snapshot
from . import gate, postprocess


def first_line_end(text: str) -> int | None:
    """Where the first line ends: the first newline after some text (a block opener's
    body starts with a newline)."""
    start = len(text) - len(text.lstrip())
    cut = text.find("\n", start)
    return cut if cut >= 0 else None


def start(snap: Snapshot, cursor: Cursor, prompt: Prompt, first: str, generated: int) -> Block:
    """A block whose first line (already shown) is `first`."""
    return Block(snap.uri, snap.text[: cursor.offset], snap.text[cursor.offset :], prompt, snap, cursor, first, generated)


def answer(block: Block | None, text: str, offset: int) -> str:
    """What `block` shows with the document `text` and the cursor at `offset`: '' off its
    path, away from its end, or with nothing written there yet. Safe on the event loop while
    the engine thread writes the block: a written line is always complete."""
    if block is None or (typed := block.on_path(text)) is None or offset != len(block.before) + len(typed):
        return ""
    return block.rest(typed)


def write(engine: Engine, block: Block, settings: Settings, cancel: CancelToken) -> None:
    """Write the block's next lines until it ends (it leaves its scope, repeats the code
    below, the gate stops a line, the model ends, or the token limit) or `cancel` is set
    (CancelledError: the job yields; what is written stays, a later job goes on from there)."""
    below = next((ln.strip() for ln in block.prompt.suffix.split("\n")[1:] if ln.strip()), None)
    while not block.done:
        faults.point("block", cancel)  # where the tests hold the background writing
        cancel.check()
        left = settings.max_tokens - block.generated
        if left <= 0:
            break
        prompt = msgspec.structs.replace(block.prompt, prefix=block.prompt.prefix + block.text + "\n")
        params = GenParams(left, settings.time_budget_ms, settings.temperature, False, 0.0,
                           probabilities=gate.measures(settings))
        gen = engine.complete(prompt, params, cancel, stop=lambda t: t.find("\n") if "\n" in t else None, key=block.uri)
        cancel.check()
        block.generated += gen.generated_tokens
        line = gen.text.split("\n", 1)[0].rstrip()
        if gen.stop_reason in ("max_tokens", "time") and "\n" not in gen.text or not _belongs(line, block, below):
            break
        if not gate.keeps_line(gen.line_tokens, line, block.prompt.language, settings):
            break
        block.text += "\n" + line
        if gen.stop_reason != "stop":  # the model ended the block
            break
    _finish(block)


def _belongs(line: str, block: Block, below: str | None) -> bool:
    """A line that is part of the block: not blank, still inside its scope, not a new
    definition at its level, not the code that already follows."""
    if not line.strip() or line.strip() == below:
        return False
    cut = postprocess.stop_index("x\n" + line + "\n", True, block.prompt.block_indent, block.prompt.language)
    return cut is None


def _finish(block: Block) -> None:
    """The block is whole: its lines that keep the file parsing no worse (never fewer than
    the first, which the user has seen)."""
    count = error_counter(block.snap, block.cursor)
    if count is not None and "\n" in block.text:
        block.text = postprocess.best_parse_cut(block.text, count)
    block.done = True
