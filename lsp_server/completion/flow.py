"""Completions' flow on the event loop: a snapshot of the document and a cursor taken here,
the pipeline (pipeline.py: context, engine, post-processing) run on the engine thread
(jobs.py, on the session it owns), the answer given back with its position. Also the other
buffers' definitions, read once their edits pause, and `sokuji.context`."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from ..config import Settings
from ..acceptance import Ledger
from ..documents import Document, Documents
from ..edits.history import EditHistory
from ..engines import Engines, Outcome
from ..pause import Debounce
from ..positions import index_to_col
from ..results import Block
from ..session import EngineSession, Others
from ..context.syntax import completion_mode
from ..structs import Cursor, Snapshot
from ..workspace import WorkspaceService
from . import blocks, jobs, pipeline, prefetch


class Suggestion(NamedTuple):
    text: str
    line: int  # where it goes, in the client's position encoding
    character: int
    id: str = ""  # the acceptance ledger's (the accept command's argument)


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
        self.writing: Block | None = None  # the block the background writes on (blocks.py)
        self.blocks = {"started": 0, "whole": 0, "answers": 0}  # blocks begun with a first line, written whole, requests they answered
        self._writer: asyncio.Future | None = None
        self.ledger = Ledger()  # what the user takes of what is returned (acceptance.py)
        self.history = EditHistory()  # the user's recent edits, every file's (edits/history.py)
        self.prefetches = 0  # suggestions prefetched after an accept
        self._last_cursor: dict[str, int] = {}  # uri -> code-point offset where its last edit ended
        self._ahead: dict[str, tuple[str, int, asyncio.Future]] = {}  # uri -> the prefetch's text, cursor, task

    async def suggest(self, uri: str, line: int, character: int, asked: bool = False) -> Suggestion | None:
        """The model's suggestion at the position, or None. Never raises for a bad request.
        `asked`: the user asked for it (no line-start gate: an explicit ask shows the line)."""
        doc = self.docs.get(uri)
        if doc is None:
            return None
        snap, cursor, others = doc.snapshot(), doc.cursor(line, character), self.others(uri)
        at = cursor.line, cursor.column
        self.ledger.requested(uri, at)
        started = time.monotonic()
        joined, outcome = await self._made(snap, cursor)
        if outcome is None:
            outcome = await self.engines.run(uri, jobs.complete, self.session, snap, cursor, self._settings(), others, asked)
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
        if result is not None and result.block is not None and not joined:  # a joined prefetch counted its own
            self.writing = result.block
            self.blocks["started"] += 1
        if result is not None and result.generation.stop_reason == "block":
            self.blocks["answers"] += 1
        self._write_on()
        if result is None or not result.text:
            return None
        item = self.ledger.returned(uri, snap.language or snap.language_id, at, snap.text[: cursor.offset],
                                    snap.text[cursor.offset :], result.text,
                                    lambda text: index_to_col(text, len(text), doc.encoding))
        return Suggestion(result.text, *at, item)

    async def _made(self, snap: Snapshot, cursor: Cursor) -> tuple[bool, Outcome | None]:
        """An answer already made: from the file's block first (once the prefetch that began
        it goes on, it has more), else the prefetch's; (joined a prefetch, the outcome)."""
        outcome = self._from_block(snap, cursor)
        if outcome is not None:
            return False, outcome
        joined, outcome = await self._joined(snap.uri, snap.text, cursor.offset)
        if joined:
            self.session.log(f"completion {snap.uri}:{cursor.line + 1}:{cursor.index + 1}: from the prefetch, stop=prefetch")
        return joined, outcome

    def _from_block(self, snap: Snapshot, cursor: Cursor) -> Outcome | None:
        """A request on the path of the file's block, answered here on the loop (the next line
        after an accepted one and Enter): on the engine thread it would wait for the block's
        writing to yield, up to a token (~40 ms on 2 cores). An older request is stale."""
        block = self.session.blocks.get(snap.uri)
        if block is None or completion_mode(snap, cursor) == "skip":
            return None
        known = blocks.answer(block, snap.text, cursor.offset)
        if not known:
            return None
        self.engines.latest.end(snap.uri, self.engines.latest.begin(snap.uri))
        self._ahead.pop(snap.uri, None)
        self.session.log(f"completion {snap.uri}:{cursor.line + 1}:{cursor.index + 1}: from the block, stop=block")
        return Outcome(pipeline.from_block(known))

    # -- accepts, and the suggestion after them -------------------------------------------

    async def _joined(self, uri: str, text: str, offset: int) -> tuple[bool, Outcome | None]:
        """The prefetch's outcome when the user is where it predicted: at once when it is made,
        waited for while it is being made (not made twice); else (False, None)."""
        ahead = self._ahead.get(uri)
        if ahead is None or ahead[:2] != (text, offset):
            return False, None  # kept: a request at the accept's end comes before Enter
        del self._ahead[uri]
        outcome = await ahead[2]
        return (True, outcome) if outcome.failure is None else (False, None)

    def accepted(self, item_id: str) -> None:
        """The client ran an item's accept command."""
        item = self.ledger.accepted(item_id)
        if item is not None:
            self._prefetch(item.uri)  # the whole item: Enter comes next

    def partly_accepted(self, item_id: str, length: int) -> None:
        """Part of an item was accepted: a word (the rest of its line is in the result cache),
        or a line (the next one is prefetched)."""
        item = self.ledger.partly(item_id, length)
        if item is not None and item.line_done:
            self._prefetch(item.uri)

    def _prefetch(self, uri: str) -> None:
        """After a whole suggestion was taken, the next one where the user goes next (Enter),
        unless the block being written will answer there or it is being made already (the
        accept's command and its edit both say so): computed in the background, it waits in
        the result cache (and a block, if it starts one) for the real request."""
        doc = self.docs.get(uri)
        settings = self._settings()
        if doc is None or not settings.prefetch:
            return
        at = self._last_cursor.get(uri, 0)  # the accepted text was the last edit: the cursor is after it
        predicted = prefetch.after_enter(doc.text[:at], doc.text[at:], prefetch.indent_unit(doc.text))
        if predicted is None or self._prefetching(uri, predicted):
            return
        text, offset = predicted
        block = self.writing
        typed = block.on_path(doc.text) if block is not None and block.uri == uri else None
        if typed is not None and (not block.done or len(block.text) > len(typed)):
            return  # the block answers the next line, at whatever indentation the user's Enter gives it
        ahead = Document(uri, doc.language_id, doc.version, "", doc.encoding)  # parsed on the engine thread
        self.writing = None  # a block off the predicted path stops being written (else it and this would take turns)
        self._ahead[uri] = (text, offset, self.engines.background.spawn(self._run_prefetch(ahead, text, offset, settings)))

    def _prefetching(self, uri: str, predicted: tuple[str, int]) -> bool:
        """That prefetch is made or being made (not one that yielded or failed)."""
        ahead = self._ahead.get(uri)
        if ahead is None or ahead[:2] != predicted:
            return False
        task = ahead[2]
        if not task.done():
            return True
        return not task.cancelled() and task.exception() is None and task.result().failure is None

    async def _run_prefetch(self, ahead: Document, text: str, offset: int, settings: Settings) -> Outcome:
        """The prefetch's outcome (a request that arrives where it predicted waits for it)."""
        outcome = await self.engines.run_background(jobs.prefetch, self.session, ahead, text, offset, settings,
                                                    self.others(ahead.uri))
        result = outcome.value
        self.prefetches += outcome.failure is None
        if result is not None and result.block is not None:
            self.writing = result.block
            self.blocks["started"] += 1
            self._write_on()
        return outcome

    # -- the block written in the background ------------------------------------------------

    def _write_on(self) -> None:
        """Go on writing the newest block, after the request that made it (or that it yielded to)."""
        block = self.writing
        if block is None or block.done or self._writer is not None and not self._writer.done():
            return
        self._writer = self.engines.background.spawn(self._write(block))

    async def _write(self, block: Block) -> None:
        outcome = await self.engines.run_background(jobs.write_block, self.session, block, self._settings())
        self._writer = None
        if block is not self.writing:
            return
        if outcome.failure == "yielded":
            self._write_on()  # queued after the request it yielded to
            return
        self.writing = None  # whole, superseded, or failed
        self.blocks["whole"] += block.done

    def edited(self, uri: str, text: str, cursor: int) -> None:
        """An edit (on the loop), leaving the cursor at code-point `cursor`: one that leaves
        the block's path stops its writing; one that inserts a suggestion returned there is
        an accept (for clients that send no signal of their own)."""
        self._last_cursor[uri] = cursor
        item = self.ledger.edited(uri, text)
        if item is not None and item.line_done:  # taken to a line's end: Enter comes next
            self._prefetch(uri)
        block = self.writing
        if block is not None and block.uri == uri and block.on_path(text) is None:
            self.writing = None
            self.engines.yield_background()

    def closed(self, uri: str) -> None:
        self.ledger.closed(uri)
        self.history.closed(uri)
        self._ahead.pop(uri, None)
        self._last_cursor.pop(uri, None)
        block = self.writing
        if block is not None and block.uri == uri:
            self.writing = None
            self.engines.yield_background()

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
        return Others(buffers, self.workspace.edits_outside(uri), self.workspace.root_uris(),
                      self.history.recent(time.monotonic()))

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
