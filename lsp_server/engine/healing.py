"""Token healing: a prompt that ends inside a word ends on a token the model reads as
finished (`os.listd` is `list` + `d`; nothing in training followed `d` with `ir`). So the
prompt is backed off to the last token boundary the vocabulary could not extend, and the
first generated tokens are constrained to spell the removed text again before going on
(guidance's and llama.cpp's "token healing"). The removed text is not shown: the user has
typed it already.

Pure: works on the vocabulary's pieces as bytes (the engine reads them from llama.cpp
once per model), so tests can use literal vocabularies.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

MAX_ROLLBACK = 8  # tokens; a partial word is rarely more than a few


def _after(text: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with `text`."""
    while text and text[-1] == 0xFF:
        text = text[:-1]
    return text[:-1] + bytes([text[-1] + 1]) if text else None


class Pieces:
    """A vocabulary's pieces (what each token writes, as bytes), searchable by prefix.
    `usable[i]` False leaves token i out of healing: control and end-of-generation tokens,
    whose text is never the user's."""

    def __init__(self, pieces: Sequence[bytes], usable: Sequence[bool]) -> None:
        self.pieces = list(pieces)
        order = sorted((p, i) for i, p in enumerate(self.pieces) if usable[i] and p)
        self._keys = [p for p, _ in order]
        self._ids = np.fromiter((i for _, i in order), dtype=np.int64, count=len(order))

    def _range(self, text: bytes) -> tuple[int, int]:
        lo = bisect.bisect_left(self._keys, text)
        end = _after(text)
        hi = len(self._keys) if end is None else bisect.bisect_left(self._keys, end, lo)
        return lo, hi

    def _exact(self, text: bytes) -> slice:
        return slice(bisect.bisect_left(self._keys, text), bisect.bisect_right(self._keys, text))

    def extends(self, text: bytes) -> bool:
        """Some usable piece starts with `text` and goes on past it."""
        lo, hi = self._range(text)
        same = self._exact(text)
        return hi - lo > same.stop - same.start

    def allowed(self, text: bytes) -> np.ndarray:
        """Tokens that agree with `text`: their piece starts with it, or is a (non-empty)
        prefix of it (which leaves the rest of `text` for the next token)."""
        lo, hi = self._range(text)
        parts = [self._ids[lo:hi]] + [self._ids[self._exact(text[:n])] for n in range(1, len(text))]
        return np.concatenate(parts)


def rollback(tokens: Sequence[int], pieces: Pieces, limit: int = MAX_ROLLBACK) -> tuple[int, bytes]:
    """How many of the prompt's last tokens to take back, and the bytes they wrote: the
    most (up to `limit`) whose text could still be the start of a longer token. In
    `os.listd` that is `listd` (`listdir`; `.listd` starts none); in `café` spelled `caf` +
    two byte tokens, all three (`cafés`), though `é` alone starts nothing. A token holding a
    newline is never taken back, nor a line's indentation: the line structure stays the
    prompt's."""
    best, removed, best_removed = 0, b"", b""
    for k in range(1, min(limit, len(tokens)) + 1):
        piece = pieces.pieces[tokens[len(tokens) - k]]
        if not piece or b"\n" in piece:
            break
        removed = piece + removed
        if pieces.extends(removed):
            best, best_removed = k, removed
    before = pieces.pieces[tokens[len(tokens) - best - 1]] if best < len(tokens) else b"\n"
    if not best_removed.strip() and before.endswith(b"\n"):
        return 0, b""  # a line's indentation is no partial word: healing it only perturbs the model
    return best, best_removed


class Healer:
    """One generation's constraint: the text taken back, until the tokens spell it again."""

    def __init__(self, pieces: Pieces, removed: bytes) -> None:
        self._pieces = pieces
        self.remaining = removed

    def allowed(self) -> np.ndarray | None:
        """The tokens the next one must be among; None once the removed text is spelled."""
        return self._pieces.allowed(self.remaining) if self.remaining else None

    def take(self, piece: bytes) -> bytes:
        """A token wrote `piece`: what of it goes past the removed text (the user sees that)."""
        if len(piece) >= len(self.remaining):
            shown, self.remaining = piece[len(self.remaining):], b""
            return shown
        self.remaining = self.remaining[len(piece):]
        return b""
