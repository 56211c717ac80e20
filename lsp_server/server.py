"""The only module that speaks LSP (pygls / lsprotocol). Handlers stay thin: they mutate
documents on the event loop and hand snapshots to the engine worker."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from . import __version__, alternatives, completion, diagnostics, faults, fixes
from .config import Settings, decode_settings
from .context.prompt import ChoiceMemo
from .context.symbols import Definition, SymbolIndex, SymbolSources
from .context.workspace import Ignore, read_definitions, workspace_files
from .documents import LARGE_FILE_BYTES, Documents, Snapshot
from .engine.devices import gpu_warning
from .engine.model import Model, ModelError
from .engine.remote import EngineUnavailable, RemoteEngine
from .engine.worker import LatestWins, Worker, WorkerDied
from .results import ResultCache
from .structs import CancelledError, GenParams
from .watcher import Watcher

log = logging.getLogger("sokuji")
SECTION = "sokuji"
INDEX_BATCH = 64  # files read per executor call while indexing; the loop applies each batch
EDITS_PAUSE = 0.25  # seconds of quiet after an edit: syntax errors are published, definitions read
WATCHER_CHECK = 2.0  # seconds between checks that the file watcher's threads still run
ALTERNATIVES = 2  # more suggestions for an explicit ask (inlineCompletion, triggerKind Invoked)
ENGINE_STOP = 30.0  # seconds the engine thread gets to stop at exit (a model load cannot be cut short)
FIXES_LOAD = "load:fixes"  # LatestWins key of the fixes' own engine's load: a newer load or the exit cancels it
# llama-cpp-python's load swaps the process-wide sys.stderr (engine/model.py catches its chatter):
# two at once, on the engine and the loader threads, could leave it swapped. One local load at a time.
_LOADING = threading.Lock()


class Others(NamedTuple):
    """The rest of the workspace as a request in one file sees it, taken on the loop."""

    buffers: list[Snapshot]  # the other open buffers
    edits: int  # the user's changes outside the asking file so far


class _Dropped:
    """What a message that could not be read becomes: pygls ignores it (wrong jsonrpc)."""

    jsonrpc = ""


class SokujiProtocol(LanguageServerProtocol):
    def structure_message(self, data):
        """A request whose params do not fit its method (`"position": "here"`) gets an error
        response; pygls would log it and leave the request unanswered."""
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                error = types.ResponseError(code=exc.code, message=f"invalid params for {data['method']}")
                self._send_response(data["id"], error=error)
            return _Dropped()

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        """pygls files the future of every async or generator handler under its message id,
        and only a request's response takes it out again: each notification (every
        keystroke's didChange) left one behind for the server's lifetime."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None and getattr(callback, "func", None) != self._send_handler_result:
            future.add_done_callback(lambda _: self._request_futures.pop(msg_id, None))

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        """Only sokuji's own documents (Documents) follow the edits, not pygls' copy, which sokuji
        never reads: pygls clamped the change's positions in place to its own lines (split at
        \x0c, \x85, \u2028 too), so our handler got other ranges than the client sent, and it
        raised KeyError ("Error in server" in the editor) for a document that is not open."""
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None


class _ToClient(logging.Handler):
    """sokuji's own log records (INFO and up), from any thread, as window/logMessage."""

    def __init__(self, server: SokujiServer) -> None:
        super().__init__(logging.INFO)
        self._server = server

    def emit(self, record: logging.LogRecord) -> None:
        loop = self._server._loop
        stop = getattr(self._server, "_stop_event", None)
        if loop is None or loop.is_closed() or (stop is not None and stop.is_set()):
            return
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({record.exc_info[1]!r})"
        kind = (types.MessageType.Error if record.levelno >= logging.ERROR
                else types.MessageType.Warning if record.levelno >= logging.WARNING else types.MessageType.Info)
        try:
            loop.call_soon_threadsafe(self._server.window_log_message, types.LogMessageParams(type=kind, message=f"sokuji: {text}"))
        except RuntimeError:  # the loop closed meanwhile
            pass


