"""Diagnostics' flow on the event loop: once a document's edits pause, its syntax errors are
found off the loop (problems.py: tree-sitter, Python's own parser, probes for
a missing token) and published only if the document is still at that version."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import NamedTuple

from . import problems
from ..documents import Document, Documents
from ..structs import Snapshot
from .syntax import Problem as Found
from ..pause import Background, Debounce

log = logging.getLogger("sokuji")
Position = tuple[int, int]  # (line, character in the client's encoding)


class Problem(NamedTuple):
    start: Position
    end: Position
    message: str


# (uri, the version the problems are of (None: the document closed), the problems): the protocol layer sends them
Publish = Callable[[str, "int | None", list[Problem]], None]


class Diagnostics:
    def __init__(self, docs: Documents, publish: Publish, enabled: Callable[[], bool]) -> None:
        self.docs = docs
        self._publish = publish
        self._enabled = enabled  # the `diagnostics` setting, read at each edit
        self._pause = Debounce()
        self._background = Background()

    def schedule(self, uri: str) -> None:
        """Publish the document's syntax errors once its edits pause."""
        self._pause.cancel(uri)
        doc = self.docs.get(uri)
        if doc is not None and self._enabled() and doc.tree is not None:
            self._pause.after_pause(uri, self._start, uri, doc.version)

    def clear(self, uri: str) -> None:
        """The document closed: nothing pending, nothing shown."""
        self._pause.cancel(uri)
        self._publish(uri, None, [])

    def _start(self, uri: str, version: int) -> None:
        doc = self.docs.get(uri)
        if doc is not None and doc.version == version:  # else the newer version has its own timer
            self._background.spawn(self._diagnose(doc.snapshot()))

    async def _diagnose(self, snap: Snapshot) -> None:
        try:
            found = await asyncio.get_running_loop().run_in_executor(
                None, problems.publishable, snap.language, snap.text, snap.tree)
        except Exception:
            log.exception("diagnostics failed for %s", snap.uri)
            return
        doc = self.docs.get(snap.uri)
        if doc is None or doc.version != snap.version:
            return  # changed meanwhile: the newer version has its own timer
        self._publish(snap.uri, snap.version, [_problem(doc, p) for p in found])


def _problem(doc: Document, found: Found) -> Problem:
    return Problem(doc.position_of_byte(found.start_byte), doc.position_of_byte(found.end_byte), found.message)
