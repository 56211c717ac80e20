"""The workspace service, on the event loop: the folders and their .gitignore rules, the
definitions index (built in the background, kept fresh by the file watcher, whose thread
is supervised), and the count of the user's edits per file, which tells the context
builder when choices pinned while typing may change."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from .context.symbols import Definition, SymbolIndex
from .context.workspace import Ignore, read_definitions, workspace_files
from .documents import Documents
from .client import Notices
from .pause import Background
from .watcher import Watcher

log = logging.getLogger("sokuji")
INDEX_BATCH = 64  # files read per executor call while indexing; the loop applies each batch
WATCHER_CHECK = 2.0  # seconds between checks that the file watcher's threads still run
Found = list[tuple[str, "list[Definition] | None"]]  # (uri, its definitions; None: gone)


def path_of(uri: str) -> Path | None:
    """The local path of a file: URI, else None."""
    parts = urlsplit(uri)
    return Path(url2pathname(parts.path)) if parts.scheme == "file" and parts.path else None


class WorkspaceService:
    def __init__(self, docs: Documents, notices: Notices, forget: Callable[[str], None]) -> None:
        self.docs = docs
        self.notices = notices
        self._forget = forget  # drop a file's KV states: it changed outside the editor
        self.index = SymbolIndex()  # workspace definitions, updated here on the loop
        self.index_ready = asyncio.Event()
        self.roots: dict[Path, Ignore] = {}  # workspace folders and their .gitignore rules
        self.watcher: Watcher | None = None
        self._touched: dict[str, float] = {}  # uri -> when the watcher last re-read it
        self._edits = 0  # the user's changes to files (buffers, disk), and per file
        self._edits_in: dict[str, int] = {}
        self._background = Background()

    async def start(self, folders: list[Path]) -> None:
        """Watch and index the workspace folders (none: nothing to index)."""
        if not folders:
            self.index_ready.set()
            return
        self.roots = {folder.resolve(): Ignore(folder.resolve()) for folder in folders}
        await self._start_watcher()
        self._background.spawn(self.build_index(list(self.roots)))
        self._background.spawn(self._supervise_watcher())

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def root_uris(self) -> list[str]:
        return [root.as_uri() for root in self.roots]

    def edited(self, uri: str) -> None:
        """The user changed `uri`, in its buffer or on disk (once the index shows it). Other
        files' context choices, pinned while a line is typed, are made again."""
        self._edits += 1
        self._edits_in[uri] = self._edits_in.get(uri, 0) + 1

    def edits_outside(self, uri: str) -> int:
        return self._edits - self._edits_in.get(uri, 0)

    # -- the index ------------------------------------------------------------------------

    async def build_index(self, folders: list[Path]) -> None:
        """Index the folders in the background: files are read and parsed in an executor,
        each batch's definitions applied here on the loop."""
        client = self.notices.client
        token = await client.begin_progress("sokuji: indexing workspace")
        started = time.monotonic()
        try:
            for folder in folders:
                await self._index_folder(folder, token)
        except Exception:
            log.exception("workspace index failed; completions go on without it")
        finally:
            self.index_ready.set()
        client.end_progress(token, f"{self.index.file_count} files, {self.index.definition_count} definitions "
                            f"in {time.monotonic() - started:.1f} s")

    async def _index_folder(self, folder: Path, token: str | None) -> None:
        loop = asyncio.get_running_loop()
        ignore = self.roots.setdefault(folder, Ignore(folder))
        walk_started = time.monotonic()
        files = await loop.run_in_executor(None, lambda: list(workspace_files(folder, ignore)))
        self._forget_unlisted(folder, {path.as_uri() for path in files}, walk_started)
        for i in range(0, len(files), INDEX_BATCH):
            batch_started = time.monotonic()
            batch = await loop.run_in_executor(None, _read_batch, files[i : i + INDEX_BATCH])
            for uri, defs in batch:
                if self._touched.get(uri, 0.0) <= batch_started:  # else the watcher has newer contents
                    self._apply(uri, defs)
            done = min(len(files), i + INDEX_BATCH)
            self.notices.client.report_progress(token, f"{done}/{len(files)} files in {folder.name}",
                                                done * 100 // max(1, len(files)))

    def _forget_unlisted(self, folder: Path, listed: set[str], since: float) -> None:
        """Files the index holds under `folder` that a new walk no longer finds (deleted
        while no watcher looked, after it died) are dropped, unless the watcher has
        reported them since the walk began."""
        under = folder.as_uri().rstrip("/") + "/"
        for uri in self.index.paths():
            if uri.startswith(under) and uri not in listed and self._touched.get(uri, 0.0) < since:
                self.index.remove(uri)

    def _apply(self, uri: str, defs: list[Definition] | None) -> None:
        if defs is None:
            self.index.remove(uri)
        else:
            self.index.update(uri, defs)

    # -- the watcher ----------------------------------------------------------------------

    async def _start_watcher(self) -> None:
        self.watcher = Watcher(asyncio.get_running_loop(), self.on_disk_change)
        await asyncio.get_running_loop().run_in_executor(None, self.watcher.watch, list(self.roots))

    async def _supervise_watcher(self) -> None:
        """A watcher whose thread died reports nothing more: restart it, and re-index the
        workspace, whose changes meanwhile were missed."""
        while self.watcher is not None:
            await asyncio.sleep(WATCHER_CHECK)
            if self.watcher is None or (failure := self.watcher.failure()) is None:
                continue
            log.warning("the workspace file watcher stopped: %s; restarting it", failure)
            self.notices.report("watcher", f"sokuji: the workspace file watcher stopped ({failure}); restarted it "
                                "and re-indexed the workspace.", "warning")
            try:
                await self._start_watcher()
            except Exception:
                log.exception("cannot restart the workspace file watcher")
                continue
            await self.build_index(list(self.roots))

    def on_disk_change(self, uri: str) -> None:
        """A watched file changed on disk: re-index it, and drop its KV states, unless it is
        an open buffer the editor just saved (its states stay while the disk text equals it)."""
        self._background.spawn(self.reindex(uri))
        doc = self.docs.get(uri)
        if doc is None:
            self._forget(uri)
        else:
            self._background.spawn(self._forget_if_differs(uri, doc.text))

    async def _forget_if_differs(self, uri: str, text: str) -> None:
        path = path_of(uri)
        try:
            # a symlink may point out of the workspace: not read (as the index does not)
            on_disk = await asyncio.get_running_loop().run_in_executor(None, _read_unless_link, path)
        except OSError:
            on_disk = None  # deleted or unreadable: not what the editor holds
        if on_disk != text:
            self._forget(uri)

    async def reindex(self, uri: str) -> None:
        """A file or folder changed on disk: re-read it (off the loop), update the index here."""
        path = path_of(uri)
        ignore = self._ignore_for(path) if path is not None else None
        if ignore is None:
            return
        if path.name == ".gitignore":
            ignore.load(path.parent)
            return
        self._touched[uri] = time.monotonic()
        try:
            gone, batch = await asyncio.get_running_loop().run_in_executor(None, _scan_path, path, ignore)
        except Exception:
            log.exception("cannot re-index %s", path)
            return
        if gone:
            self.index.remove_under(uri)
        for file_uri, defs in batch:
            self._touched[file_uri] = time.monotonic()
            self._apply(file_uri, defs)
            self.edited(file_uri)

    def _ignore_for(self, path: Path) -> Ignore | None:
        """The rules of the workspace folder holding `path`, None outside every folder."""
        for root, ignore in self.roots.items():
            if path == root or root in path.parents:
                return ignore
        return None


def _read_unless_link(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8", errors="replace") if path and not path.is_symlink() else None


def _read_batch(files: list[Path]) -> Found:
    return [(path.as_uri(), read_definitions(path, path.as_uri())) for path in files]


def _scan_path(path: Path, ignore: Ignore) -> tuple[bool, Found]:
    """(gone, definitions per file) for a changed path: a file, a folder moved in, or gone."""
    if not path.exists():
        return True, [(path.as_uri(), None)]
    if ignore.ignored(path, is_dir=path.is_dir()) or path.is_symlink():
        return False, []
    if path.is_dir():
        return False, _read_batch(list(workspace_files(path, ignore)))
    return False, [(path.as_uri(), read_definitions(path, path.as_uri()))]
