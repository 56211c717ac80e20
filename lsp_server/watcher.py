"""Files changed on disk outside the editor, from a watchdog observer thread, handed to the
event loop (the only place state changes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from . import faults
from .context.workspace import SKIPPED_DIRS

log = logging.getLogger("sokuji.watcher")


class _Handler(FileSystemEventHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[str], None]) -> None:
        self._loop = loop
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        faults.point("watcher")
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type not in ("created", "deleted", "moved"):
            return  # a folder's own metadata; the files inside report themselves
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = Path(raw if isinstance(raw, str) else raw.decode(errors="replace"))
            if SKIPPED_DIRS.isdisjoint(path.parts):
                self._loop.call_soon_threadsafe(self._on_change, path.as_uri())


class _Observer(Observer):
    """watchdog's observer, keeping what stopped its thread (it would only be printed)."""

    failure: BaseException | None = None

    def run(self) -> None:
        try:
            super().run()
        except BaseException as exc:
            self.failure = exc


class Watcher:
    """Watches workspace folders recursively; `on_change(uri)` runs on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[str], None]) -> None:
        self._observer = _Observer()
        self._observer.daemon = True
        self._handler = _Handler(loop, on_change)
        self._started = False
        self._stopped = False

    def watch(self, folders: list[Path]) -> None:
        for folder in folders:
            if folder.is_dir():
                try:
                    self._observer.schedule(self._handler, str(folder), recursive=True)
                except OSError as exc:  # e.g. out of inotify watches: degrade, keep serving
                    log.warning("cannot watch %s: %s", folder, exc)
        if not self._started:
            self._observer.start()
            self._started = True

    def failure(self) -> str | None:
        """Why the watcher no longer reports changes (its thread or a folder's died), or None."""
        if not self._started or self._stopped or self._observer.is_alive() and all(e.is_alive() for e in self._observer.emitters):
            return None
        return repr(self._observer.failure) if self._observer.failure else "its thread stopped"

    def stop(self) -> None:
        self._stopped = True
        if self._started:
            self._observer.stop()
