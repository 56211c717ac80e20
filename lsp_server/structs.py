"""Values that cross layers. Leaf module: imports nothing from sokuji (nor tree_sitter at
run time: engine/ and the tests load it without the grammars)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    import tree_sitter


def utf8(text: str) -> bytes:
    """`text` as tree-sitter and llama.cpp read it. A lone surrogate (half a pair, as an
    editor may send while one is typed) is kept, as its 3-byte form, rather than an error."""
    return text.encode("utf-8", "surrogatepass")


def from_utf8(data: bytes) -> str:
    """The inverse of `utf8`."""
    return data.decode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Cursor:
    """Where a request stands, in every unit a layer needs, computed once per request
    (documents.Document.cursor): LSP's line and column, the code point offset, tree-sitter's
    byte offset and row (a row differs from LSP's line after a lone \\r, which ends an LSP
    line but not a row of `text.split("\\n")`), and the row's text around the cursor."""

    offset: int  # code point offset in the text
    line: int  # LSP's line, 0-based
    index: int  # code point index within the LSP line
    row: int  # the row in text.split("\n") (tree-sitter's)
    byte: int  # utf-8 byte offset in the text (tree-sitter's)
    column: int  # `index` in the negotiated encoding's units (the request's, clamped to the line)
    before: str  # the row's text before the cursor
    after: str  # the row's text after the cursor (a CRLF file's \r included)


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of a document, safe to hand to the worker thread. `encoded`: the
    text's utf-8 bytes when the maker has them (a Document does); else `source` encodes the
    text on first use."""

    uri: str
    version: int
    text: str
    language_id: str
    language: str | None  # grammar name, None for plain text
    tree: tree_sitter.Tree | None
    encoded: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def source(self) -> bytes:
        """The text as tree-sitter reads it (utf8)."""
        if self.encoded is None:
            object.__setattr__(self, "encoded", utf8(self.text))  # a cache: the same bytes whoever fills it
        return self.encoded


class Chunk(msgspec.Struct, frozen=True):
    """Extra context from one file (definitions the cursor's code uses)."""

    path: str  # as shown to the model: relative to the workspace folder
    text: str


def headed(comment: str, path: str, text: str = "") -> str:
    """A file's text under a comment line naming it: how a model without file-separator
    tokens is shown other files (and, with no text, where the current file starts)."""
    return f"{comment} {path}\n{text}\n\n" if text else f"{comment} {path}\n"


RECENT_EDITS = "recent-edits.diff"  # the recent edits' block, as the model sees it named


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
    recent: str = ""  # the user's recent edits elsewhere, as unified diffs (context/recent.py)
    file_label: str = ""  # the file's own path, as chunk paths are shown
    repo: str = ""  # the workspace folder's name (models with a <|repo_name|> token see it)
    comment: str = "#"  # the language's line comment: chunk headers for models without file tokens

    def chunks(self) -> tuple[Chunk, ...]:
        """What the model sees before this file: the definitions' chunks, then the recent
        edits (after them: they change more often, and sit nearer the code)."""
        return self.extra + ((Chunk(RECENT_EDITS, self.recent),) if self.recent else ())

    def headed_chunks(self) -> list[str]:
        """The chunks, each under its file's comment header, then this file's header."""
        chunks = self.chunks()
        if not chunks:
            return []
        return [headed(self.comment, c.path, c.text) for c in chunks] + [headed(self.comment, self.file_label)]


class GenParams(msgspec.Struct, frozen=True):
    """One generation's limits and choices (their user-facing defaults are the settings')."""

    max_tokens: int
    time_budget_ms: int
    temperature: float = 0.0  # 0: greedy
    token_healing: bool = False  # a prompt ending inside a word is healed (engine/healing.py)
    min_confidence: float = 0.0  # stop once the line's probability falls under this (engine/confidence.py)
    probabilities: bool = False  # measure the first line's token probabilities even without a gate (line starts)


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
    line_tokens: tuple[tuple[int, float], ...] = ()  # when measured: per first-line token, (text length after it, probability)


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
