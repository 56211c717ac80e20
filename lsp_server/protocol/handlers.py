"""One small function per LSP method, each handing over to a feature (jedi-language-server's
shape); `create_server` registers them."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import msgspec

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.uris import to_fs_path

from .. import faults
from ..documents import LARGE_FILE_BYTES
from ..acceptance import acceptance_file
from .convert import ACCEPTED, SECTION, completion_list, field, inline_items, settings_section, span, with_resolution
from .server import SokujiServer, ToClient
from . import next_edit
from .stats import stats

log = logging.getLogger("sokuji")
Kind = types.CodeActionKind


def initialize(ls: SokujiServer, params: types.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    # pygls gives the enum when the client lists no encodings: str() of it is
    # "PositionEncodingKind.Utf16", which counted columns in code points, not utf-16 units
    encoding = ls.workspace.position_encoding or "utf-16"
    ls.docs.encoding = str(getattr(encoding, "value", encoding))
    ls.apply_settings(settings_section(params.initialization_options))
    # Offer exactly one completion style, chosen from what the client can show.
    caps = params.capabilities.text_document
    if caps and caps.inline_completion is not None:
        ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
    else:
        ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())(completion)


async def initialized(ls: SokujiServer, params: types.InitializedParams) -> None:
    # Capabilities are sent: inlineCompletion is answered for any client that asks it
    # (the Neovim and Emacs modules do, over a client that advertised only completion).
    if types.TEXT_DOCUMENT_INLINE_COMPLETION not in ls.protocol.fm.features:
        ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION)(inline_completion)
    ls.engines.start(ls.settings)
    folders = [Path(p) for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri))]
    if not folders and ls.workspace.root_path:
        folders = [Path(ls.workspace.root_path)]
    await ls.project.start(folders)


async def did_change_configuration(ls: SokujiServer, params: types.DidChangeConfigurationParams) -> None:
    raw = settings_section(params.settings)
    if raw in (None, {}) and ls.client_capabilities.workspace and ls.client_capabilities.workspace.configuration:
        items = await ls.workspace_configuration_async(types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)]))
        raw = items[0] if items else None
    if ls.apply_settings(raw) or ls.engines.error:  # a failed load is retried on any change
        ls.engines.start(ls.settings)


def did_open(ls: SokujiServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    doc = ls.docs.open(item.uri, item.language_id, item.version, item.text)
    if doc.large and doc.language:
        log.info("%s is %.1f MB: kept as plain text (no syntax tree, no diagnostics) above %.0f MB",
                 item.uri, len(doc.source) / 1e6, LARGE_FILE_BYTES / 1e6)
    ls.diagnostics.schedule(item.uri)
    ls.completions.schedule_definitions(item.uri)


def did_change(ls: SokujiServer, params: types.DidChangeTextDocumentParams) -> None:
    faults.point("change")  # on the event loop: where the tests crash the server outside the model
    doc = ls.docs.get(params.text_document.uri)
    if doc is None:
        return
    cursor, now = 0, time.monotonic()
    for change in params.content_changes:
        old = doc.text
        if isinstance(change, types.TextDocumentContentChangePartial):
            r = change.range
            cursor = doc.apply_change(change.text, (r.start.line, r.start.character), (r.end.line, r.end.character))
            span = (cursor - len(change.text), len(old) - len(doc.text) + cursor, cursor)
        else:
            cursor, span = doc.apply_change(change.text), None
        ls.completions.history.record(doc.uri, old, doc.text, now, span)
    doc.version = params.text_document.version
    ls.next_edits.edited(doc.uri, cursor)
    ls.project.edited(doc.uri)
    ls.diagnostics.schedule(doc.uri)
    ls.completions.edited(doc.uri, doc.text, cursor)
    ls.completions.schedule_definitions(doc.uri)


def did_close(ls: SokujiServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.docs.close(params.text_document.uri)
    ls.completions.closed(params.text_document.uri)
    ls.forget(params.text_document.uri)
    ls.diagnostics.clear(params.text_document.uri)


async def shutdown(ls: SokujiServer, *args) -> None:
    ls.project.stop()
    ls.completions.ledger.save(acceptance_file())  # counts only: `sokuji stats` prints them
    ls.next_edits.close()
    await ls.engines.shutdown()


async def inline_completion(ls: SokujiServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    uri, pos = params.text_document.uri, params.position
    asked = params.context is not None and params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    found = await ls.completions.suggest(uri, pos.line, pos.character, asked)
    if found is None:
        return types.InlineCompletionList(items=[])
    texts = [found.text]
    if asked:
        texts += await ls.completions.alternatives(uri, pos.line, pos.character, found.text)  # asked: something to cycle
    return inline_items(found, texts)


async def completion(ls: SokujiServer, params: types.CompletionParams) -> types.CompletionList:
    pos = params.position
    # a completion list is asked for (a key, or a popup the user opens); clients send no
    # context, or Invoked, for both: only a trigger character is taken as unasked
    asked = params.context is None or params.context.trigger_kind != types.CompletionTriggerKind.TriggerCharacter
    return completion_list(await ls.completions.suggest(params.text_document.uri, pos.line, pos.character, asked))


async def code_action(ls: SokujiServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """A fix is listed only when a checked repair exists or a model rewrite is worth trying,
    and its title says which (no model call). The edit is computed in codeAction/resolve,
    or here (time-boxed by fixTimeBudgetMs) for clients that cannot resolve."""
    only = params.context.only
    wanted = lambda kind: not only or any(kind.value.startswith(getattr(k, "value", str(k))) for k in only)  # noqa: E731
    lazy = _resolves_edits(ls.client_capabilities)
    diags = params.context.diagnostics if wanted(Kind.QuickFix) else []
    problems = [(span(d.range), d.message, d.source == SECTION) for d in diags]
    r = params.range
    rewrite = not params.context.diagnostics and lazy and r.start != r.end and wanted(Kind.RefactorRewrite)
    offers = await ls.fixes.offers(params.text_document.uri, problems, span(r) if rewrite else None)
    actions = [types.CodeAction(title=o.title, kind=Kind.QuickFix if o.kind == "quickfix" else Kind.RefactorRewrite,
                                diagnostics=[diags[o.problem]] if o.problem is not None else None,
                                data=msgspec.to_builtins(o.request)) for o in offers]
    if not lazy:
        actions = [await code_action_resolve(ls, a) for a in actions]
    return actions


async def code_action_resolve(ls: SokujiServer, action: types.CodeAction) -> types.CodeAction:
    caps = ls.client_capabilities.text_document
    disabled_support = bool(caps and caps.code_action and caps.code_action.disabled_support)
    return with_resolution(action, await ls.fixes.resolve(action.data), disabled_support)


def _resolves_edits(caps: types.ClientCapabilities) -> bool:
    """Whether the client resolves a code action's edit lazily (codeAction/resolve)."""
    text = caps.text_document
    support = text.code_action.resolve_support if text and text.code_action else None
    return bool(support and "edit" in support.properties)


