"""Start the real `sokuji serve` as a subprocess and talk to it as an editor does."""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import asynccontextmanager

from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

SERVER = [sys.executable, "-m", "lsp_server", "serve"]


def capabilities(inline: bool, encodings: list[str] | None = None) -> types.ClientCapabilities:
    """VS Code's capabilities, with LSP 3.18 inline completion on or off."""
    caps = client_capabilities("visual_studio_code")
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities() if inline else None
    if encodings:
        caps.general = caps.general or types.GeneralClientCapabilities()
        caps.general.position_encodings = encodings
    return caps


@asynccontextmanager
async def session(
    caps: types.ClientCapabilities,
    options: dict | None = None,
    model_flag: str | None = None,
    root_uri: str | None = None,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
):
    """A server session; `env` is added to the server's environment, `prefix` runs the
    server through another command (e.g. setpriv)."""
    # States persisted by earlier runs would make results depend on history: tests start cold.
    # A generous time budget: assertions are about what the model writes, not how fast. Every
    # first line shown at a line start: the tests that are about the line-start gate set it.
    options = {"kvCachePersist": False, "timeBudgetMs": 60_000, "lineStartConfidence": 0, **(options or {})}
    client = make_test_lsp_client()
    command = (prefix or []) + SERVER + (["--model", model_flag] if model_flag else [])
    await client.start_io(*command, env={**os.environ, **env} if env else None)
    try:
        result = await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(capabilities=caps, initialization_options=options, root_uri=root_uri)
            ),
            60,
        )
        client.init_result = result
        yield client
        await asyncio.wait_for(client.shutdown_session(), 30)
    finally:
        server = client._server
        if server is not None and server.returncode is None:  # a failed test: don't wait for exit
            await asyncio.sleep(0.5)
            if server.returncode is None:
                server.kill()
        await client.stop()


def open_doc(client, uri: str, text: str, language: str = "python", version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


async def inline(client, uri: str, line: int, character: int, invoked: bool = False) -> types.InlineCompletionList:
    return await asyncio.wait_for(
        client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
                ),
            )
        ),
        120,
    )


async def complete_at(client, uri: str, line: int, character: int) -> types.CompletionList:
    return await asyncio.wait_for(
        client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
            )
        ),
        120,
    )


def completion_logs(client) -> list[str]:
    return [m.message for m in client.log_messages if "completion " in m.message]


async def held(client, name: str = "token", seconds: float = 120) -> None:
    """Wait until the server says a request is held at fault point `name` (SOKUJI_FAULTS
    "hold:name@n", lsp_server/faults.py): it is in flight, at any model speed."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not any(f"holding at {name!r}" in m.message for m in client.log_messages):
        assert loop.time() - start < seconds, f"no request held at {name!r}: {[m.message for m in client.log_messages]}"
        await asyncio.sleep(0.02)


async def cancel_when_held(client, uri: str, line: int, character: int, msg_id: str) -> None:
    """Send an inline completion, cancel it once the server holds it mid-decode (the server
    runs with SOKUJI_FAULTS="hold:token@n"), and check the one answer it gets is the
    cancellation."""
    from pygls.exceptions import JsonRpcRequestCancelled

    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)
    )
    await held(client)  # decoding is under way, and stays so until cancelled
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    try:
        await asyncio.wait_for(pending, 30)
    except JsonRpcRequestCancelled:
        return
    raise AssertionError("the cancelled request was answered with a result")


def insert(client, uri: str, version: int, line: int, character: int, text: str) -> None:
    """didChange typing `text` at (line, character), as an editor sends it."""
    at = types.Position(line=line, character=character)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)],
    ))


def replace(client, uri: str, version: int, line: int, start: int, end: int, text: str) -> None:
    """didChange replacing characters [start, end) of a line with `text`, as an editor sends it."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, start), types.Position(line, end)), text=text)]))


async def stats(client) -> dict:
    return await asyncio.wait_for(
        client.workspace_execute_command_async(types.ExecuteCommandParams(command="sokuji.stats")), 30
    )


async def wait_stat(client, key: str, done, seconds: float = 30) -> float:
    """Poll sokuji.stats until done(stats[key]); returns the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < seconds:
        if done((await stats(client))[key]):
            return loop.time() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} never got there in {seconds} s: {await stats(client)}")
