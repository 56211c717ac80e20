"""More suggestions when the user asks for them (inlineCompletion with triggerKind Invoked,
e.g. "next suggestion"): something to cycle through. Runs on the engine worker thread.

The best suggestion is the greedy one (completion.complete). An alternative is the greedy
continuation after one of the next likeliest first tokens (the engine's logits at the
cursor, Model.first_pieces), kept only when its first line differs from every suggestion
kept before: best first, repeatable (greedy), and distinct where sampling is not (a model
92% sure of its first token samples the same line at any temperature, min-p cuts the rest).

Cost, bounded: one token's evaluation for the first tokens (the prompt is in the KV cache
from the greedy request), then at most MAX_TRIES greedy generations of at most maxTokens
each, within timeBudgetMs each; the prompt plus one token is evaluated from the cache.
Automatic requests (typing) never get here. A remote engine's first tokens are the server's
own top probabilities (llama-server's n_probs, OpenAI-style logprobs).
"""

from __future__ import annotations

import msgspec

from . import pipeline as completion
from . import postprocess
from ..config import Settings
from ..context.memo import ChoiceMemo
from ..context.prompt import Symbols
from ..context.recent import Recent
from ..context.syntax import completion_mode, error_counter
from ..engine.base import Engine
from ..structs import CancelToken, Cursor, GenParams, Snapshot

CANDIDATES = 6  # first tokens looked at, likeliest first (the greedy one among them)
MAX_TRIES = 3  # greedy generations at most per explicit ask


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def alternatives(
    model: Engine,
    snap: Snapshot,
    cursor: Cursor,
    settings: Settings,
    cancel: CancelToken,
    best: str,
    wanted: int = 2,
    symbols: Symbols | None = None,
    memo: ChoiceMemo | None = None,
    recent: Recent | None = None,
) -> list[str]:
    """Up to `wanted` suggestions other than `best`, each with a first line of its own."""
    cancel.check()
    if completion_mode(snap, cursor) == "skip":
        return []
    prompt = completion.make_prompt(model, snap, cursor, settings, symbols, memo, recent)
    seen = {first_line(best)}
    found: list[str] = []
    tries = 0
    for piece in model.first_pieces(prompt, CANDIDATES, cancel, key=snap.uri):
        if len(found) >= wanted or tries >= MAX_TRIES:
            break
        if "\ufffd" in piece or not piece or best.startswith(piece):  # a part of a character; the greedy path
            continue
        tries += 1
        forced = msgspec.structs.replace(prompt, prefix=prompt.prefix + piece)

        def stop(text: str, piece: str = piece) -> int | None:
            cut = postprocess.stop_index(piece + text, prompt.multiline, prompt.block_indent, prompt.language)
            return None if cut is None else max(0, cut - len(piece))

        gen = model.complete(forced, GenParams(settings.max_tokens, settings.time_budget_ms, 0.0), cancel, stop=stop, key=snap.uri)
        if gen.stop_reason == "cancelled":
            break
        text = completion.finish(piece + gen.text, prompt, error_counter(snap, cursor))
        if text.strip() and first_line(text) not in seen:
            seen.add(first_line(text))
            found.append(text)
    return found
