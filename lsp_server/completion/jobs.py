"""What the engine thread runs for completions, on the session it owns (session.py): the
completion, alternatives for an explicit ask, and the prompt `sokuji.context` shows."""

from __future__ import annotations

import time

from ..config import Settings
from ..session import EngineSession, Others
from ..structs import CancelledError, CancelToken, Cursor, Snapshot
from . import alternatives as more
from . import pipeline

ALTERNATIVES = 2  # more suggestions for an explicit ask (inlineCompletion, triggerKind Invoked)


def complete(session: EngineSession, snap: Snapshot, cursor: Cursor, settings: Settings, others: Others,
             cancel: CancelToken) -> pipeline.Completion | None:
    engine = session.engine
    if engine is None:
        return None
    where = f"{snap.uri}:{cursor.line + 1}:{cursor.index + 1}"
    try:
        result = pipeline.complete(engine, snap, cursor, settings, cancel, session.results,
                                   session.symbols(others, snap.uri), session.choices)
    except CancelledError:
        session.log(f"completion {where}: cancelled before decoding")
        raise
    gen = result.generation
    session.log(
        f"completion {where}: {'multi' if result.multiline else 'single'}-line, stop={gen.stop_reason}, "
        f"prompt={gen.prompt_tokens} evaluated={gen.evaluated_tokens} generated={gen.generated_tokens}, "
        f"{gen.seconds * 1000:.0f} ms, healed={gen.healed_bytes}"
        + (f" confidence={gen.confidence:.2f}" if gen.confidence is not None else "")
    )
    return result


def alternatives(session: EngineSession, snap: Snapshot, cursor: Cursor, settings: Settings, others: Others,
                 best: str, cancel: CancelToken) -> list[str]:
    engine = session.engine
    if engine is None:
        return []
    started = time.monotonic()
    found = more.alternatives(engine, snap, cursor, settings, cancel, best, ALTERNATIVES,
                              session.symbols(others, snap.uri), session.choices)
    session.log(f"alternatives {snap.uri}:{cursor.line + 1}:{cursor.index + 1}: {len(found)} more, "
                f"{(time.monotonic() - started) * 1000:.0f} ms")
    return found


def context(session: EngineSession, snap: Snapshot, cursor: Cursor, settings: Settings, others: Others) -> dict | None:
    """The prompt a completion here would use, part by part; None without an engine."""
    engine = session.engine
    if engine is None:
        return None
    prompt = pipeline.make_prompt(engine, snap, cursor, settings, session.symbols(others, snap.uri), session.choices)
    return {"parts": pipeline.context_parts(engine, prompt), "prompt": engine.render(prompt),
            "promptTokens": engine.prompt_token_count(prompt)}
