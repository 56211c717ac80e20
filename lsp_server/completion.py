"""The completion pipeline, as both the server and the CLI run it:
snapshot -> context -> engine -> postprocess. Runs on the engine worker thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import postprocess
from .config import Settings
from .context.prompt import build_prompt
from .context.syntax import completion_mode, error_counter
from .documents import Cursor, Snapshot
from .engine.embedded import cache_dir, embedded_model_path
from .engine.model import Model
from .results import ResultCache
from .structs import CancelToken, Generation, GenParams, Prompt

SPECIAL_TOKEN_ROOM = 8  # BOS and FIM markers around the prefix and suffix


@dataclass(frozen=True)
class Completion:
    text: str  # '' = nothing worth showing
    multiline: bool
    generation: Generation


def model_path(settings: Settings, override: str | None = None) -> str:
    """The GGUF file to load: settings, then the command line, then the embedded default."""
    return settings.model or override or embedded_model_path()


def load_model(settings: Settings, override: str | None = None) -> Model:
    return Model(
        model_path(settings, override),
        -1 if settings.gpu_layers is None else settings.gpu_layers,
        settings.context_size,
        kv_mode=settings.kv_cache,
        kv_budget_bytes=settings.kv_cache_mb << 20,
        kv_persist_dir=cache_dir() / "kv" if settings.kv_cache_persist else None,
    )


def prompt_budgets(context_size: int, max_tokens: int) -> tuple[int, int]:
    """Prefix and suffix token budgets: a quarter of the room for the suffix, at most 256."""
    room = max(16, context_size - max_tokens - SPECIAL_TOKEN_ROOM)
    suffix = min(256, room // 4)
    return min(1536, room - suffix), suffix


def finish(raw: str, prompt: Prompt, parse_errors: Callable[[str], int] | None = None) -> str:
    """Post-processing of raw model text for this prompt (the server's, and the benchmark's)."""
    return postprocess.finish(
        raw, prompt.prefix, prompt.suffix, prompt.multiline, prompt.block_indent, prompt.language, parse_errors
    )


def complete(
    model: Model,
    snap: Snapshot,
    cursor: Cursor,
    settings: Settings,
    cancel: CancelToken,
    results: ResultCache | None = None,
) -> Completion:
    cancel.check()
    if completion_mode(snap, cursor) == "skip":  # inside a string or comment, after the last bracket, ...
        return Completion("", False, Generation("", 0, 0, 0, "skipped", 0.0))
    prefix_budget, suffix_budget = prompt_budgets(model.info.context_size, settings.max_tokens)
    prompt = build_prompt(snap, cursor, model.count_tokens, prefix_budget, suffix_budget)
    if results is not None and (known := results.get(prompt.prefix, prompt.suffix)) is not None:
        # the user typed the start of a suggestion we made: serve the rest, no model call
        return Completion(known, prompt.multiline, Generation(known, 0, 0, 0, "cache", 0.0))
    params = GenParams(settings.max_tokens, settings.time_budget_ms, settings.temperature)
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
