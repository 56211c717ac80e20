"""Recent suggestions, so typing what we suggested is answered without the model.

Keyed by the prompt's (prefix, suffix). A request whose prefix is an earlier prefix plus the
characters the user typed since, where the earlier suggestion starts with those characters,
gets the rest of that suggestion (llama.vim's cache lookup, done in reverse).
"""

from __future__ import annotations

import cachetools

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

    def put(self, prefix: str, suffix: str, text: str) -> None:
        self._lru[(prefix, suffix)] = text

    def get(self, prefix: str, suffix: str) -> str | None:
        for back in range(min(len(prefix), LOOK_BACK) + 1):
            text = self._lru.get((prefix[: len(prefix) - back], suffix))
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
