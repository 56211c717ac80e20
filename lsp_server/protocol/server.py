"""The language server object: pygls' server with sokuji's services attached, the protocol
fixes sokuji needs from pygls, and the `Client` the features talk to the editor through."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from .. import __version__
from ..config import RELOAD_KEYS, Settings, decode_settings
from ..documents import Documents
from ..client import Level, Notices
from ..completion.flow import Completions
from ..fixes.diagnostics import Diagnostics, Problem
from ..engines import Engines
from ..fixes.flow import Fixes
from ..nextedit.flow import NextEdits
from ..session import EngineSession
from ..workspace import WorkspaceService
from .convert import SECTION, range_of

log = logging.getLogger("sokuji")
_LEVELS = {"error": types.MessageType.Error, "warning": types.MessageType.Warning, "info": types.MessageType.Info}


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


class LspClient:
    """client.Client over LSP: showMessage, logMessage, work-done progress."""

    def __init__(self, server: SokujiServer) -> None:
        self._server = server
        self._progress_id = 0

    def show(self, level: Level, message: str) -> None:
        self._server.window_show_message(types.ShowMessageParams(type=_LEVELS[level], message=message))

    def log(self, message: str) -> None:
        """From any thread: the loop does the writing."""
        loop = self._server.loop
        if loop is not None:
            params = types.LogMessageParams(type=types.MessageType.Log, message=f"sokuji: {message}")
            loop.call_soon_threadsafe(self._server.window_log_message, params)

    async def begin_progress(self, title: str) -> str | None:
        caps = self._server.client_capabilities.window
        if not (caps and caps.work_done_progress):
            return None
        self._progress_id += 1
        token = f"sokuji-{self._progress_id}"
        try:
            await self._server.work_done_progress.create_async(token)
        except Exception:  # the client refused; the work goes on without a progress bar
            return None
        self._server.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=False))
        return token

    def report_progress(self, token: str | None, message: str, percentage: int) -> None:
        if token is not None:
            self._server.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self._server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


class ToClient(logging.Handler):
    """sokuji's own log records (INFO and up), from any thread, as window/logMessage."""

    def __init__(self, server: SokujiServer) -> None:
        super().__init__(logging.INFO)
        self._server = server

    def emit(self, record: logging.LogRecord) -> None:
        loop = self._server.loop
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
        self.loop: asyncio.AbstractEventLoop | None = None  # known once the client initializes
        self.settings = Settings()
        self.docs = Documents()
        self.client = LspClient(self)
        self.notices = Notices(self.client)
        current = lambda: self.settings  # noqa: E731  (features read the settings of the moment)
        # the workspace service (pygls' own `workspace` is the client's folders and encoding)
        self.project = WorkspaceService(self.docs, self.notices, self.forget)
        self.session = EngineSession(self.project.index, model_override, self.client.log)
        self.engines = Engines(self.session, self.notices, current)
        self.completions = Completions(self.docs, self.engines, self.project, current)
        self.fixes = Fixes(self.docs, self.engines, current)
        self.next_edits = NextEdits(self.docs, self.engines, self.completions.history, current)
        self.diagnostics = Diagnostics(self.docs, self.publish_diagnostics, lambda: self.settings.diagnostics)

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        return self.protocol.client_capabilities

    def apply_settings(self, raw: Any) -> bool:
        """Decode and apply; report bad keys. True when the engines must be reloaded."""
        settings, errors = decode_settings(raw)
        for message in errors:
            self.client.show("warning", message)
        old, self.settings = self.settings, settings
        return any(getattr(old, k) != getattr(settings, k) for k in RELOAD_KEYS)

    def forget(self, uri: str) -> None:
        """Drop a file's KV states (closed, or changed on disk): on the engine thread, in order."""
        self.engines.background.spawn(self.engines.call(self.session.forget, uri))

    def publish_diagnostics(self, uri: str, version: int | None, problems: list[Problem]) -> None:
        """`version`: the document's the problems are of; None when it closed."""
        caps = self.client_capabilities.text_document
        versioned = version is not None and bool(caps and caps.publish_diagnostics and caps.publish_diagnostics.version_support)
        found = [types.Diagnostic(range=range_of(p.start, p.end), message=p.message,
                                  severity=types.DiagnosticSeverity.Error, source=SECTION) for p in problems]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=version if versioned else None, diagnostics=found))

    def close_engine(self) -> bool:
        """Main thread, once the event loop has ended: see Engines.close."""
        return self.engines.close()

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
