"""Completions' flow on the event loop: a snapshot of the document and a cursor taken here,
the pipeline (pipeline.py: context, engine, post-processing) run on the engine thread
(jobs.py, on the session it owns), the answer given back with its position. Also the other
buffers' definitions, read once their edits pause, and `sokuji.context`."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from ..config import Settings
from ..documents import Documents
from ..engines import Engines
from ..pause import Debounce
from ..session import EngineSession, Others
from ..structs import Snapshot
from ..workspace import WorkspaceService
from . import jobs


class Suggestion(NamedTuple):
    text: str
    line: int  # where it goes, in the client's position encoding
    character: int


class Completions:
    def __init__(self, docs: Documents, engines: Engines, workspace: WorkspaceService,
                 settings: Callable[[], Settings]) -> None:
        self.docs = docs
        self.engines = engines
        self.session: EngineSession = engines.session
        self.workspace = workspace
        self._settings = settings
        self._definitions = Debounce()
        self.served = 0
        self.hidden = 0  # suggestions the confidence gate kept from the user
        self.latencies: deque[float] = deque(maxlen=2000)  # seconds, most recent requests

    async def suggest(self, uri: str, line: int, character: int) -> Suggestion | None:
        """The model's suggestion at the position, or None. Never raises for a bad request."""
        doc = self.docs.get(uri)
        if doc is None:
            return None
        snap, cursor, others = doc.snapshot(), doc.cursor(line, character), self.others(uri)
        at = cursor.line, cursor.column
        started = time.monotonic()
        outcome = await self.engines.run(uri, jobs.complete, self.session, snap, cursor, self._settings(), others)
        notices = self.engines.notices
        if outcome.unexpected is not None:
            notices.report("completion", f"sokuji: a completion failed ({outcome.unexpected}). The next one "
                           "starts afresh; details in the log.")
        if outcome.failure is not None:
            return None
        notices.recovered("completion")
        notices.recovered("worker")
        self.served += 1
        self.latencies.append(time.monotonic() - started)
        result = outcome.value
        if result is not None and result.hidden:
            self.hidden += 1
        if result is None or not result.text:
            return None
        return Suggestion(result.text, *at)

    async def alternatives(self, uri: str, line: int, character: int, best: str) -> list[str]:
        """Suggestions other than `best` (alternatives.py), for an explicit ask; [] when the
        document closed, a newer request came, or anything failed (the best is still served)."""
        doc = self.docs.get(uri)
        if doc is None:
            return []
        snap, cursor, others = doc.snapshot(), doc.cursor(line, character), self.others(uri)
        outcome = await self.engines.run(uri, jobs.alternatives, self.session, snap, cursor, self._settings(), others, best)
        return outcome.value or []

    async def context(self, uri: str, line: int, character: int) -> dict | None:
        """The prompt a completion at the position would use, part by part (`sokuji.context`);
        None without an engine. The document must be open."""
        doc = self.docs.get(uri)
        if doc is None:
            raise KeyError(uri)
        snap, cursor, others = doc.snapshot(), doc.cursor(line, character), self.others(uri)
        await self.engines.ready.wait()
        return await self.engines.call(jobs.context, self.session, snap, cursor, self._settings(), others)

    def others(self, uri: str) -> Others:
        """Snapshots of the other open buffers (text only where the session has not read that
        version), the user's edits outside `uri` so far, and the workspace folders."""
        buffers = []
        for doc in self.docs.all():
            if doc.uri == uri:
                continue
            seen = self.session.known_version(doc.uri) == doc.version
            buffers.append(Snapshot(doc.uri, doc.version, "", "", None, None) if seen else doc.snapshot())
        return Others(buffers, self.workspace.edits_outside(uri), self.workspace.root_uris())

    def schedule_definitions(self, uri: str) -> None:
        """Once edits to a buffer pause, the session reads its definitions, which other files'
        prompts may show: a request in another file then does not wait for that (~2 ms a
        file; after editing ten files, a return to the first paid ~25 ms)."""
        doc = self.docs.get(uri)
        if doc is not None and doc.tree is not None:
            self._definitions.after_pause(uri, self._read_definitions, uri, doc.version)

    def _read_definitions(self, uri: str, version: int) -> None:
        doc = self.docs.get(uri)
        if doc is not None and doc.version == version:
            self.engines.background.spawn(self.engines.call(self.session.read_definitions, doc.snapshot()))
