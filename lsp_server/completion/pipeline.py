"""The completion pipeline, as both the server and the CLI run it:
snapshot -> context -> engine -> postprocess. Runs on the engine worker thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from . import postprocess
from ..config import Settings
from ..context.prompt import Budget, ChoiceMemo, Symbols, build_prompt
from ..context.symbols import Definition, extract_definitions
from ..context.syntax import completion_mode, error_counter
from ..engine.base import Engine
from ..results import ResultCache
from ..structs import CancelToken, Cursor, Generation, GenParams, Prompt, Snapshot

SPECIAL_TOKEN_ROOM = 8  # BOS and FIM markers around the prefix and suffix


@dataclass(frozen=True)
class Completion:
    text: str  # '' = nothing worth showing
    multiline: bool
    generation: Generation

    @property
    def hidden(self) -> bool:
        """The confidence gate left nothing to show."""
        return not self.text and self.generation.stop_reason == "unsure"


def prompt_budget(settings: Settings, context_size: int, fim: bool) -> Budget:
    """The contextBudget setting, within what the context window leaves after generation.
    A prefix-only model does not see the suffix: it is kept for post-processing only."""
    room = max(16, context_size - settings.max_tokens - SPECIAL_TOKEN_ROOM)
    total = min(settings.context_budget, room)
    return Budget(total=total, suffix=min(256, total // 4), suffix_counts=fim)


def own_definitions(snap: Snapshot) -> list[Definition]:
    return extract_definitions(snap.language, snap.tree, snap.source, snap.uri)


def make_prompt(
    model: Engine, snap: Snapshot, cursor: Cursor, settings: Settings, symbols: Symbols | None = None, memo: ChoiceMemo | None = None
) -> Prompt:
    budget = prompt_budget(settings, model.info.context_size, model.info.fim is not None)
    return build_prompt(snap, cursor, model.count_tokens, budget, symbols, own_definitions, memo=memo)


def context_parts(model: Engine, prompt: Prompt) -> list[dict]:
    """The prompt's parts, labelled, with their token counts (`sokuji context`, `sokuji.context`)."""
    parts = [{"label": f"definitions from {c.path}", "text": c.text} for c in prompt.extra]
    if prompt.imports:
        parts.append({"label": "imports", "text": prompt.imports})
    parts.append({"label": "file prefix (up to the cursor)", "text": prompt.prefix})
    parts.append({"label": "suffix" + ("" if model.info.fim else " (for post-processing; a prefix-only model does not see it)"),
                  "text": prompt.suffix})
    for part in parts:
        part["tokens"] = model.count_tokens(part["text"])
    return parts


def gate(settings: Settings, prompt: Prompt) -> float:
    """The confidence gate is for a line being typed, where a wrong suggestion gets in the way
    at every keystroke (benchmarks/typing_quality.py chose its default there). On an empty
    line (only its indentation typed) a suggestion is a proposal for the next statement,
    which a small model is rarely sure of as a whole line: shown as it comes."""
    return settings.min_confidence if prompt.prefix.rsplit("\n", 1)[-1].strip() else 0.0


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
) -> Completion:
    cancel.check()
    if completion_mode(snap, cursor) == "skip":  # inside a string or comment, after the last bracket, ...
        return Completion("", False, Generation("", 0, 0, 0, "skipped", 0.0))
    prompt = make_prompt(model, snap, cursor, settings, symbols, memo)
    params = GenParams(settings.max_tokens, settings.time_budget_ms, settings.temperature,
                       settings.token_healing, settings.min_confidence)
    if results is not None:
        results.made_with(params)  # the settings: the gate's per-line choice below must not clear it
    params = msgspec.structs.replace(params, min_confidence=gate(settings, prompt))
    if results is not None and (known := results.get(prompt.prefix, prompt.suffix)) is not None:
        # the user typed the start of a suggestion we made: serve the rest, no model call
        return Completion(known, prompt.multiline, Generation(known, 0, 0, 0, "cache", 0.0))
    gen = model.complete(
        prompt,
        params,
        cancel,
        stop=lambda text: postprocess.stop_index(text, prompt.multiline, prompt.block_indent, prompt.language),
        key=snap.uri,
    )
    text = "" if gen.stop_reason == "cancelled" else finish(gen.text, prompt, error_counter(snap, cursor))
    if results is not None and text:
        results.put(prompt.prefix, prompt.suffix, text)
    return Completion(text, prompt.multiline, gen)