class SokujiServer(LanguageServer):
    def __init__(self, model_override: str | None = None) -> None:
        super().__init__("sokuji", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=SokujiProtocol)
        self.model_override = model_override
        self.docs = Documents()
        self.worker = Worker(on_death=self._engine_thread_died)
        self.latest = LatestWins()
        self.settings = Settings()
        self.model: Model | RemoteEngine | None = None  # assigned only on the worker thread
        self.model_error: str | None = None
        # the fixes' engine (setting `fixes`): the completions one unless told otherwise
        self.fix_model: Model | RemoteEngine | None = None  # worker thread, like `model`
        self.fix_model_error: str | None = None  # its own load failure, when it is its own
        self.model_ready = asyncio.Event()  # completions' engine loaded (or failed to)
        self.fix_ready = asyncio.Event()  # fixes' engine loaded (or failed to); with model_ready when shared
        # A fixes' engine of its own is loaded here, after the completions one, which serves
        # meanwhile; it is then handed to the engine thread, which alone uses it (_adopt_fix_model).
        self.loader = Worker()
        self._unadopted: list[Model | RemoteEngine] = []  # loaded, not handed over yet (closed at exit)
        self._generation = 0  # loop: one per start_loading; a fixes' engine of an older one is dropped
        self._load_task: asyncio.Task[None] | None = None
        self._progress_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.results = ResultCache()  # touched only on the worker thread
        self.choices = ChoiceMemo()  # worker thread only
        self.watcher: Watcher | None = None
        self.index = SymbolIndex()  # workspace definitions, updated on the loop
        self.index_ready = asyncio.Event()
        self.roots: dict[Path, Ignore] = {}  # workspace folders and their .gitignore rules
        self._touched: dict[str, float] = {}  # uri -> when the watcher last re-read it
        self._buffer_defs: dict[str, tuple[int, list[Definition]]] = {}  # worker only: uri -> (version, defs)
        self._diagnostic_timers: dict[str, asyncio.TimerHandle] = {}
        self._definition_timers: dict[str, asyncio.TimerHandle] = {}
        self._buffers_generation = 0  # worker only: bumped when a buffer's definitions change
        self._edits = 0  # loop only: the user's changes to files (buffers, disk), and per file
        self._edits_in: dict[str, int] = {}
        self._background: set[asyncio.Future] = set()  # jobs nobody awaits, kept from the collector
        self.fixes_offered = 0
        self._reported: set[str] = set()  # problems shown to the user, until they go away
        self.fixes_refused = 0
        self.served = 0
        self.hidden = 0  # suggestions the confidence gate kept from the user
        self.latencies: deque[float] = deque(maxlen=2000)  # seconds, most recent requests

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A message that could not be read. Invalid UTF-8 is read again with replacement
        characters (the request gets its answer, the text keeps the rest); a body that is
        not JSON gets JSON-RPC's parse error (id null: nobody can tell whose it was)."""
        if isinstance(error, UnicodeDecodeError) and isinstance(error.object, bytes):
            log.warning("a message was not valid UTF-8 (%s at byte %d); read it with U+FFFD in its place",
                        error.reason, error.start)
            try:
                message = json.loads(error.object.decode("utf-8", "replace"), object_hook=self.protocol.structure_message)
            except ValueError as exc:
                error = exc
            else:
                self.protocol.handle_message(message)
                return
        if isinstance(error, json.JSONDecodeError):
            log.warning("a message was not JSON: %s", error)
            self.protocol._send_response(None, error=types.ResponseError(code=-32700, message=f"parse error: {error}"))
            return
        if source is JsonRpcInternalError:  # writing to the client failed: telling the client would fail too
            logging.getLogger("lsp_server.transport").warning("cannot write to the client: %s", error)
            return
        super().report_server_error(error, source)

    # -- settings and the model -------------------------------------------------------------

    def apply_settings(self, raw: Any) -> bool:
        """Decode and apply; report bad keys. True when the model must be reloaded."""
        settings, errors = decode_settings(raw)
        for message in errors:
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))
        old, self.settings = self.settings, settings
        model_keys = ("model", "gpu_layers", "context_size", "kv_cache", "kv_cache_mb", "kv_cache_persist",
                      "engine", "url", "api_key_env", "timeout_ms", "fixes")
        return any(getattr(old, k) != getattr(settings, k) for k in model_keys)

    def start_loading(self) -> None:
        # An earlier load still running is not cancelled: the worker runs loads in order,
        # so requests queued after this one always see the newest model.
        self._loop = asyncio.get_running_loop()
        self.model_ready.clear()
        self.fix_ready.clear()
        self._generation += 1
        self._load_task = asyncio.ensure_future(self._load(self.settings, self._generation))

    async def _load(self, settings: Settings, generation: int) -> None:
        """The completions' engine on the engine thread; once it serves, the fixes' own engine
        (if they have one) on the loader thread: completions never wait for it."""
        fix_load = self.latest.begin(FIXES_LOAD)  # an older load's fixes' engine is not wanted now
        own_fixes = not settings.fixes_share_engine()
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
            if not own_fixes and generation == self._generation:
                self.fix_ready.set()
        if own_fixes:
            self._report_progress(token, f"{message}; loading the model for fixes", 50)
            message += await self._load_fixes(settings, generation, fix_load)
        self.latest.end(FIXES_LOAD, fix_load)
        self._end_progress(token, message)

    async def _load_fixes(self, settings: Settings, generation: int, cancel) -> str:
        """The fixes' own engine: loaded on the loader thread, then handed to the engine thread.
        A failure is reported once per load; completions go on. Returns the progress message's tail."""
        model, error = None, None
        try:
            model = await self.loader.run(self._load_fix_model, settings, cancel)
        except Exception as exc:  # ModelError, NotPulled, llama.cpp's own
            if not isinstance(exc, (ModelError, OSError, ValueError)):
                log.exception("loading the fixes' model failed")
            error = str(exc)
        if model is None and error is None:
            return ""  # a newer load (or the exit) came first
        try:
            adopted = await self.worker.run(self._adopt_fix_model, model, error, generation)
        except WorkerDied:  # shut down meanwhile: close_engine closes what was loaded
            return ""
        if not adopted:
            return ""
        self.fix_ready.set()
        if error is not None:
            self.window_show_message(types.ShowMessageParams(
                type=types.MessageType.Error,
                message=f"sokuji: cannot load the model for fixes: {error}. Fixes that need a model "
                "are off until the `sokuji.fixes` settings name one that loads; completions go on."))
            return "; fixes: failed"
        return f"; fixes: {model.info.name}"

    def _load_fix_model(self, settings: Settings, cancel) -> Model | RemoteEngine | None:
        """Loader thread: the fixes' engine, or None when its load was cancelled before it began.
        Nothing else touches the new engine until the engine thread adopts it."""
        faults.point("load.fixes", cancel)  # tests hold the load here
        if cancel.cancelled:
            return None
        model = _load_engine(settings.fixes_engine(), self.model_override)
        self._unadopted.append(model)
        return model

    def _adopt_fix_model(self, model, error: str | None, generation: int) -> bool:
        """Worker thread: the fixes' engine from the loader becomes the engine thread's, unless
        a newer load began meanwhile (then it is closed here)."""
        if model is not None:
            self._unadopted.remove(model)
        if generation != self._generation:
            if model is not None:
                model.close()
            return False
        self.fix_model, self.fix_model_error = model, error
        return True

    def _swap_model(self, settings: Settings):
        """Worker thread: drop the old models, load the completions one (and let fixes share it
        unless they have their own, which _load_fixes loads next)."""
        old = {id(m): m for m in (self.model, self.fix_model) if m is not None}
        self.model = self.fix_model = None
        self.fix_model_error = None
        self.results.clear()  # suggestions of another model or settings are stale
        self.choices.clear()  # token counts of another model
        for model in old.values():
            model.close()
        self.model = _load_engine(settings, self.model_override)
        if settings.fixes_share_engine():
            self.fix_model = self.model
        return self.model.info

    def fix_error(self) -> str | None:
        """Why fixes have no model, or None."""
        return self.model_error if self.settings.fixes_share_engine() else self.fix_model_error

    def _engines(self) -> list[Model | RemoteEngine]:
        """Worker thread: the loaded engines, each once."""
        return list({id(m): m for m in (self.model, self.fix_model) if m is not None}.values())

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
        except EngineUnavailable as exc:
            self.engine_failed(exc)
            return None
        except WorkerDied:  # reported by _engine_thread_died
            return None
        except Exception as exc:
            log.exception("completion failed for %s", uri)
            self.report("completion", f"sokuji: a completion failed ({exc}). The next one starts afresh; details in the log.")
            return None
        finally:
            self.latest.end(uri, token)
        self.engine_ok()
        self.recovered("completion")
        self.recovered("worker")
        self.served += 1
        self.latencies.append(time.monotonic() - started)
        if result is not None and result.hidden:
            self.hidden += 1
        if result is None or not result.text:
            return None
        return result.text, types.Position(line=line, character=character)

    async def alternatives(self, uri: str, position: types.Position, best: str) -> list[str]:
        """Suggestions other than `best` at `position` (alternatives.py), for an explicit ask;
        [] when the document changed meanwhile, a newer request came, or anything failed."""
        doc = self.docs.get(uri)
        if doc is None:
            return []
        snap, cursor, others = doc.snapshot(), doc.cursor(position.line, position.character), self._other_buffers(uri)
        token = self.latest.begin(uri)
        try:
            return await self.worker.run(self._alternatives_job, snap, cursor, self.settings, token, others, best)
        except asyncio.CancelledError:
            token.cancel()
            raise
        except Exception as exc:  # the best suggestion is still served
            log.info("alternatives for %s: none (%s)", uri, exc)
            return []
        finally:
            self.latest.end(uri, token)

    def _alternatives_job(self, snap, cursor, settings, token, others, best):
        model = self.model
        if model is None:
            return []
        started = time.monotonic()
        found = alternatives.alternatives(
            model, snap, cursor, settings, token, best, ALTERNATIVES, self._symbols(others, snap.uri), self.choices
        )
        self._log_from_worker(
            f"alternatives {snap.uri}:{cursor.line + 1}:{cursor.index + 1}: {len(found)} more, {(time.monotonic() - started) * 1000:.0f} ms"
        )
        return found

    def report(self, kind: str, message: str, level: types.MessageType = types.MessageType.Error) -> None:
        """Show a problem to the user once; the same kind again stays quiet until `recovered`.
        Event loop only."""
        if kind not in self._reported:
            self._reported.add(kind)
            self.window_show_message(types.ShowMessageParams(type=level, message=message))

    def recovered(self, kind: str, message: str | None = None) -> None:
        if kind in self._reported:
            self._reported.discard(kind)
            if message:
                self.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=message))

    def _remote(self, fixes: bool) -> str | None:
        """The remote engine a feature runs on ("openai at URL"), None for the in-process one."""
        settings = self.settings.fixes_engine() if fixes else self.settings
        return None if settings.engine == "local" else f"{settings.engine} at {settings.url}"

    def engine_failed(self, exc: Exception, fixes: bool = False) -> None:
        """A remote engine is down or timing out: say so once per engine, not once per keystroke,
        with the features that wait for it."""
        log.info("engine unavailable: %s", exc)
        engine = self._remote(fixes) or str(exc)
        waiting = "Completions and fixes" if self._remote(not fixes) == engine else "Fixes" if fixes else "Completions"
        self.report(f"engine {engine}", f"sokuji: {exc}. {waiting} resume by themselves when it answers again.")

    def engine_ok(self, fixes: bool = False) -> None:
        """A request the feature's remote engine answered: if it was reported down, it is back."""
        engine = self._remote(fixes)
        if engine is not None:
            url = (self.settings.fixes_engine() if fixes else self.settings).url
            self.recovered(f"engine {engine}", f"sokuji: the engine at {url} answers again.")

    def _engine_thread_died(self, exc: BaseException) -> None:
        """On the dying engine thread (no other thread touches the model now): the model's
        context may hold a half-done evaluation, so empty it; then tell the user, once."""
        for engine in self._engines():
            reset = getattr(engine, "reset", None)
            if reset is not None:
                reset()
        self.results.clear()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(
                self.report, "worker",
                f"sokuji: the engine thread stopped ({exc}); a new one took over. The request it was serving got an empty answer.",
            )

    def _complete_job(self, snap, cursor, settings, token, others):
        model = self.model  # read on the worker thread, where swaps happen
        if model is None:
            return None
        where = f"{snap.uri}:{cursor.line + 1}:{cursor.index + 1}"
        try:
            symbols = self._symbols(others, snap.uri)
            result = completion.complete(model, snap, cursor, settings, token, self.results, symbols, self.choices)
        except CancelledError:
            self._log_from_worker(f"completion {where}: cancelled before decoding")
            raise
        gen = result.generation
        self._log_from_worker(
            f"completion {where}: {'multi' if result.multiline else 'single'}-line, stop={gen.stop_reason}, "
            f"prompt={gen.prompt_tokens} evaluated={gen.evaluated_tokens} generated={gen.generated_tokens}, "
            f"{gen.seconds * 1000:.0f} ms, healed={gen.healed_bytes}"
            + (f" confidence={gen.confidence:.2f}" if gen.confidence is not None else "")
        )
        return result

    # -- context: open buffers and the workspace index ------------------------------------

    def _other_buffers(self, uri: str) -> Others:
        """Snapshots of the other open buffers (text only where the worker has not read that
        version), and the user's edits outside `uri` so far."""
        out = []
        for doc in self.docs.all():
            if doc.uri == uri:
                continue
            known = self._buffer_defs.get(doc.uri)
            out.append(doc.snapshot() if known is None or known[0] != doc.version else Snapshot(doc.uri, doc.version, "", "", None, None))
        return Others(out, self._edits - self._edits_in.get(uri, 0))

    def _edited(self, uri: str) -> None:
        """Loop: the user changed `uri`, in its buffer or on disk (once the index shows it).
        Other files' context choices, pinned while a line is typed, are made again."""
        self._edits += 1
        self._edits_in[uri] = self._edits_in.get(uri, 0) + 1

    def _symbols(self, others: Others, current: str) -> SymbolSources:
        """Worker thread: definitions of the other open buffers (re-read when their version
        changed, unless a pause in their edits let the worker read them already) over the
        workspace index. `current`, the asking file, keeps its entry for later requests."""
        open_uris = {s.uri for s in others.buffers} | {current}
        for uri in [u for u in self._buffer_defs if u not in open_uris]:
            del self._buffer_defs[uri]
            self._buffers_generation += 1
        for snap in others.buffers:
            self._read_buffer_definitions(snap)
        buffers = {uri: defs for uri, (_, defs) in self._buffer_defs.items()}
        roots = [root.as_uri() for root in self.roots]
        return SymbolSources(self.index, buffers, roots, self._buffers_generation, others.edits)

    def _read_buffer_definitions(self, snap: Snapshot) -> None:
        """Worker thread. The generation changes only when the definitions do: typing in a
        function's body elsewhere leaves this file's memoized choices valid."""
        known = self._buffer_defs.get(snap.uri)
        if known is not None and known[0] == snap.version:
            return
        defs = completion.own_definitions(snap)
        if known is None or known[1] != defs:
            self._buffers_generation += 1
        self._buffer_defs[snap.uri] = (snap.version, defs)

    def schedule_definitions(self, uri: str) -> None:
        """Once edits to a buffer pause, the worker reads its definitions, which other files'
        prompts may show: a request in another file then does not wait for that (~2 ms a
        file; after editing ten files, a return to the first paid ~25 ms)."""
        doc = self.docs.get(uri)
        if doc is not None and doc.tree is not None:
            self._after_pause(self._definition_timers, uri, self._read_definitions_soon, uri, doc.version)

    def _read_definitions_soon(self, uri: str, version: int) -> None:
        self._definition_timers.pop(uri, None)
        doc = self.docs.get(uri)
        if doc is None or doc.version != version:
            return
        task = asyncio.ensure_future(self.worker.run(self._read_buffer_definitions, doc.snapshot()))
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Future) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("reading a buffer's definitions failed: %s", task.exception())

    def _after_pause(self, timers: dict[str, asyncio.TimerHandle], uri: str, callback, *args) -> None:
        """Run `callback` once edits to `uri` pause (a newer edit restarts the wait)."""
        timer = timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        timers[uri] = asyncio.get_running_loop().call_later(EDITS_PAUSE, callback, *args)

    async def build_index(self, folders: list[Path]) -> None:
        """Index the workspace folders in the background: files are read and parsed in an
        executor, each batch's definitions applied here on the loop."""
        loop = asyncio.get_running_loop()
        token = await self._begin_progress("sokuji: indexing workspace")
        started = time.monotonic()
        try:
            for folder in folders:
                ignore = self.roots.setdefault(folder, Ignore(folder))
                walk_started = time.monotonic()
                files = await loop.run_in_executor(None, lambda: list(workspace_files(folder, ignore)))
                self._forget_unlisted(folder, {path.as_uri() for path in files}, walk_started)
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

    def _forget_unlisted(self, folder: Path, listed: set[str], since: float) -> None:
        """Files the index holds under `folder` that a new walk no longer finds (deleted
        while no watcher looked, after it died) are dropped, unless the watcher has
        reported them since the walk began."""
        under = folder.as_uri().rstrip("/") + "/"
        for uri in self.index.paths():
            if uri.startswith(under) and uri not in listed and self._touched.get(uri, 0.0) < since:
                self.index.remove(uri)

    async def start_watcher(self) -> None:
        self.watcher = Watcher(asyncio.get_running_loop(), self.on_disk_change)
        await asyncio.get_running_loop().run_in_executor(None, self.watcher.watch, list(self.roots))

    async def supervise_watcher(self) -> None:
        """A watcher whose thread died reports nothing more: restart it, and re-index the
        workspace, whose changes meanwhile were missed."""
        while self.watcher is not None:
            await asyncio.sleep(WATCHER_CHECK)
            if self.watcher is None or (failure := self.watcher.failure()) is None:
                continue
            log.warning("the workspace file watcher stopped: %s; restarting it", failure)
            self.report("watcher", f"sokuji: the workspace file watcher stopped ({failure}); restarted it and "
                        "re-indexed the workspace.", types.MessageType.Warning)
            try:
                await self.start_watcher()
            except Exception:
                log.exception("cannot restart the workspace file watcher")
                continue
            await self.build_index(list(self.roots))

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
            self._edited(file_uri)

    # -- diagnostics and fixes ----------------------------------------------------------------

    def schedule_diagnostics(self, uri: str) -> None:
        """Publish the document's syntax errors once edits pause (debounced per document)."""
        timer = self._diagnostic_timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        doc = self.docs.get(uri)
        if doc is None or not self.settings.diagnostics or doc.tree is None:
            return
        self._after_pause(self._diagnostic_timers, uri, self._publish_diagnostics, uri, doc.version)

    def _publish_diagnostics(self, uri: str, version: int) -> None:
        self._diagnostic_timers.pop(uri, None)
        doc = self.docs.get(uri)
        if doc is None or doc.version != version:
            return  # stale: the newer version has its own timer
        task = asyncio.ensure_future(self._diagnose(doc.snapshot()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _diagnose(self, snap: Snapshot) -> None:
        """Find the problems off the loop (Python's own parser, probes for a missing token),
        publish them only if the document is still at that version."""
        try:
            problems = await asyncio.get_running_loop().run_in_executor(
                None, diagnostics.publishable, snap.language, snap.text, snap.tree)
        except Exception:
            log.exception("diagnostics failed for %s", snap.uri)
            return
        doc = self.docs.get(snap.uri)
        if doc is None or doc.version != snap.version:
            return  # changed meanwhile: the newer version has its own timer
        found = [
            types.Diagnostic(range=self._range(doc, p.start_byte, p.end_byte), message=p.message,
                             severity=types.DiagnosticSeverity.Error, source=SECTION)
            for p in problems
        ]
        caps = self.client_capabilities.text_document
        versioned = bool(caps and caps.publish_diagnostics and caps.publish_diagnostics.version_support)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=snap.uri, version=snap.version if versioned else None, diagnostics=found)
        )

    def clear_diagnostics(self, uri: str) -> None:
        timer = self._diagnostic_timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @staticmethod
    def _range(doc, start_byte: int, end_byte: int) -> types.Range:
        a = doc.position(doc.offset_of_byte(start_byte))
        b = doc.position(doc.offset_of_byte(end_byte))
        return types.Range(start=types.Position(line=a[0], character=a[1]), end=types.Position(line=b[0], character=b[1]))

    def _resolve_supported(self) -> bool:
        caps = self.client_capabilities.text_document
        code_action = caps.code_action if caps else None
        support = code_action.resolve_support if code_action else None
        return bool(support and "edit" in support.properties)

    def _disabled_supported(self) -> bool:
        caps = self.client_capabilities.text_document
        return bool(caps and caps.code_action and caps.code_action.disabled_support)

    async def plan_fix(self, doc, rng: types.Range, message: str, own: bool, selection: bool = False):
        """The fix's plan for the current version (fixes.plan_fix), found off the loop."""
        snap = doc.snapshot()
        start = doc.byte_of_offset(doc.cursor(rng.start.line, rng.start.character).offset)
        end = doc.byte_of_offset(doc.cursor(rng.end.line, rng.end.character).offset)
        l1, l2 = rng.start.line, rng.end.line
        rows = (l1, max(l1, l2 - 1 if rng.end.character == 0 and l2 > l1 else l2)) if selection else None
        try:
            plan = await asyncio.get_running_loop().run_in_executor(None, fixes.plan_fix, snap, start, end, message, own, rows)
        except Exception as exc:  # a bug in a repair must not take the listing down with it
            log.exception("planning a fix failed for %s", doc.uri)
            plan = fixes.Plan((), (0, 0), False, "", f"error: {exc}")
        return snap, start, plan

    def _worth_offering(self, plan: fixes.Plan) -> bool:
        """A checked repair, or a rewrite a model can try (none failed to load)."""
        return bool(plan.candidates) or (plan.rewrite and self.fix_error() is None)

    async def resolve_fix(self, action: types.CodeAction) -> types.CodeAction:
        """Compute the action's edit: the one checked repair, the model's pick among several,
        or its rewrite, checked before it is offered."""
        data = action.data if isinstance(action.data, dict) else {}
        uri = data.get("uri")
        doc = self.docs.get(uri) if isinstance(uri, str) else None
        if doc is None:
            return self._no_fix(action, "the document is not open")
        try:
            l1, c1, l2, c2 = (int(v) for v in data["range"])
        except (KeyError, TypeError, ValueError):
            return self._no_fix(action, "the action's data has no range [line, character, line, character]")
        message, own = str(data.get("message", "")), bool(data.get("own"))
        rng = types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2))
        snap, start, plan = await self.plan_fix(doc, rng, message, own, bool(data.get("selection")))
        if len(plan.candidates) == 1:  # nothing to rank: no model needed
            return self._with_edit(action, doc, snap.version, fixes.repair(plan))
        if not plan.candidates and not plan.rewrite:
            return self._no_fix(action, plan.reason)
        key = f"fix:{uri}"
        token = self.latest.begin(key)
        try:
            await self.fix_ready.wait()  # its own engine's load: completions do not wait for it
            fix = await self.worker.run(self._fix_job, snap, plan, start, message, own, self.settings, token)
        except asyncio.CancelledError:
            token.cancel()
            raise
        except CancelledError:
            return self._no_fix(action, "cancelled")
        except EngineUnavailable as exc:
            self.engine_failed(exc, fixes=True)
            return self._no_fix(action, "the engine is unavailable")
        except WorkerDied:
            return self._no_fix(action, "the engine thread stopped; try again")
        except Exception as exc:
            log.exception("fix failed for %s", uri)
            return self._no_fix(action, f"error: {exc}")
        finally:
            self.latest.end(key, token)
        if fix is None:
            return self._no_fix(action, self.fix_error() or "no model loaded")
        self.engine_ok(fixes=True)
        return self._with_edit(action, doc, snap.version, fix)

    def _with_edit(self, action: types.CodeAction, doc, version: int, fix: fixes.Fix) -> types.CodeAction:
        if not fix.edits:
            return self._no_fix(action, fix.reason)
        self.fixes_offered += 1
        edits = [self._line_edit(doc, first, end_row, new_lines) for first, end_row, new_lines in fix.edits]
        action.edit = types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=version),
                    edits=edits,
                )
            ]
        )
        return action

    def _fix_job(self, snap, plan, start, message, own, settings, token):
        model = self.fix_model
        if model is None:
            return None
        params = GenParams(max_tokens=512, time_budget_ms=settings.fix_time_budget_ms)
        fix = fixes.propose_fix(model, snap, plan, start, message, own, params, token, settings.fix_prompt_lookup)
        gens = fix.generations
        self._log_from_worker(
            f"fix {snap.uri}:{fix.region[0] + 1}-{fix.region[1] + 1}: {('offered (' + fix.method + ')') if fix.edits else 'refused (' + fix.reason + ')'}, "
            f"tries={len(gens)}, generated={sum(g.generated_tokens for g in gens)}, "
            f"{sum(g.seconds for g in gens) * 1000:.0f} ms"
        )
        return fix

    def _no_fix(self, action: types.CodeAction, reason: str) -> types.CodeAction:
        self.fixes_refused += 1
        action.edit = None
        if self._disabled_supported():
            action.disabled = types.CodeActionDisabled(reason=f"sokuji: no safe fix found ({reason})")
        else:
            action.title = f"sokuji: no safe fix found ({reason})"
        return action

    @staticmethod
    def _line_edit(doc, first: int, end_row: int, new_lines: list[str]) -> types.TextEdit:
        """Replace rows [first, end_row) with `new_lines` (whole lines)."""
        n_rows = doc.text.count("\n") + 1
        if end_row < n_rows:
            rng = types.Range(start=types.Position(line=first, character=0), end=types.Position(line=end_row, character=0))
            return types.TextEdit(range=rng, new_text="".join(line + "\n" for line in new_lines))
        # up to the end of the file, which has no newline after its last row
        last_line, last_char = doc.position(len(doc.text))
        if first >= n_rows:  # appended rows
            rng = types.Range(start=types.Position(line=last_line, character=last_char), end=types.Position(line=last_line, character=last_char))
            return types.TextEdit(range=rng, new_text="".join("\n" + line for line in new_lines))
        start = types.Position(line=first, character=0)
        if not new_lines and first > 0:  # deleting the last rows: and the newline before them
            line, char = doc.position(doc.cursor(first, 0).offset - 1)
            start = types.Position(line=line, character=char)
        rng = types.Range(start=start, end=types.Position(line=last_line, character=last_char))
        return types.TextEdit(range=rng, new_text="\n".join(new_lines))

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
                # a symlink may point out of the workspace: not read (as the index does not)
                None, lambda: Path(path).read_text(encoding="utf-8", errors="replace") if path and not Path(path).is_symlink() else None
            )
        except OSError:
            on_disk = None  # deleted or unreadable: not what the editor holds
        if on_disk != text:
            self.forget(uri)

    def _forget_job(self, uri: str) -> None:
        if self.model is not None:
            self.model.forget(uri)
        if self.fix_model is not None:
            self.fix_model.forget(f"fix:{uri}")  # the state its fixes used

    def close_engine(self, timeout: float = ENGINE_STOP) -> bool:
        """Main thread, once the event loop has ended (exit, or stdin closed): the request the
        engine thread serves is cancelled, the thread stops, and the model is closed here,
        before the interpreter tears down (see engine/lifetime.py). False when the thread (or the
        loader's, inside a fixes' model load) did not stop in time: the model is then still in
        use and left open."""
        self.latest.cancel_all()  # and a fixes' engine's load held or not begun
        if not self.worker.stop(timeout) or not self.loader.stop(timeout):
            return False
        for engine in self._engines() + self._unadopted:
            engine.close()
        self.model = self.fix_model = None
        self._unadopted.clear()
        log.info("engine closed")
        return True

    def _persist_job(self) -> None:
        for engine in self._engines():
            engine.persist()

    def stats(self) -> dict[str, Any]:
        model = self.model
        kv = model.states if model is not None else None
        lat = sorted(self.latencies)
        pct = statistics.quantiles(lat, n=20, method="inclusive") if len(lat) >= 2 else lat * 19
        return {
            "modelReady": self.model_ready.is_set() and model is not None,
            "modelError": self.model_error,
            "model": model.info.name if model is not None else None,
            "fixModel": self.fix_model.info.name if self.fix_model is not None else None,
            "fixModelReady": self.fix_ready.is_set() and self.fix_model is not None,
            "fixModelError": self.fix_error(),
            "fixPromptTokensEvaluated": self.fix_model.evaluated_tokens if self.fix_model is not None else 0,
            "requestsServed": self.served,
            "suggestionsHidden": self.hidden,
            "requestsInFlight": len(self.protocol._request_futures),  # this one included
            "promptTokensEvaluated": model.evaluated_tokens if model else 0,
            "promptTokensReused": model.reused_tokens if model else 0,
            "kvCache": self.settings.kv_cache,
            "kvHits": kv.stats.hits if kv is not None else 0,
            "kvMisses": kv.stats.misses if kv is not None else 0,
            "kvEvictions": kv.stats.evictions if kv is not None else 0,
            "kvDiskHits": kv.stats.disk_hits if kv is not None else 0,
            "kvFiles": len(kv) if kv is not None else 0,
            "kvBytesHeld": kv.bytes_held if kv is not None else 0,
            "kvBudgetBytes": kv.budget_bytes if kv is not None else 0,
            "resultCacheHits": self.results.hits,
            "contextChoicesReused": self.choices.hits,
            "resultCacheMisses": self.results.misses,
            "fixesOffered": self.fixes_offered,
            "fixesRefused": self.fixes_refused,
            "indexFiles": self.index.file_count,
            "indexDefinitions": self.index.definition_count,
            "latencyP50Ms": round(pct[9] * 1000, 1) if pct else None,
            "latencyP95Ms": round(pct[18] * 1000, 1) if pct else None,
        }

    def _context_job(self, snap, cursor, settings, others) -> dict:
        model = self.model
        if model is None:
            raise JsonRpcInternalError(f"sokuji: no model loaded ({self.model_error})")
        prompt = completion.make_prompt(model, snap, cursor, settings, self._symbols(others, snap.uri), self.choices)
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