def stats_command(ls: SokujiServer, *args) -> dict:
    return stats(ls)


def accepted(ls: SokujiServer, *args) -> None:
    """`sokuji.accepted` [id]: the client accepted an item whole."""
    if args and isinstance(args[0], str):
        ls.completions.accepted(args[0])


def _item_id(params) -> str | None:
    """The ledger id in a notification's `item` (its accept command's argument), as
    Copilot's language server receives them; None when it carries none."""
    item = field(params, "item")
    command = field(item, "command")
    arguments = field(command, "arguments") or []
    return arguments[0] if arguments and isinstance(arguments[0], str) else None


def did_show_completion(ls: SokujiServer, params) -> None:
    """`textDocument/didShowCompletion` {item}: an item is on screen."""
    if (item := _item_id(params)) is not None:
        ls.completions.ledger.shown(item)


def did_partially_accept_completion(ls: SokujiServer, params) -> None:
    """`textDocument/didPartiallyAcceptCompletion` {item, acceptedLength}: its first
    acceptedLength units (the negotiated position encoding's) were accepted."""
    length = field(params, "acceptedLength")
    if (item := _item_id(params)) is not None and isinstance(length, int) and not isinstance(length, bool):
        ls.completions.partly_accepted(item, length)


async def context_command(ls: SokujiServer, *args) -> dict:
    """The prompt a completion at (uri, line, character) would use, part by part."""
    try:
        uri, line, character = args[0], int(args[1]), int(args[2])
    except (IndexError, TypeError, ValueError):
        raise JsonRpcInvalidParams("sokuji.context takes [uri, line, character]") from None
    try:
        found = await ls.completions.context(uri, line, character)
    except KeyError:
        raise JsonRpcInvalidParams(f"sokuji.context: {uri} is not open") from None
    if found is None:
        raise JsonRpcInternalError(f"sokuji: no model loaded ({ls.engines.error})")
    return found


def create_server(model_override: str | None = None) -> SokujiServer:
    server = SokujiServer(model_override)
    sokuji_log = logging.getLogger("sokuji")
    sokuji_log.setLevel(min(sokuji_log.getEffectiveLevel(), logging.INFO))
    sokuji_log.addHandler(ToClient(server))
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[Kind.QuickFix, Kind.RefactorRewrite], resolve_provider=True))(code_action)
    server.feature(types.CODE_ACTION_RESOLVE)(code_action_resolve)
    server.command("sokuji.stats")(stats_command)
    server.command("sokuji.context")(context_command)
    server.command(ACCEPTED)(accepted)
    server.feature("textDocument/didShowCompletion")(did_show_completion)
    server.feature("textDocument/didPartiallyAcceptCompletion")(did_partially_accept_completion)
    next_edit.register(server)
    return server
