"""Recent suggestions, so typing what we suggested is answered without the model.

Blocks written a line at a time (completion/blocks.py) are kept here too, one per file.

Keyed by the prompt's (prefix, suffix). A request whose prefix is an earlier prefix plus the
characters the user typed since, where the earlier suggestion starts with those characters,
gets the rest of that suggestion (llama.vim's cache lookup, done in reverse).
"""

from __future__ import annotations

from dataclasses import dataclass

import cachetools

from .structs import Cursor, Prompt, Snapshot

LOOK_BACK = 64  # most characters typed into a suggestion that we still recognise


class ResultCache:
    def __init__(self, size: int = 256) -> None:
        self._lru: cachetools.LRUCache = cachetools.LRUCache(size)
        self.hits = 0
        self.misses = 0
        self._made_with: object = None

    def made_with(self, params: object) -> None:
        """Suggestions made with other generation settings (healing, the gate, a token limit)
        are not what these would make: forget them when the settings change."""
        if params != self._made_with:
            self._lru.clear()
            self._made_with = params

    def put(self, prefix: str, suffix: str, text: str, recent: str = "") -> None:
        """`recent`: the recent edits the prompt showed; a suggestion made before an edit
        elsewhere is served after it only when the block is the same."""
        self._lru[(prefix, suffix, recent)] = text

    def get(self, prefix: str, suffix: str, recent: str = "") -> str | None:
        for back in range(min(len(prefix), LOOK_BACK) + 1):
            text = self._lru.get((prefix[: len(prefix) - back], suffix, recent))
            if text is None:
                continue
            typed = prefix[len(prefix) - back :]
            if text.startswith(typed) and len(text) > len(typed):
                self.hits += 1
                return text[len(typed) :]
        self.misses += 1
        return None

    def clear(self) -> None:
        self._lru.clear()


def between(text: str, before: str, after: str) -> str | None:
    """What `text` holds between `before` and `after` when it is that document with only
    something inserted at their meeting point; else None (an edit elsewhere)."""
    if len(text) < len(before) + len(after) or not (text.startswith(before) and text.endswith(after)):
        return None
    return text[len(before) : len(text) - len(after)]


@dataclass
class Block:
    """A block being written a line at a time where a completion was asked for."""

    uri: str
    before: str  # the document's text before the cursor where the block was asked for
    after: str  # and after it
    prompt: Prompt
    snap: Snapshot  # the document then (the final parse check)
    cursor: Cursor
    text: str  # the lines written so far, each complete and past the gate
    generated: int  # tokens generated for it so far
    done: bool = False  # no more lines will come

    def on_path(self, text: str) -> str | None:
        """What was typed into the block since, when `text` is the document as it was with
        only that typed at the block's place (a prefix of the block, or, while it is being
        written, all of it and a new line's indentation); else None."""
        typed = between(text, self.before, self.after)
        if typed is None:
            return None
        ahead = self.text if self.done else self.text + "\n"
        if ahead.startswith(typed):
            return typed
        if not self.done and typed.startswith(ahead) and not typed[len(ahead) :].strip(" \t"):
            return typed
        return None

    def rest(self, typed: str) -> str:
        """What to show after `typed`: the rest of the block once it is all written; before
        that, only the rest of the line the cursor is on, or the next line when it is at a
        line's end (a written line is always complete)."""
        rest = self.text[len(typed) :] if len(typed) <= len(self.text) else ""
        if self.done:
            return rest
        if rest.startswith("\n"):
            return "\n" + rest[1:].split("\n", 1)[0]
        return rest.split("\n", 1)[0]
