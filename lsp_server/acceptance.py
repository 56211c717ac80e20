"""What the user takes of sokuji's suggestions, counted locally (event loop only).

Every suggestion returned is followed until it is settled: accepted whole (the item's
`sokuji.accepted` command, or an edit that inserts all of it), partly accepted (Copilot's
`textDocument/didPartiallyAcceptCompletion`, or an edit that inserts a prefix of two or more
characters), or dropped: typed over (an edit at its place that is not its text), dismissed
(asked again at the same place without taking it) or moved away (an edit or a request
elsewhere). A client that can says when one is shown (`textDocument/didShowCompletion`).

Only counts are kept once an item is settled, per language; no user text is ever written
(`Ledger.save` writes the counts, for `sokuji stats`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cachetools

from .engine.embedded import cache_dir
from .results import between

DROPS = ("typedOver", "dismissed", "movedAway")
COUNTS = ("returned", "shown", "accepted", "partlyAccepted", "charsAccepted", *DROPS)


@dataclass
class Item:
    """A suggestion returned and not yet settled."""

    id: str
    uri: str
    language: str
    line: int  # where it goes, in the client's position encoding
    character: int
    before: str  # the document before and after its place when it was returned
    after: str
    text: str
    units: int  # its length in the client's position encoding
    measure: Callable[[str], int]  # a text's length in that encoding
    shown: bool = False
    taken: int = 0  # units of it in the document so far (accepted or typed along)
    accepted: int = 0  # units of it accepted (not typed)
    seen: int = 0  # code points of it the edits so far inserted
    line_done: bool = False  # the last accept took it to the end of one of its lines


@dataclass
class Counts:
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, language: str, key: str, n: int = 1) -> None:
        row = self.by_language.setdefault(language or "plaintext", dict.fromkeys(COUNTS, 0))
        row[key] += n

    def total(self) -> dict[str, int]:
        out = dict.fromkeys(COUNTS, 0)
        for row in self.by_language.values():
            for key, n in row.items():
                out[key] += n
        return out


def rate(row: dict[str, int]) -> float | None:
    """Accepted (whole or in part) per suggestion shown; None before any was shown."""
    return (row["accepted"] + row["partlyAccepted"]) / row["shown"] if row["shown"] else None


class Ledger:
    def __init__(self) -> None:
        self.counts = Counts()
        self._open: dict[str, Item] = {}  # uri -> its newest unsettled item
        self._by_id: cachetools.LRUCache = cachetools.LRUCache(256)  # id -> item, settled ones too (late signals)
        self._next = 0

    def returned(self, uri: str, language: str, at: tuple[int, int], before: str, after: str, text: str,
                 measure: Callable[[str], int] = len) -> str:
        """A suggestion goes back to the client: its id (the accept command's argument).
        `measure`: a text's length in the client's position encoding."""
        self._settle_previous(uri, at)
        self._next += 1
        item = Item(f"s{self._next}", uri, language, at[0], at[1], before, after, text, measure(text), measure)
        self._open[uri] = self._by_id[item.id] = item
        self.counts.add(language, "returned")
        return item.id

    def requested(self, uri: str, at: tuple[int, int]) -> None:
        """A new request: an item still open elsewhere in the file was moved away from."""
        self._settle_previous(uri, at, dismiss=False)

    def shown(self, item_id: str) -> None:
        item = self._by_id.get(item_id)
        if item is not None and not item.shown:
            item.shown = True
            self.counts.add(item.language, "shown")

    def accepted(self, item_id: str) -> Item | None:
        """The whole item was accepted (its command ran): the item, or None when unknown or
        already settled (the edit that inserted it was seen first)."""
        item = self._by_id.get(item_id)
        if item is None or self._open.get(item.uri) is not item:
            return None
        self._take(item, item.units, item.units - item.taken, len(item.text))
        return item

    def partly(self, item_id: str, length: int) -> Item | None:
        """The item's first `length` units were accepted (a word, a line)."""
        item = self._by_id.get(item_id)
        # the client's word beats the edit's: a one-character accept looked like typing
        if item is None or self._open.get(item.uri) is not item or length <= item.accepted:
            return None
        length = min(length, item.units)
        chars = next((k for k in range(len(item.text) + 1) if item.measure(item.text[:k]) >= length), len(item.text))
        self._take(item, max(length, item.taken), length - item.accepted, chars)
        return item

    def edited(self, uri: str, text: str) -> Item | None:
        """An edit in `uri`, the document now `text`: an accept inferred from it (the item,
        for a client that sends no signal), or the open item dropped when the edit is not
        along it."""
        item = self._open.get(uri)
        if item is None:
            return None
        inserted = between(text, item.before, item.after)
        if inserted is None:
            self._settle(item, "movedAway")
            return None
        if not inserted:
            return None
        if not item.text.startswith(inserted):
            self._settle(item, "typedOver")
            return None
        step = inserted[item.seen :]  # what this edit added along the item
        item.seen = len(inserted)
        if item.measure(inserted) <= item.taken:  # the edit of an accept the client reported first
            return None
        # one character at a time is typing along, not accepting; so is Enter with its
        # auto-indent, even where the item's next line starts the same way
        if step.strip() and (len(step) >= 2 or step == item.text):
            self._take(item, item.measure(inserted), item.measure(inserted) - item.taken, len(inserted))
            return item
        item.taken = item.measure(inserted)  # typed: not counted as taken
        return None

    def closed(self, uri: str) -> None:
        item = self._open.get(uri)
        if item is not None:
            self._settle(item, "movedAway")

    def stats(self) -> dict:
        total = self.counts.total()
        return {**total, "acceptanceRate": rate(total),
                "byLanguage": {lang: {**row, "acceptanceRate": rate(row)} for lang, row in self.counts.by_language.items()}}

    def save(self, path: Path) -> None:
        """Add this session's counts (no user text) to those in `path`, for `sokuji stats`;
        atomic, best effort (a failure loses only the counts)."""
        merged = Counts({lang: dict(row) for lang, row in (read(path) or {}).get("byLanguage", {}).items()})
        for lang, row in self.counts.by_language.items():
            for key, n in row.items():
                merged.add(lang, key, n)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".acceptance")
            with os.fdopen(fd, "w") as fh:
                json.dump({"byLanguage": merged.by_language}, fh)
            os.replace(tmp, path)
        except OSError:
            pass

    # -- settling -------------------------------------------------------------------------

    def _settle_previous(self, uri: str, at: tuple[int, int], dismiss: bool = True) -> None:
        item = self._open.get(uri)
        if item is None:
            return
        if (item.line, item.character) != at:
            self._settle(item, "movedAway")
        elif dismiss:
            self._settle(item, "dismissed")

    def _take(self, item: Item, units: int, accepted: int, chars: int) -> None:
        """The item's first `units` (`chars` code points) are in the document now, `accepted`
        of them by this accept."""
        item.line_done = chars >= len(item.text) or item.text[chars] == "\n"
        if not item.shown:  # taken, so it was shown, whether or not the client said so
            self.shown(item.id)
        self.counts.add(item.language, "charsAccepted", accepted)
        item.accepted += accepted
        item.taken = units
        if units >= item.units:
            self._settle(item, "accepted")

    def _settle(self, item: Item, outcome: str) -> None:
        """Counted once: accepted whole, else partly accepted if any of it was taken, else the
        reason it was dropped. No user text is kept after this."""
        if outcome != "accepted" and item.accepted:
            outcome = "partlyAccepted"
        self.counts.add(item.language, outcome)
        del self._open[item.uri]
        item.before = item.after = item.text = ""


def acceptance_file() -> Path:
    """Where the counts are kept: the cache folder, beside the KV states."""
    return cache_dir() / "acceptance.json"


def read(path: Path) -> dict | None:
    """The counts saved in `path` (every session's so far), or None."""
    try:
        data = json.loads(path.read_text())
        rows = {lang: {key: int(row.get(key, 0)) for key in COUNTS} for lang, row in data["byLanguage"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    total = Counts(rows).total()
    return {**total, "acceptanceRate": rate(total), "byLanguage": rows}


def table(stats: dict) -> str:
    """The counts as a text table, per language and in all."""
    rows = [*sorted(stats["byLanguage"].items()), ("all", stats)]
    head = ("language", *COUNTS, "rate")
    lines = ["  ".join(f"{h:>14}" for h in head)]
    for lang, row in rows:
        r = rate(row)
        lines.append("  ".join(f"{v:>14}" for v in (lang, *(row[k] for k in COUNTS), f"{r:.0%}" if r is not None else "-")))
    return "\n".join(lines)
