"""Next edits from a model trained for them (`nextEditModel`, Sweep's): the job the engine
thread runs. The prompt and the reading of the answer are sweep.py's; here the engine is
asked, within bounds: at most about twice the block's tokens, within `fixTimeBudgetMs` (the
block is rewritten as a fix's region is), and stopped at the request's cancellation (the
decode loop polls the token between tokens). The answer counts only if the model ended the
block itself: one cut short by the token or time bound would delete the rest of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..structs import CancelToken, GenParams, Snapshot
from . import sweep
from .proposal import Proposal

if TYPE_CHECKING:
    from ..config import Settings
    from ..edits.history import Hunk
    from ..session import EngineSession

SLACK_TOKENS = 32  # room for the rows a next edit adds to the block


def model_proposals(session: EngineSession, snap: Snapshot, cursor_offset: int, hunks: tuple[Hunk, ...],
                    settings: Settings, cancel: CancelToken) -> list[Proposal]:
    """On the engine thread: the model's next edits of the block around the cursor, as
    proposals of `snap`'s version ([] when no next-edit model is loaded, or it changes nothing)."""
    engine = session.next_edit_engine
    if engine is None:
        return []
    cancel.check()
    label = sweep.labeler([snap.uri, *(h.uri for h in hunks)])
    blk = sweep.block(snap.text, cursor_offset, hunks, snap.uri)
    diffs = [(label(h.uri), h) for h in sweep.recent(hunks, snap.uri, blk.current.split("\n"))]
    path = label(snap.uri)
    pieces = sweep.prompt(path, blk, diffs, files=[(path, sweep.file_section(snap.text, blk))])
    budget = min(settings.fix_max_tokens, 2 * engine.count_tokens(blk.current) + SLACK_TOKENS)
    params = GenParams(max_tokens=budget, time_budget_ms=settings.fix_time_budget_ms, temperature=0.0)
    gen = engine.edit(pieces, blk.current, params, cancel, sweep.stop, key=f"nes:{snap.uri}")
    cancel.check()  # stopped by the cancellation: CancelledError, as every engine job
    if gen.stop_reason not in ("eos", "stop"):  # cut short (tokens, time) or cancelled: not a whole block
        return []
    return sweep.proposals(blk, sweep.updated(gen.text), snap.uri, snap.version, engine.info.name)
