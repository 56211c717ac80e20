"""The only module that speaks LSP (pygls / lsprotocol). Handlers stay thin: they mutate
documents on the event loop and hand snapshots to the engine worker."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections import deque
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from . import __version__, completion
from .config import Settings, decode_settings
from .context.symbols import Definition, SymbolIndex, SymbolSources
from .context.workspace import Ignore, read_definitions, workspace_files
from .documents import Documents, Snapshot
from .engine.devices import gpu_warning
from .engine.model import Model, ModelError
from .engine.worker import LatestWins, Worker
from .results import ResultCache
from .structs import CancelledError
from .watcher import Watcher

log = logging.getLogger("sokuji")
SECTION = "sokuji"
INDEX_BATCH = 64  # files read per executor call while indexing; the loop applies each batch


class SokujiServer(LanguageServer):
    def __init__(self, model_override: str | None = None) -> None:
        super().__init__("sokuji", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.model_override = model_override
        self.docs = Documents()
        self.worker = Worker()
        self.latest = LatestWins()
        self.settings = Settings()
        self.model: Model | None = None  # assigned only on the worker thread
        self.model_error: str | None = None
        self.model_ready = asyncio.Event()
        self._load_task: asyncio.Task[None] | None = None
        self._progress_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.results = ResultCache()  # touched only on the worker thread
        self.watcher: Watcher | None = None
        self.index = SymbolIndex()  # workspace definitions, updated on the loop
        self.index_ready = asyncio.Event()
        self.roots: dict[Path, Ignore] = {}  # workspace folders and their .gitignore rules
        self._touched: dict[str, float] = {}  # uri -> when the watcher last re-read it
        self._buffer_defs: dict[str, tuple[int, list[Definition]]] = {}  # worker only: uri -> (version, defs)
        self.served = 0
        self.latencies: deque[float] = deque(maxlen=2000)  # seconds, most recent requests

    # -- settings and the model -------------------------------------------------------------

    def apply_settings(self, raw: Any) -> bool:
        """Decode and apply; report bad keys. True when the model must be reloaded."""
        settings, errors = decode_settings(raw)
        for message in errors:
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))
        old, self.settings = self.settings, settings
        model_keys = ("model", "gpu_layers", "context_size", "kv_cache", "kv_cache_mb", "kv_cache_persist")
        return any(getattr(old, k) != getattr(settings, k) for k in model_keys)

    def start_loading(self) -> None:
        # An earlier load still running is not cancelled: the worker runs loads in order,
        # so requests queued after this one always see the newest model.
        self._loop = asyncio.get_running_loop()
        self.model_ready.clear()
        self._load_task = asyncio.ensure_future(self._load(self.settings))

    async def _load(self, settings: Settings) -> None:
        token = await self._begin_progress("sokuji: loading model")
        try:
            self.model_error = None
            info = await self.worker.run(self._swap_model, settings)
            message = f"{info.name} ({info.architecture}, FIM: {info.fim or 'none, prefix-only'})"
            if warning := gpu_warning(settings.gpu_layers, info.gpu_offload):
                self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=warning))
        except Exception as exc:  # ModelError, or anything llama.cpp raises: report, keep serving
            if not isinstance(exc, (ModelError, OSError, ValueError)):
                log.exception("model load failed")
            self.model_error = str(exc)
            message = "failed"
            self.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Error,
                    message=f"sokuji: cannot load the model: {exc}. Completions are off until the "
                    "`sokuji.model` setting points at a readable GGUF file.",
                )
            )
        finally:
            self.model_ready.set()
        self._end_progress(token, message)

    def _swap_model(self, settings: Settings):
        """Worker thread: drop the old model, load the new one."""
        old, self.model = self.model, None
        self.results.clear()  # suggestions of another model or settings are stale
        if old is not None:
            old.close()
        self.model = completion.load_model(settings, self.model_override)
        return self.model.info

    async def _begin_progress(self, title: str) -> str | None:
        caps = self.client_capabilities.window
        if not (caps and caps.work_done_progress):
            return None
        self._progress_id += 1
        token = f"sokuji-{self._progress_id}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception:  # the client refused; loading goes on without a progress bar
            return None
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=False))
        return token

    def _report_progress(self, token: str | None, message: str, percentage: int) -> None:
        if token is not None:
            self.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def _end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        return self.protocol.client_capabilities

    # -- completions -------------------------------------------------------------------------

    async def suggest(self, uri: str, position: types.Position) -> tuple[str, types.Position] | None:
        """The model's suggestion at `position`, or None. Never raises for a bad request."""
        doc = self.docs.get(uri)
        if doc is None:
            return None
        snap = doc.snapshot()
        cursor = doc.cursor(position.line, position.character)
        line, character = doc.position(cursor.offset)
        others = self._other_buffers(uri)
        token = self.latest.begin(uri)
        started = time.monotonic()
        try:
            await self.model_ready.wait()
            result = await self.worker.run(self._complete_job, snap, cursor, self.settings, token, others)
        except asyncio.CancelledError:
            token.cancel()  # $/cancelRequest or shutdown: stop decoding, not just the reply
            raise
        except CancelledError:
            return None
        except Exception:
            log.exception("completion failed for %s", uri)
            return None
        finally:
            self.latest.end(uri, token)
        self.served += 1
        self.latencies.append(time.monotonic() - started)
        if result is None or not result.text:
            return None
        return result.text, types.Position(line=line, character=character)

    def _complete_job(self, snap, cursor, settings, token, others):
        model = self.model  # read on the worker thread, where swaps happen
        if model is None:
            return None
        where = f"{snap.uri}:{cursor.line + 1}:{cursor.index + 1}"
        try:
            symbols = self._symbols(others)
            result = completion.complete(model, snap, cursor, settings, token, self.results, symbols)
        except CancelledError:
            self._log_from_worker(f"completion {where}: cancelled before decoding")
            raise
        gen = result.generation
        self._log_from_worker(
            f"completion {where}: {'multi' if result.multiline else 'single'}-line, stop={gen.stop_reason}, "
            f"prompt={gen.prompt_tokens} evaluated={gen.evaluated_tokens} generated={gen.generated_tokens}, "
            f"{gen.seconds * 1000:.0f} ms"
        )
        return result

    # -- context: open buffers and the workspace index ------------------------------------

    def _other_buffers(self, uri: str) -> list[Snapshot]:
        """Snapshots of the other open buffers whose definitions the worker has not seen yet."""
        out = []
        for doc in self.docs.all():
            if doc.uri == uri:
                continue
            known = self._buffer_defs.get(doc.uri)
            out.append(doc.snapshot() if known is None or known[0] != doc.version else Snapshot(doc.uri, doc.version, "", "", None, None))
        return out

    def _symbols(self, others: list[Snapshot]) -> SymbolSources:
        """Worker thread: definitions of the other open buffers (re-read when their version
        changed) over the workspace index."""
        open_uris = {s.uri for s in others}
        for uri in [u for u in self._buffer_defs if u not in open_uris]:
            del self._buffer_defs[uri]
        for snap in others:
            known = self._buffer_defs.get(snap.uri)
            if known is None or known[0] != snap.version:
                self._buffer_defs[snap.uri] = (snap.version, completion.own_definitions(snap))
        buffers = {uri: defs for uri, (_, defs) in self._buffer_defs.items()}
        return SymbolSources(self.index, buffers, [root.as_uri() for root in self.roots])

    async def build_index(self, folders: list[Path]) -> None:
        """Index the workspace folders in the background: files are read and parsed in an
        executor, each batch's definitions applied here on the loop."""
        loop = asyncio.get_running_loop()
        token = await self._begin_progress("sokuji: indexing workspace")
        started = time.monotonic()
        try:
            for folder in folders:
                ignore = self.roots.setdefault(folder, Ignore(folder))
                files = await loop.run_in_executor(None, lambda: list(workspace_files(folder, ignore)))
                for i in range(0, len(files), INDEX_BATCH):
                    batch_started = time.monotonic()
                    batch = await loop.run_in_executor(None, _read_batch, files[i : i + INDEX_BATCH])
                    for uri, defs in batch:
                        if self._touched.get(uri, 0.0) > batch_started:
                            continue  # the watcher has newer contents
                        self._apply(uri, defs)
                    done = min(len(files), i + INDEX_BATCH)
                    self._report_progress(token, f"{done}/{len(files)} files in {folder.name}", done * 100 // max(1, len(files)))
        except Exception:
            log.exception("workspace index failed; completions go on without it")
        finally:
            self.index_ready.set()
        self._end_progress(
            token,
            f"{self.index.file_count} files, {self.index.definition_count} definitions in {time.monotonic() - started:.1f} s",
        )

    def _apply(self, uri: str, defs: list[Definition] | None) -> None:
        if defs is None:
            self.index.remove(uri)
        else:
            self.index.update(uri, defs)

    def _root_of(self, path: Path) -> tuple[Path, Ignore] | None:
        for root, ignore in self.roots.items():
            if path == root or root in path.parents:
                return root, ignore
        return None

    async def reindex(self, uri: str) -> None:
        """A file or folder changed on disk: re-read it (off the loop), update the index here."""
        fs_path = to_fs_path(uri)
        if not fs_path:
            return
        path = Path(fs_path)
        found = self._root_of(path)
        if found is None:
            return
        _, ignore = found
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

    # -- per-file state ----------------------------------------------------------------------

    def forget(self, uri: str) -> None:
        """Drop a file's KV state (closed, or changed on disk); runs on the worker in order."""
        asyncio.ensure_future(self.worker.run(self._forget_job, uri))

    def on_disk_change(self, uri: str) -> None:
        """A watched file changed on disk. The editor saving an open buffer is not a change
        from outside: its state stays while the disk text equals the buffer."""
        asyncio.ensure_future(self.reindex(uri))
        doc = self.docs.get(uri)
        if doc is None:
            self.forget(uri)
            return
        text = doc.text
        asyncio.ensure_future(self._forget_if_differs(uri, text))

    async def _forget_if_differs(self, uri: str, text: str) -> None:
        path = to_fs_path(uri)
        try:
            on_disk = await asyncio.get_running_loop().run_in_executor(
                None, lambda: Path(path).read_text(encoding="utf-8", errors="replace") if path else None
            )
        except OSError:
            on_disk = None  # deleted or unreadable: not what the editor holds
        if on_disk != text:
            self.forget(uri)

    def _forget_job(self, uri: str) -> None:
        if self.model is not None:
            self.model.forget(uri)

    def _persist_job(self) -> None:
        if self.model is not None:
            self.model.persist()

    def stats(self) -> dict[str, Any]:
        model = self.model
        kv = model.states if model is not None else None
        lat = sorted(self.latencies)
        pct = statistics.quantiles(lat, n=20, method="inclusive") if len(lat) >= 2 else lat * 19
        return {
            "requestsServed": self.served,
            "promptTokensEvaluated": model.evaluated_tokens if model else 0,
            "promptTokensReused": model.reused_tokens if model else 0,
            "kvCache": self.settings.kv_cache,
            "kvHits": kv.stats.hits if kv else 0,
            "kvMisses": kv.stats.misses if kv else 0,
            "kvEvictions": kv.stats.evictions if kv else 0,
            "kvDiskHits": kv.stats.disk_hits if kv else 0,
            "kvFiles": len(kv) if kv else 0,
            "kvBytesHeld": kv.bytes_held if kv else 0,
            "kvBudgetBytes": kv.budget_bytes if kv else 0,
            "resultCacheHits": self.results.hits,
            "resultCacheMisses": self.results.misses,
            "indexFiles": self.index.file_count,
            "indexDefinitions": self.index.definition_count,
            "latencyP50Ms": round(pct[9] * 1000, 1) if pct else None,
            "latencyP95Ms": round(pct[18] * 1000, 1) if pct else None,
        }

    def _context_job(self, snap, cursor, settings, others) -> dict:
        model = self.model
        if model is None:
            raise JsonRpcInternalError(f"sokuji: no model loaded ({self.model_error})")
        prompt = completion.make_prompt(model, snap, cursor, settings, self._symbols(others))
        return {
            "parts": completion.context_parts(model, prompt),
            "prompt": model.render(prompt),
            "promptTokens": len(model.prompt_tokens(prompt)),
        }

    def _log_from_worker(self, message: str) -> None:
        """window/logMessage from the worker thread: the loop does the writing."""
        if self._loop is not None:
            params = types.LogMessageParams(type=types.MessageType.Log, message=f"sokuji: {message}")
            self._loop.call_soon_threadsafe(self.window_log_message, params)


def _read_batch(files: list[Path]) -> list[tuple[str, list[Definition] | None]]:
    return [(path.as_uri(), read_definitions(path, path.as_uri())) for path in files]


def _scan_path(path: Path, ignore: Ignore) -> tuple[bool, list[tuple[str, list[Definition] | None]]]:
    """(gone, definitions per file) for a changed path: a file, a folder moved in, or gone."""
    if not path.exists():
        return True, [(path.as_uri(), None)]
    if ignore.ignored(path, is_dir=path.is_dir()) or path.is_symlink():
        return False, []
    if path.is_dir():
        return False, _read_batch(list(workspace_files(path, ignore)))
    return False, [(path.as_uri(), read_definitions(path, path.as_uri()))]


def _client_has_inline(caps: types.ClientCapabilities) -> bool:
    return bool(caps.text_document and caps.text_document.inline_completion is not None)


def _settings_section(raw: Any) -> Any:
    """Accept {"sokuji": {...}} (VS Code, eglot) and the bare section."""
    if isinstance(raw, dict) and SECTION in raw:
        return raw[SECTION]
    return raw


def create_server(model_override: str | None = None) -> SokujiServer:
    server = SokujiServer(model_override)

    @server.feature(types.INITIALIZE)
    def initialize(ls: SokujiServer, params: types.InitializeParams) -> None:
        ls.docs.encoding = str(ls.workspace.position_encoding or "utf-16")
        ls.apply_settings(_settings_section(params.initialization_options))
        # Offer exactly one completion style, chosen from what the client can show.
        if _client_has_inline(params.capabilities):
            ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
        else:
            ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())(completion_request)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: SokujiServer, params: types.InitializedParams) -> None:
        ls.start_loading()
        folders = [Path(p) for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri))]
        if not folders and ls.workspace.root_path:
            folders = [Path(ls.workspace.root_path)]
        if folders:
            ls.roots = {folder.resolve(): Ignore(folder.resolve()) for folder in folders}
            ls.watcher = Watcher(asyncio.get_running_loop(), ls.on_disk_change)
            await asyncio.get_running_loop().run_in_executor(None, ls.watcher.watch, list(ls.roots))
            asyncio.ensure_future(ls.build_index(list(ls.roots)))
        else:
            ls.index_ready.set()

    @server.command("sokuji.stats")
    def stats_command(ls: SokujiServer, *args) -> dict:
        return ls.stats()

    @server.command("sokuji.context")
    async def context_command(ls: SokujiServer, *args) -> dict:
        """The prompt a completion at (uri, line, character) would use, part by part."""
        try:
            uri, line, character = args[0], int(args[1]), int(args[2])
        except (IndexError, TypeError, ValueError):
            raise JsonRpcInvalidParams("sokuji.context takes [uri, line, character]") from None
        doc = ls.docs.get(uri)
        if doc is None:
            raise JsonRpcInvalidParams(f"sokuji.context: {uri} is not open")
        snap, cursor, others = doc.snapshot(), doc.cursor(line, character), ls._other_buffers(uri)
        await ls.model_ready.wait()
        return await ls.worker.run(ls._context_job, snap, cursor, ls.settings, others)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: SokujiServer, params: types.DidChangeConfigurationParams) -> None:
        raw = _settings_section(params.settings)
        if raw in (None, {}) and ls.client_capabilities.workspace and ls.client_capabilities.workspace.configuration:
            items = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
            raw = items[0] if items else None
        if ls.apply_settings(raw) or ls.model_error:  # a failed load is retried on any change
            ls.start_loading()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SokujiServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.docs.open(item.uri, item.language_id, item.version, item.text)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SokujiServer, params: types.DidChangeTextDocumentParams) -> None:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                r = change.range
                doc.apply_change(change.text, (r.start.line, r.start.character), (r.end.line, r.end.character))
            else:
                doc.apply_change(change.text)
        doc.version = params.text_document.version

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SokujiServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.docs.close(params.text_document.uri)
        ls.forget(params.text_document.uri)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: SokujiServer, *args) -> None:
        if ls.watcher is not None:
            ls.watcher.stop()
        ls.latest.cancel_all()  # in-flight decoding stops now, not at its time budget
        try:  # keep the warm states for the next start (kvCachePersist)
            await asyncio.wait_for(ls.worker.run(ls._persist_job), 30)
        except Exception:
            log.exception("could not persist KV states")
        ls.worker.shutdown()

    async def inline_completion(ls: SokujiServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        found = await ls.suggest(params.text_document.uri, params.position)
        if found is None:
            return types.InlineCompletionList(items=[])
        text, pos = found
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=text, range=types.Range(start=pos, end=pos))]
        )

    async def completion_request(ls: SokujiServer, params: types.CompletionParams) -> types.CompletionList:
        found = await ls.suggest(params.text_document.uri, params.position)
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        text, pos = found
        label = text.strip().split("\n", 1)[0][:80]
        item = types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Text,
            detail="sokuji",
            documentation=types.MarkupContent(kind=types.MarkupKind.PlainText, value=text),
            text_edit=types.TextEdit(range=types.Range(start=pos, end=pos), new_text=text),
            insert_text_format=types.InsertTextFormat.PlainText,
            sort_text="0",
            preselect=True,
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    return server
