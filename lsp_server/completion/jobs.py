"""What the engine thread runs for completions, on the session it owns (session.py): the
completion, alternatives for an explicit ask, and the prompt `sokuji.context` shows."""

from __future__ import annotations

import time

from ..config import Settings
from ..context.memo import ChoiceMemo
from ..documents import Document
from ..results import Block
from ..session import EngineSession, Others
from ..structs import CancelledError, CancelToken, Cursor, Snapshot
from . import alternatives as more
from . import blocks
from . import pipeline

ALTERNATIVES = 2  # more suggestions for an explicit ask (inlineCompletion, triggerKind Invoked)


def complete(session: EngineSession, snap: Snapshot, cursor: Cursor, settings: Settings, others: Others,
             asked: bool, cancel: CancelToken, choices: ChoiceMemo | None = None) -> pipeline.Completion | None:
    engine = session.engine
    if engine is None:
        return None
    where = f"{snap.uri}:{cursor.line + 1}:{cursor.index + 1}"
    written = session.blocks.get(snap.uri)
    try:
        result = pipeline.complete(engine, snap, cursor, settings, cancel, session.results,
                                   session.symbols(others, snap.uri), choices or session.choices, written, asked,
                                   session.recent(others))
    except CancelledError:
        session.log(f"completion {where}: cancelled before decoding")
        raise
    if result.block is not None:
        session.blocks[snap.uri] = result.block
    elif written is not None and written.on_path(snap.text) is None:  # the buffer moved elsewhere
        del session.blocks[snap.uri]
    gen = result.generation
    session.log(
        f"completion {where}: {'multi' if result.multiline else 'single'}-line, stop={gen.stop_reason}, "
        f"prompt={gen.prompt_tokens} evaluated={gen.evaluated_tokens} generated={gen.generated_tokens}, "
        f"{gen.seconds * 1000:.0f} ms, healed={gen.healed_bytes}"
        + (f" confidence={gen.confidence:.2f}" if gen.confidence is not None else "")
        + (", the block goes on in the background" if result.block is not None else "")
    )
    return result


def prefetch(session: EngineSession, ahead: Document, text: str, offset: int, settings: Settings, others: Others,
             cancel: CancelToken) -> pipeline.Completion | None:
    """A suggestion for the document the user will most likely have next (`text`, the cursor
    at `offset`), made before they get there (after an accept): into the result cache."""
    ahead.apply_change(text)  # parsed here, off the event loop
    # on a scratch copy of the file's choices: a wrong guess (another indentation) must not
    # leave them made for a line the user never has, which would move the real request's window
    return complete(session, ahead.snapshot(), ahead.cursor(*ahead.position(offset)), settings, others, False, cancel,
                    session.choices.scratch(ahead.uri))


def write_block(session: EngineSession, block: Block, settings: Settings, cancel: CancelToken) -> bool:
    """The rest of a block whose first line was returned (blocks.write); True once it is
    whole or no longer wanted. A request arriving meanwhile cancels it (CancelledError):
    the loop runs it again afterwards, from the lines written so far."""
    engine = session.engine
    if engine is None or session.blocks.get(block.uri) is not block:
        return True
    started, lines = time.monotonic(), block.text.count("\n")
    try:
        blocks.write(engine, block, settings, cancel)
    finally:
        session.log(f"block {block.uri}:{block.cursor.line + 1}: {block.text.count(chr(10)) - lines} more line(s), "
                    f"{'whole' if block.done else 'yielded'}, {(time.monotonic() - started) * 1000:.0f} ms")
    return block.done


def alternatives(session: EngineSession, snap: Snapshot, cursor: Cursor, settings: Settings, others: Others,
                 best: str, cancel: CancelToken) -> list[str]:
    engine = session.engine
    if engine is None:
        return []
    started = time.monotonic()
    found = more.alternatives(engine, snap, cursor, settings, cancel, best, ALTERNATIVES,
                              session.symbols(others, snap.uri), session.choices, session.recent(others))
    session.log(f"alternatives {snap.uri}:{cursor.line + 1}:{cursor.index + 1}: {len(found)} more, "
                f"{(time.monotonic() - started) * 1000:.0f} ms")
    return found


def context(session: EngineSession, snap: Snapshot, cursor: Cursor, settings: Settings, others: Others) -> dict | None:
    """The prompt a completion here would use, part by part; None without an engine."""
    engine = session.engine
    if engine is None:
        return None
    prompt = pipeline.make_prompt(engine, snap, cursor, settings, session.symbols(others, snap.uri), session.choices,
                                  session.recent(others))
    return {"parts": pipeline.context_parts(engine, prompt), "prompt": engine.render(prompt),
            "promptTokens": engine.prompt_token_count(prompt)}
