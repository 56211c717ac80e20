"""Values that cross layers. Leaf module: imports nothing from sokuji."""

from __future__ import annotations

import threading

import msgspec


class Chunk(msgspec.Struct, frozen=True):
    """Extra context from one file (definitions the cursor's code uses)."""

    path: str  # as shown to the model: relative to the workspace folder
    text: str


def headed(comment: str, path: str, text: str = "") -> str:
    """A file's text under a comment line naming it: how a model without file-separator
    tokens is shown other files (and, with no text, where the current file starts)."""
    return f"{comment} {path}\n{text}\n\n" if text else f"{comment} {path}\n"


class Prompt(msgspec.Struct, frozen=True):
    """What the model should see, laid out stable-first:
    extra chunks, then imports, then the file prefix up to the cursor; the suffix after it."""

    prefix: str
    suffix: str
    language: str | None = None
    path: str = ""
    multiline: bool = False
    block_indent: int = 0  # multi-line completions stop at the first line indented less
    imports: str = ""  # the file's imports above the window (with an elision line)
    extra: tuple[Chunk, ...] = ()
    file_label: str = ""  # the file's own path, as chunk paths are shown
    repo: str = ""  # the workspace folder's name (models with a <|repo_name|> token see it)
    comment: str = "#"  # the language's line comment: chunk headers for models without file tokens

    def headed_chunks(self) -> list[str]:
        """The extra chunks, each under its file's comment header, then this file's header."""
        if not self.extra:
            return []
        return [headed(self.comment, c.path, c.text) for c in self.extra] + [headed(self.comment, self.file_label)]


class GenParams(msgspec.Struct, frozen=True):
    """One generation's limits and choices (their user-facing defaults are the settings')."""

    max_tokens: int
    time_budget_ms: int
    temperature: float = 0.0  # 0: greedy
    token_healing: bool = False  # a prompt ending inside a word is healed (engine/healing.py)
    min_confidence: float = 0.0  # stop once the line's probability falls under this (engine/confidence.py)


class Generation(msgspec.Struct, frozen=True):
    """Raw model output and what it cost."""

    text: str
    prompt_tokens: int  # tokens in the prompt
    evaluated_tokens: int  # prompt tokens actually run (the rest came from the KV cache)
    generated_tokens: int
    stop_reason: str  # "eos" | "max_tokens" | "time" | "stop" | "cancelled" | "unsure"
    seconds: float
    healed_bytes: int = 0  # prompt text taken back by token healing and spelled again
    confidence: float | None = None  # the model's probability of the kept first line (when the gate measured it)


class CancelledError(Exception):
    """The request was cancelled or superseded; decoding stopped."""


class CancelToken:
    """Set by the event loop, polled by the decode loop between tokens."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise CancelledError()
