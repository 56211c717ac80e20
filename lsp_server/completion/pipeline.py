"""The completion pipeline, as both the server and the CLI run it:
snapshot -> context -> engine -> postprocess. Runs on the engine worker thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from . import blocks, gate, postprocess
from ..config import Settings
from ..context.memo import ChoiceMemo
from ..context.prompt import Budget, Symbols, build_prompt
from ..context.recent import Recent
from ..context.symbols import Definition, extract_definitions
from ..context.syntax import completion_mode, error_counter
from ..engine.base import Engine
from ..results import Block, ResultCache
from ..structs import CancelToken, Cursor, Generation, GenParams, Prompt, Snapshot

SPECIAL_TOKEN_ROOM = 8  # BOS and FIM markers around the prefix and suffix
RECENT_SHARE = 5  # 1/5 of the budget for the recent edits (recentEdits; 1/8 did a little worse on edit_replay.py)


@dataclass(frozen=True)
class Completion:
    text: str  # '' = nothing worth showing
    multiline: bool
    generation: Generation
    block: Block | None = None  # the first line of a block the background goes on writing

    @property
    def hidden(self) -> bool:
        """The confidence gate left nothing to show."""
        return not self.text and self.generation.stop_reason == "unsure"


def prompt_budget(settings: Settings, context_size: int, fim: bool) -> Budget:
    """The contextBudget setting, within what the context window leaves after generation.
    A prefix-only model does not see the suffix: it is kept for post-processing only."""
    room = max(16, context_size - settings.max_tokens - SPECIAL_TOKEN_ROOM)
    total = min(settings.context_budget, room)
    return Budget(total=total, suffix=min(256, total // 4), suffix_counts=fim,
                  recent=total // RECENT_SHARE if settings.recent_edits else 0)


def own_definitions(snap: Snapshot) -> list[Definition]:
    return extract_definitions(snap.language, snap.tree, snap.source, snap.uri)


def make_prompt(
    model: Engine, snap: Snapshot, cursor: Cursor, settings: Settings, symbols: Symbols | None = None,
    memo: ChoiceMemo | None = None, recent: Recent | None = None,
) -> Prompt:
    budget = prompt_budget(settings, model.info.context_size, model.info.fim is not None)
    return build_prompt(snap, cursor, model.count_tokens, budget, symbols, own_definitions, memo=memo, recent=recent)


def context_parts(model: Engine, prompt: Prompt) -> list[dict]:
    """The prompt's parts, labelled, with their token counts (`sokuji context`, `sokuji.context`)."""
    parts = [{"label": f"definitions from {c.path}", "text": c.text} for c in prompt.extra]
    if prompt.recent:
        parts.append({"label": "recent edits", "text": prompt.recent})
    if prompt.imports:
        parts.append({"label": "imports", "text": prompt.imports})
    parts.append({"label": "file prefix (up to the cursor)", "text": prompt.prefix})
    parts.append({"label": "suffix" + ("" if model.info.fim else " (for post-processing; a prefix-only model does not see it)"),
                  "text": prompt.suffix})
    for part in parts:
        part["tokens"] = model.count_tokens(part["text"])
    return parts


def at_line_start(prompt: Prompt) -> bool:
    """Nothing typed on the cursor's line yet but its indentation."""
    return not prompt.prefix.rsplit("\n", 1)[-1].strip()


def finish(raw: str, prompt: Prompt, parse_errors: Callable[[str], int] | None = None) -> str:
    """Post-processing of raw model text for this prompt (the server's, and the benchmark's)."""
    return postprocess.finish(
        raw, prompt.prefix, prompt.suffix, prompt.multiline, prompt.block_indent, prompt.language, parse_errors
    )


def complete(
    model: Engine,
    snap: Snapshot,
    cursor: Cursor,
    settings: Settings,
    cancel: CancelToken,
    results: ResultCache | None = None,
    symbols: Symbols | None = None,
    memo: ChoiceMemo | None = None,
    written: Block | None = None,
    asked: bool = False,
    recent: Recent | None = None,
) -> Completion:
    """The suggestion at the cursor. A block (`prompt.multiline`) comes a line at a time
    (firstLineFirst): the first line is returned with `block` set, for blocks.write to go on
    with; `written`, the file's block so far, answers a request on its path. `asked`: the
    user asked for it, so a line start shows the model's line ungated."""
    cancel.check()
    if completion_mode(snap, cursor) == "skip":  # inside a string or comment, after the last bracket, ...
        return Completion("", False, Generation("", 0, 0, 0, "skipped", 0.0))
    if known := blocks.answer(written, snap.text, cursor.offset):
        return from_block(known)
    prompt = make_prompt(model, snap, cursor, settings, symbols, memo, recent)
    if results is not None:
        results.made_with(settings)  # suggestions made with other settings are not what these would make
        if (known := results.get(prompt.prefix, prompt.suffix, prompt.recent)) is not None:
            # the user typed the start of a suggestion we made: serve the rest, no model call
            return Completion(known, prompt.multiline, Generation(known, 0, 0, 0, "cache", 0.0))
    result = generate(model, snap, cursor, settings, cancel, prompt, asked)
    if results is not None and result.text:
        results.put(prompt.prefix, prompt.suffix, result.text, prompt.recent)
    return result


def from_block(known: str) -> Completion:
    """An answer from the file's block, without the model."""
    return Completion(known, True, Generation(known, 0, 0, 0, "block", 0.0))


def generate(model: Engine, snap: Snapshot, cursor: Cursor, settings: Settings, cancel: CancelToken,
             prompt: Prompt, asked: bool = False) -> Completion:
    """The model's suggestion for the prompt, post-processed and gated: mid-line inside the
    decode loop (minConfidence), at a line start on the whole first line (gate.py) unless
    the user asked for it."""
    by_line = prompt.multiline and settings.first_line_first
    blank = at_line_start(prompt)
    line_start = blank and not asked  # the line-start gate's case
    params = GenParams(settings.max_tokens, settings.time_budget_ms, settings.temperature, settings.token_healing,
                       0.0 if blank else gate.mid_line(settings, prompt.language),
                       probabilities=line_start and gate.measures(settings))
    stop = (blocks.first_line_end if by_line else
            lambda text: postprocess.stop_index(text, prompt.multiline, prompt.block_indent, prompt.language))
    gen = model.complete(prompt, params, cancel, stop=stop, key=snap.uri)
    if gen.stop_reason == "cancelled":
        return Completion("", prompt.multiline, gen)
    text = finish(gen.text, prompt, error_counter(snap, cursor))
    if line_start and text and not (text := gate.line_start(gen.line_tokens, text, prompt.language, settings)):
        gen = msgspec.structs.replace(gen, stop_reason="unsure")
    block = None
    if by_line and text and gen.stop_reason == "stop" and "\n" not in text.strip("\n"):
        block = blocks.start(snap, cursor, prompt, text, gen.generated_tokens)  # the rest comes in the background
    return Completion(text, prompt.multiline, gen, block)
