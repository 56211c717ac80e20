"""The engine session: everything the engine worker thread owns. The features' jobs that
run there on it are completion/jobs.py's and fixes/jobs.py's.

The engines (completions', and fixes' and next edits' when they have their own), the result cache, the
memoized context choices and the other buffers' definitions live here, touched only on
the engine thread (`Worker.run(session.job, ...)`). The event loop never reads them but
through a job, except the counters `stats` copies (plain ints). Loading a fixes' engine of
its own (or a next edits' one) happens on the loader thread, which hands it over with `adopt`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from . import faults
from .config import Settings
from .context.memo import ChoiceMemo
from .context.recent import Recent, RecentMemo
from .context.symbols import Definition, SymbolIndex, SymbolSources, extract_definitions
from .edits.history import Hunk
from .engine.base import Engine, EngineInfo, EngineStats
from .loading import load_engine, same_model
from .results import Block, ResultCache
from .structs import CancelToken, Snapshot

log = logging.getLogger("sokuji")


class Others(NamedTuple):
    """The rest of the workspace as a request in one file sees it, taken on the loop."""

    buffers: list[Snapshot]  # the other open buffers (text only where the session has not read that version)
    edits: int  # the user's changes outside the asking file so far
    roots: list[str]  # the workspace folders' URIs
    hunks: tuple[Hunk, ...] = ()  # the user's recent edits (edits/history.py)


class EngineSession:
    def __init__(self, index: SymbolIndex, override: str | None, log_line: Callable[[str], None]) -> None:
        self.index = index  # the workspace index: updated on the loop, read here
        self.override = override  # the command line's --model
        self.log = log_line  # a line for the client's log, from this thread
        self.engine: Engine | None = None
        self.fix_engine: Engine | None = None  # the completions one unless `fixes` names another
        self.fix_error: str | None = None  # the fixes' own engine's load failure
        self.next_edit_engine: Engine | None = None  # `nextEditModel`'s: the completions one when the same file
        self.next_edit_error: str | None = None  # the next edits' own engine's load failure
        self.generation = 0  # of the newest load; a fixes' engine of an older one is dropped
        self.unadopted: list[Engine] = []  # loaded on the loader thread, not handed over yet
        self.results = ResultCache()
        self.blocks: dict[str, Block] = {}  # uri -> the block written there last (completion/blocks.py)
        self.choices = ChoiceMemo()
        self.recent_blocks = RecentMemo()  # the recent edits' block last shown per file
        self._buffer_defs: dict[str, tuple[int, list[Definition]]] = {}  # uri -> (version, defs)
        self._buffers_generation = 0  # bumped when a buffer's definitions change

    # -- engines --------------------------------------------------------------------------

    def swap(self, settings: Settings, generation: int) -> EngineInfo:
        """Drop the old engines, load the completions one (and let fixes and next edits share
        it unless they have their own, which the loader thread loads next)."""
        self.generation = generation
        old = self.engines()
        self.engine = self.fix_engine = self.next_edit_engine = None
        self.fix_error = self.next_edit_error = None
        self.results.clear()  # suggestions of another model or settings are stale
        self.blocks.clear()
        self.choices.clear()  # token counts of another model
        self.recent_blocks.clear()
        for engine in old:
            engine.close()
        self.engine = load_engine(settings, self.override)
        if settings.fixes_share_engine():
            self.fix_engine = self.engine
        if settings.next_edit_model and same_model(settings, settings.next_edit_engine(), self.override):
            self.next_edit_engine = self.engine
        return self.engine.info

    def load_own(self, role: str, settings: Settings, cancel: CancelToken) -> Engine | None:
        """Loader thread: the own engine of `role` ("fixes", "nextEdit"), or None when its load
        was cancelled before it began, or when next edits share the completions engine (swap
        gave it them). Nothing else touches it until the engine thread adopts it."""
        faults.point(f"load.{role}", cancel)  # tests hold the load here
        own = settings.fixes_engine() if role == "fixes" else settings.next_edit_engine()
        if cancel.cancelled or (role == "nextEdit" and same_model(settings, own, self.override)):
            return None
        engine = load_engine(own, self.override)
        self.unadopted.append(engine)
        return engine

    def adopt(self, role: str, engine: Engine | None, error: str | None, generation: int) -> bool:
        """The engine of `role` from the loader becomes this thread's, unless a newer load
        began meanwhile (then it is closed here)."""
        if engine is not None:
            self.unadopted.remove(engine)
        if generation != self.generation:
            if engine is not None:
                engine.close()
            return False
        if role == "fixes":
            self.fix_engine, self.fix_error = engine, error
        else:
            self.next_edit_engine, self.next_edit_error = engine, error
        return True

    def engines(self) -> list[Engine]:
        """The loaded engines, each once."""
        found = (self.engine, self.fix_engine, self.next_edit_engine)
        return list({id(e): e for e in found if e is not None}.values())

    def after_death(self) -> None:
        """On the dying engine thread (no other thread touches the engines now): an engine may
        hold a half-done evaluation, so empty it; suggestions made before may be of it."""
        for engine in self.engines():
            engine.reset()
        self.results.clear()
        self.blocks.clear()

    def forget(self, uri: str) -> None:
        """Drop a file's KV states (closed, or changed on disk) and its block."""
        self.blocks.pop(uri, None)
        if self.engine is not None:
            self.engine.forget(uri)
        if self.fix_engine is not None:
            self.fix_engine.forget(f"fix:{uri}")  # the state its fixes used
        if self.next_edit_engine is not None:
            self.next_edit_engine.forget(f"nes:{uri}")  # its next edits' (nextedit/model.py)

    def persist(self) -> None:
        for engine in self.engines():
            engine.persist()

    def close(self) -> None:
        """Main thread, once the engine and loader threads stopped: free every engine."""
        for engine in self.engines() + self.unadopted:
            engine.close()
        self.engine = self.fix_engine = self.next_edit_engine = None
        self.unadopted.clear()

    def stats(self) -> tuple[EngineStats, EngineStats]:
        """The completions' and the fixes' engines' counters (zeros for one not loaded)."""
        engine, fix_engine = self.engine, self.fix_engine
        return (engine.stats() if engine is not None else EngineStats(),
                fix_engine.stats() if fix_engine is not None else EngineStats())

    def recent(self, others: Others) -> Recent:
        return Recent(others.hunks, self.recent_blocks)

    # -- other buffers' definitions ---------------------------------------------------------

    def known_version(self, uri: str) -> int | None:
        """The version of `uri` whose definitions are read (a plain dict read: the loop asks
        it to leave out texts this thread has seen, and a stale answer only costs a re-read)."""
        known = self._buffer_defs.get(uri)
        return None if known is None else known[0]

    def symbols(self, others: Others, current: str) -> SymbolSources:
        """Definitions of the other open buffers (re-read when their version changed, unless
        a pause in their edits let this thread read them already) over the workspace index.
        `current`, the asking file, keeps its entry for later requests."""
        open_uris = {s.uri for s in others.buffers} | {current}
        for uri in [u for u in self._buffer_defs if u not in open_uris]:
            del self._buffer_defs[uri]
            self._buffers_generation += 1
        for snap in others.buffers:
            self.read_definitions(snap)
        buffers = {uri: defs for uri, (_, defs) in self._buffer_defs.items()}
        return SymbolSources(self.index, buffers, others.roots, self._buffers_generation, others.edits)

    def read_definitions(self, snap: Snapshot) -> None:
        """A buffer's definitions. The generation changes only when what a prompt shows of
        them does: typing in a function's body, or lines moving them down, leaves memoized
        choices valid (and a line start's window where it was, see ChoiceMemo)."""
        known = self._buffer_defs.get(snap.uri)
        if known is not None and known[0] == snap.version:
            return
        defs = extract_definitions(snap.language, snap.tree, snap.source, snap.uri)
        if known is None or _shown(known[1]) != _shown(defs):
            self._buffers_generation += 1
        self._buffer_defs[snap.uri] = (snap.version, defs)


def _shown(defs: list[Definition]) -> list[tuple]:
    """What a prompt shows of definitions: not the lines they are on."""
    return [(d.name, d.kind, d.path, d.signature, d.snippet, d.container) for d in defs]