def _load_engine(settings: Settings, override: str | None) -> Model | RemoteEngine:
    if settings.engine != "local":
        return completion.load_model(settings, override)
    with _LOADING:
        return completion.load_model(settings, override)


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
    sokuji_log = logging.getLogger("sokuji")
    sokuji_log.setLevel(min(sokuji_log.getEffectiveLevel(), logging.INFO))
    sokuji_log.addHandler(_ToClient(server))

    @server.feature(types.INITIALIZE)
    def initialize(ls: SokujiServer, params: types.InitializeParams) -> None:
        ls._loop = asyncio.get_running_loop()
        # pygls gives the enum when the client lists no encodings: str() of it is
        # "PositionEncodingKind.Utf16", which counted columns in code points, not utf-16 units
        encoding = ls.workspace.position_encoding or "utf-16"
        ls.docs.encoding = str(getattr(encoding, "value", encoding))
        ls.apply_settings(_settings_section(params.initialization_options))
        # Offer exactly one completion style, chosen from what the client can show.
        if _client_has_inline(params.capabilities):
            ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
        else:
            ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())(completion_request)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: SokujiServer, params: types.InitializedParams) -> None:
        # Capabilities are sent: inlineCompletion is answered for any client that asks it
        # (the Neovim and Emacs modules do, over a client that advertised only completion).
        if types.TEXT_DOCUMENT_INLINE_COMPLETION not in ls.protocol.fm.features:
            ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION)(inline_completion)
        ls.start_loading()
        folders = [Path(p) for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri))]
        if not folders and ls.workspace.root_path:
            folders = [Path(ls.workspace.root_path)]
        if folders:
            ls.roots = {folder.resolve(): Ignore(folder.resolve()) for folder in folders}
            await ls.start_watcher()
            asyncio.ensure_future(ls.build_index(list(ls.roots)))
            asyncio.ensure_future(ls.supervise_watcher())
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
        doc = ls.docs.open(item.uri, item.language_id, item.version, item.text)
        if doc.large and doc.language:
            log.info("%s is %.1f MB: kept as plain text (no syntax tree, no diagnostics) above %.0f MB",
                     item.uri, len(doc.source) / 1e6, LARGE_FILE_BYTES / 1e6)
        ls.schedule_diagnostics(item.uri)
        ls.schedule_definitions(item.uri)

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
        ls._edited(doc.uri)
        ls.schedule_diagnostics(doc.uri)
        ls.schedule_definitions(doc.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SokujiServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.docs.close(params.text_document.uri)
        ls.forget(params.text_document.uri)
        ls.clear_diagnostics(params.text_document.uri)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: SokujiServer, *args) -> None:
        if ls.watcher is not None:
            ls.watcher.stop()
            ls.watcher = None
        ls.latest.cancel_all()  # in-flight decoding stops now, not at its time budget
        try:  # keep the warm states for the next start (kvCachePersist)
            await asyncio.wait_for(ls.worker.run(ls._persist_job), 30)
        except Exception:
            log.exception("could not persist KV states")
        ls.worker.shutdown()
        ls.loader.shutdown()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite], resolve_provider=True
        ),
    )
    async def code_action(ls: SokujiServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        """A fix is listed only when a checked repair exists or a model rewrite is worth
        trying, and its title says which (fixes.plan_fix: no model call). The edit is
        computed in codeAction/resolve, or here (time-boxed by fixTimeBudgetMs) for clients
        that cannot resolve."""
        uri = params.text_document.uri
        doc = ls.docs.get(uri)
        if doc is None:
            return []
        only = params.context.only
        wanted = lambda kind: not only or any(kind.value.startswith(k.value if hasattr(k, "value") else str(k)) for k in only)  # noqa: E731
        lazy = ls._resolve_supported()
        actions = []
        if wanted(types.CodeActionKind.QuickFix):
            for diag in params.context.diagnostics:
                r, own = diag.range, diag.source == SECTION
                _, _, plan = await ls.plan_fix(doc, r, diag.message, own)
                if not ls._worth_offering(plan):
                    continue
                data = {"uri": uri, "range": [r.start.line, r.start.character, r.end.line, r.end.character],
                        "message": diag.message, "own": own}
                actions.append(types.CodeAction(title=plan.title, kind=types.CodeActionKind.QuickFix,
                                                diagnostics=[diag], data=data))
        r = params.range
        if not params.context.diagnostics and lazy and r.start != r.end and wanted(types.CodeActionKind.RefactorRewrite):
            data = {"uri": uri, "range": [r.start.line, r.start.character, r.end.line, r.end.character],
                    "message": "rewrite this code", "own": False, "selection": True}
            actions.append(types.CodeAction(title="Rewrite selection with sokuji", kind=types.CodeActionKind.RefactorRewrite, data=data))
        if not lazy:
            actions = [await ls.resolve_fix(a) for a in actions]
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: SokujiServer, action: types.CodeAction) -> types.CodeAction:
        return await ls.resolve_fix(action)

    async def inline_completion(ls: SokujiServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        found = await ls.suggest(params.text_document.uri, params.position)
        if found is None:
            return types.InlineCompletionList(items=[])
        text, pos = found
        texts = [text]
        if params.context is not None and params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked:
            texts += await ls.alternatives(params.text_document.uri, params.position, text)  # asked: something to cycle
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=t, range=types.Range(start=pos, end=pos)) for t in texts]
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
