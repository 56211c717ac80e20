"""What every engine is to its callers: the in-process model (model.py) and the remote
servers (remote.py) implement one `Engine` protocol, with the types they share. Callers
(the session, completion, alternatives, fixes, the CLI) see only this, never a concrete
class, and never probe for a method.

An engine is used from one thread at a time: the engine worker thread serves every call
once it is loaded (see engine/worker.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..structs import CancelToken, Generation, GenParams, Prompt

Stop = Callable[[str], "int | None"]  # where to cut the text so far, or None to go on
Pieces = tuple[tuple[str, bool], ...]  # a prompt as (text, is a special token's spelling) pieces


class EngineError(Exception):
    """The engine cannot be loaded or used: a model file missing, unreadable or not a GGUF
    llama.cpp can load, a bad engine URL."""


class EngineUnavailable(EngineError):
    """A remote engine cannot be reached, timed out, or answered with an error: it may come
    back by itself."""


@dataclass(frozen=True)
class EngineInfo:
    path: str  # the model file, or the server's URL
    size_bytes: int
    architecture: str
    name: str
    fim: str | None  # fill-in-the-middle family, None = prefix-only prompts (the suffix is not seen)
    context_size: int
    gpu_layers: int
    gpu_offload: bool  # this llama.cpp build can offload to a GPU


@dataclass(frozen=True)
class EngineStats:
    """Counters over the engine's life (`sokuji.stats`). The KV ones are the per-file state
    cache's; an engine without one (a server keeps its own) reports zeros."""

    evaluated_tokens: int = 0  # prompt tokens run
    reused_tokens: int = 0  # prompt tokens served from a KV cache
    kv_hits: int = 0
    kv_misses: int = 0
    kv_evictions: int = 0
    kv_disk_hits: int = 0
    kv_files: int = 0
    kv_bytes_held: int = 0
    kv_budget_bytes: int = 0


class Engine(Protocol):
    info: EngineInfo

    def count_tokens(self, text: str) -> int:
        """Tokens of user text in the model's own tokenizer (memoized)."""

    def prompt_token_count(self, prompt: Prompt) -> int:
        """Tokens of the whole prompt as the model sees it."""

    def render(self, prompt: Prompt) -> str:
        """The prompt as text, special tokens spelled out (`sokuji context`)."""

    def complete(self, prompt: Prompt, params: GenParams, cancel: CancelToken, stop: Stop, key: str = "") -> Generation:
        """A completion at the prompt's cursor; `key` names the file (its cache)."""

    def first_pieces(self, prompt: Prompt, count: int, cancel: CancelToken, key: str = "") -> list[str]:
        """The `count` likeliest first pieces of a completion, best first ([] when the engine
        cannot tell): where alternatives start."""

    def rewrite(self, text: str, source: str, params: GenParams, cancel: CancelToken, stop: Stop,
                key: str = "", lookup: bool = True) -> Generation:
        """Continue a plain-text prompt whose answer mostly copies `source` (a fix)."""

    def edit(self, pieces: Pieces, source: str, params: GenParams, cancel: CancelToken, stop: Stop,
             key: str = "", strict: bool = False) -> Generation:
        """Continue a prompt given as (text, special) pieces, whose answer mostly copies
        `source` (a next edit, nextedit/sweep.py): a special piece is the spelling of one
        special token of the vocabulary (a marker), any other piece user text, never read
        for special tokens. A marker the vocabulary lacks raises EngineError with `strict`;
        else it goes as plain text, and that is logged once (the model is no next-edit model)."""

    def score(self, context: str, continuations: list[str], cancel: CancelToken, key: str = "") -> list[float] | None:
        """Log-likelihood of each continuation after `context`; None when the engine cannot."""

    def stats(self) -> EngineStats: ...

    def forget(self, key: str) -> None:
        """Drop what is held for a file (closed, or changed outside the editor)."""

    def persist(self) -> None:
        """Keep what is held across a restart, where the engine can (at shutdown)."""

    def reset(self) -> None:
        """Forget any half-done evaluation (the engine thread died in the middle of one)."""

    def close(self) -> None:
        """Free the engine now; the last call."""
