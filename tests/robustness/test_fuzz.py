"""Fuzzing (part of the robustness issue): hypothesis draws random sequences of LSP messages
(opens, edits with ranges in and out of range and odd text, closes, completions and code
actions at any position, resolves, cancels of requests in flight, commands with random
arguments) and sends them to one real server with the real model. After every example:
every request was answered exactly once and with nothing but a result, a cancellation or the
error its kind of request may get; the server is alive and completes normally; and it holds
exactly the text the client holds.

Bounded: MAX_EXAMPLES examples (env FUZZ_EXAMPLES) within FUZZ_SECONDS, derandomized (the same
ones every run; FUZZ_SEED=n draws others), no shrinking unless FUZZ_SHRINK=1 (on a failure,
shrinking re-runs examples for minutes). About 40 s on 2 idle CPU cores; the figures are
printed (`pytest -s`).

Bugs it found, each with a regression test below: edits after an emoji landed one character off
for clients that list no position encodings; pygls' own copy of each document clamped the
positions of an edit in place (lines split at form feeds, U+0085, U+2028) before sokuji's
handler saw them, so sokuji's text drifted from the editor's, and it popped up "Error in server:
KeyError" for a change to a document not open; a lone CR put text from after the cursor into
the prompt; a "Rewrite selection" resolved after the text shrank failed with an IndexError."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from lsprotocol import types

from lsp_server.context.prompt import Budget, build_prompt
from lsp_server.documents import Document

from ..helpers.e2e import capabilities, open_doc, session, stats
from ..helpers.lsp_load import Ledger, TextModel, assert_server_text, change_params, rss_kib, unexpected_log_errors

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 150))
# ... or fewer: none starts after this many seconds (on 2 idle cores the examples take ~40 s;
# another model process on the same cores makes llama.cpp many times slower)
FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", 120))
MIN_EXAMPLES = 10
MIN_OPS, MAX_OPS = 10, 40  # messages per example
DOCS = 3  # documents per example (fresh URIs each example)
# what pygls logs (with a traceback) when it answers a request whose params do not fit with an error
ALLOWED_EXCEPTIONS = ("pygls.exceptions.JsonRpcInvalidParams", "cattrs.errors.ClassValidationError")
SETTLE_S = 120  # an example whose requests are not all answered by then fails
OPTIONS = {"maxTokens": 4, "contextBudget": 256, "timeBudgetMs": 2000, "kvCacheMb": 64, "kvCachePersist": False,
           "diagnostics": True, "fixTimeBudgetMs": 300}
FIB = "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    \n"
SEEDS = [FIB, "function add(a, b) {\n  return a + b;\n}\n", "x = '😀漢字'\r\ny = x + 1\r\n", ""]
LANGUAGES = ["python", "javascript", "typescript", "rust", "plaintext", "klingon"]
PIECES = ["a", "z", "_", " ", "    ", "\t", "(", ")", "[", "]", "{", "}", ":", "=", "\"", "'", "#", ";", ",", ".",
          "def ", "return ", "if x:", "class C:", "\n", "\r\n", "é", "日本", "😀", "𝔘", "\u0301", "\u2028", "\x00", "\r",
          "\u0085", "\u2029", "\ufeff", "\x0c", "\u200b"]
text_st = st.lists(st.one_of(st.sampled_from(PIECES), st.characters(exclude_categories=("Cs",))), max_size=40).map("".join)
line_st = st.one_of(st.integers(0, 12), st.sampled_from([40, 1000, 2**31 - 1]))
char_st = st.one_of(st.integers(0, 30), st.sampled_from([200, 2**31 - 1]))
pos_st = st.tuples(line_st, char_st)
doc_st = st.integers(0, DOCS - 1)
json_st = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)

open_st = st.tuples(st.sampled_from(SEEDS), text_st, st.sampled_from(LANGUAGES))  # each example opens its documents first
op_st = st.one_of(
    st.tuples(st.just("open"), doc_st, st.sampled_from(SEEDS), text_st, st.sampled_from(LANGUAGES)),
    st.tuples(st.just("change"), doc_st, st.lists(st.one_of(
        st.tuples(text_st, pos_st, pos_st), st.tuples(text_st, st.none(), st.none())), min_size=1, max_size=3)),
    st.tuples(st.just("change"), doc_st, st.lists(st.tuples(text_st, pos_st, pos_st), min_size=1, max_size=3)),  # ranges only
    st.tuples(st.just("close"), doc_st),
    st.tuples(st.just("complete"), doc_st, pos_st),
    st.tuples(st.just("complete"), doc_st, pos_st),
    st.tuples(st.just("inline"), doc_st, pos_st),  # not offered to this client: an error answer
    st.tuples(st.just("action"), doc_st, pos_st, pos_st, st.booleans()),
    st.tuples(st.just("resolve"), st.integers(0, 20), json_st),
    st.tuples(st.just("context"), doc_st, pos_st),
    st.tuples(st.just("command"), st.sampled_from(["sokuji.context", "sokuji.stats", "sokuji.nope"]), st.lists(json_st, max_size=4)),
    st.tuples(st.just("raw"), st.sampled_from(["textDocument/completion", "textDocument/codeAction", "codeAction/resolve"]), json_st),
    st.tuples(st.just("cancel"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("sleep"), st.integers(0, 40)),
)


class LoopThread:
    """A persistent asyncio loop in a background thread: hypothesis runs its examples
    synchronously, each one a coroutine on this loop, all against the same server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Fuzzer:
    def __init__(self, client) -> None:
        self.client = client
        self.ledger = Ledger(client, "fuzz")
        self.examples = 0
        self.skipped = 0  # drawn after the time budget was spent
        self.requests_before = 0
        self.allowed: dict[str, tuple[int, ...]] = {}  # id -> error codes its request may get

    def allowed_error(self, msg_id: str, outcome: str) -> bool:
        return any(outcome.startswith(f"error {code}:") for code in self.allowed.get(msg_id, ()))

    async def example(self, opens: list[tuple], ops: list[tuple]) -> None:
        self.examples += 1
        n = self.examples
        client, ledger = self.client, self.ledger
        uris = [f"file:///fuzz/{n}/doc{i}" + (".py", ".js", ".txt")[i % 3] for i in range(DOCS)]
        models: dict[str, TextModel] = {}
        versions = dict.fromkeys(uris, 0)
        in_flight: list[str] = []
        actions: list = []

        def request(method: str, params, allowed: tuple[int, ...] = (), raw: bool = False) -> str:
            msg_id = ledger.request(method, params, raw)
            self.allowed[msg_id] = allowed
            in_flight.append(msg_id)
            return msg_id

        for op in [("open", d, *o) for d, o in enumerate(opens)] + ops:
            kind = op[0]
            if kind == "open":
                _, d, seed, extra, language = op
                uri, text = uris[d], seed + extra
                versions[uri] += 1
                open_doc(client, uri, text, language, versions[uri])
                models[uri] = TextModel(text)
            elif kind == "change":
                _, d, changes = op
                uri = uris[d]
                versions[uri] += 1
                client.text_document_did_change(change_params(uri, versions[uri], changes))
                if uri in models:  # edits to a document that is not open are ignored
                    for text, start, end in changes:
                        models[uri].apply(text, start, end)
            elif kind == "close":
                uri = uris[op[1]]
                client.text_document_did_close(types.DidCloseTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=uri)))
                models.pop(uri, None)
            elif kind in ("complete", "inline"):
                _, d, (line, char) = op
                doc = types.TextDocumentIdentifier(uri=uris[d])
                if kind == "complete":
                    request(types.TEXT_DOCUMENT_COMPLETION, types.CompletionParams(
                        text_document=doc, position=types.Position(line, char)))
                else:
                    request(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
                        text_document=doc, position=types.Position(line, char),
                        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)),
                        allowed=(-32601,))  # method not found: this client gets textDocument/completion
            elif kind == "action":
                _, d, a, b, with_diags = op
                diags = list(client.diagnostics.get(uris[d], [])) if with_diags else []
                request(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uris[d]),
                    range=types.Range(start=types.Position(*a), end=types.Position(*b)),
                    context=types.CodeActionContext(diagnostics=diags[:3])))
            elif kind == "resolve":
                _, k, data = op
                if actions:
                    action = actions[k % len(actions)]
                else:  # an action this server never made
                    action = types.CodeAction(title="fuzz", data=data if k % 2 else {"uri": uris[0], "range": data})
                request(types.CODE_ACTION_RESOLVE, action)
            elif kind == "context":
                _, d, (line, char) = op
                request(types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(
                    command="sokuji.context", arguments=[uris[d], line, char]),
                    allowed=(-32602,) if uris[d] not in models else ())  # not open: invalid params
            elif kind == "command":
                _, command, args = op
                request(types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(command=command, arguments=args),
                        allowed=(-32602,))
            elif kind == "raw":  # params that do not fit the method: an error answer, never silence
                _, method, params = op
                request(method, params, allowed=(-32602,), raw=True)
            elif kind == "cancel":
                _, k, known = op
                if known and in_flight:
                    ledger.cancel(in_flight[-1 - k % len(in_flight)])  # the latest are likelier in flight
                else:
                    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"never-sent-{k}"))
            elif kind == "sleep":
                await asyncio.sleep(op[1] / 1000)
            if kind in ("action", "sleep"):  # pick up code actions for later resolves
                for msg_id in list(in_flight):
                    fut = ledger.pending.get(msg_id)
                    if fut is not None and fut.done() and not fut.exception() and ledger.sent[msg_id] == types.TEXT_DOCUMENT_CODE_ACTION:
                        actions.extend(fut.result() or [])

        await ledger.settle(SETTLE_S)
        assert client._server.returncode is None, "the server exited"
        ledger.check(self.allowed_error)
        # the server still completes normally (a new prompt each time: no cached answer)
        sentinel = f"file:///fuzz/{n}/sentinel.py"
        open_doc(client, sentinel, f"# example {n}\n" + FIB)
        result = await asyncio.wait_for(client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=sentinel), position=types.Position(4, 4))), SETTLE_S)
        assert result is not None and result.items and result.items[0].text_edit.new_text.strip(), result
        # and holds the client's text of every open document
        for uri, model in models.items():
            await assert_server_text(client, uri, model)
        for uri in [*models, sentinel]:
            client.text_document_did_close(types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uri)))


def test_lone_cr_prompt_is_the_text_around_the_cursor():
    """Regression (found by the fuzzer): a lone \r ends an LSP line but not a row of the
    prompt builder, which took the LSP line for its row and put text from after the cursor
    into the prefix."""
    text = "a = 1\rb = 2\nc = 3\rd = 4\n"
    doc = Document("file:///cr.py", "python", 1, text)
    for line in range(5):
        cursor = doc.cursor(line, 0)
        prompt = build_prompt(doc.snapshot(), cursor, lambda s: len(s) // 3 + 1, Budget(4000))
        assert prompt.prefix == text[: cursor.offset] and prompt.suffix == text[cursor.offset :], line


async def test_regressions_found_by_fuzzing():
    """A client that lists no position encodings gets utf-16 (pygls handed the server an enum
    whose str() is "PositionEncodingKind.Utf16", and columns were counted in code points: an
    edit after an emoji landed one character off). Edits on lines with a form feed or U+0085
    land where the client put them (pygls clamped their columns in place to its own lines).
    A change to a document that is not open is ignored without an "Error in server" message
    (pygls' copy raised KeyError). A selection resolved after the text under it was deleted is
    no internal error (IndexError)."""
    async with session(capabilities(inline=False), OPTIONS) as client:
        assert client.init_result.capabilities.position_encoding in (None, "utf-16")
        uri = "file:///regress/emoji.py"
        model = TextModel("s = '😀' + t\n")
        open_doc(client, uri, model.text)
        for change in [("x", (0, 9), (0, 9)), ("😀", (0, 7), (0, 7)), ("", (0, 4), (0, 8))]:
            model.apply(*change)
            client.text_document_did_change(change_params(uri, 2, [change]))
        client.text_document_did_change(change_params("file:///regress/never-opened.py", 2, [("x", (0, 0), (0, 0))]))
        await assert_server_text(client, uri, model)
        assert model.text == "s = 😀' x+ t\n"  # columns in utf-16 units: the emoji is two
        # A form feed (^L, as in many older sources) or U+0085 ends no LSP line; pygls' copy
        # of the document split its lines there and clamped the edit's column in place.
        uri = "file:///regress/formfeed.py"
        model = TextModel("import os\x0c# section\nx = 1\x85y\n")
        open_doc(client, uri, model.text)
        for change in [("!", (0, 12), (0, 12)), ("?", (1, 4), (1, 9)), ("", (0, 1), (0, 99))]:
            model.apply(*change)
            client.text_document_did_change(change_params(uri, 2, [change]))
            await assert_server_text(client, uri, model)
        assert model.text == "i\nx = ?\n"
        # "Rewrite selection" resolved after the text shrank under the selection: no rows there
        uri = "file:///regress/shrunk.py"
        open_doc(client, uri, FIB + "# more\n" * 6)
        actions = await asyncio.wait_for(client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(6, 0), end=types.Position(9, 0)),
            context=types.CodeActionContext(diagnostics=[]))), 60)
        rewrite = next(a for a in actions if a.kind == types.CodeActionKind.RefactorRewrite)
        client.text_document_did_change(change_params(uri, 2, [("x = 1\n", None, None)]))
        resolved = await asyncio.wait_for(client.code_action_resolve_async(rewrite), 60)
        reason = resolved.disabled.reason if resolved.disabled else ""
        assert "(error:" not in reason, reason  # was "no safe fix found (error: list index out of range)"
        await asyncio.sleep(0.5)  # an error message would have arrived
        assert not [m for m in client.messages if m.type == types.MessageType.Error], client.messages


@pytest.fixture(scope="module")
def fuzz_server():
    """One server for the whole run, on a loop of its own; its stderr is kept."""
    runner = LoopThread()
    stderr_lines: list[bytes] = []

    async def collect_stderr(server):
        while (line := await server.stderr.readline()) != b"":
            stderr_lines.append(line)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pytest_lsp.client.forward_stderr", collect_stderr)
        cm = session(capabilities(inline=False), OPTIONS)
        client = runner.run(cm.__aenter__(), 120)
        try:
            yield runner, client, stderr_lines
        finally:
            try:
                runner.run(cm.__aexit__(None, None, None), 60)
            finally:
                runner.close()


def test_fuzz_random_message_sequences(fuzz_server):
    runner, client, stderr_lines = fuzz_server
    server_pid = runner.run(stats(client), 60)["pid"]  # the server behind the supervisor
    fuzzer = Fuzzer(client)
    started = time.monotonic()
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("FUZZ_SHRINK") else [])

    other_seed = os.environ.get("FUZZ_SEED")  # other examples than the usual ones (exploring)

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=not other_seed, database=None, phases=phases,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @seed(int(other_seed or 0))
    @given(st.lists(open_st, min_size=DOCS, max_size=DOCS), st.lists(op_st, min_size=MIN_OPS, max_size=MAX_OPS))
    def run_example(opens, ops):
        if time.monotonic() - started > FUZZ_SECONDS:
            fuzzer.skipped += 1
            return
        runner.run(fuzzer.example(opens, ops), SETTLE_S * 3)

    run_example()
    seconds = time.monotonic() - started
    figures = fuzzer.ledger.figures()
    rss = rss_kib(server_pid)
    print(f"\nfuzz: {fuzzer.examples} examples in {seconds:.1f} s ({fuzzer.skipped} more drawn after {FUZZ_SECONDS:.0f} s, "
          f"not run); {figures['sent']} requests, answered "
          f"{figures['answered']} (results {figures['results']}, RequestCancelled {figures['cancelledAnswers']}, "
          f"expected errors {figures['errors']}); cancels sent {figures['cancelsSent']}; "
          f"server RSS {rss['VmRSS'] // 1024} MiB, peak {rss['VmHWM'] // 1024} MiB")
    assert fuzzer.examples + fuzzer.skipped >= MAX_EXAMPLES and fuzzer.examples >= MIN_EXAMPLES
    assert client._server.returncode is None
    assert runner.run(stats(client), 60)["crashes"] == 0  # the supervisor restarted no server
    assert not [m for m in client.messages if m.type == types.MessageType.Error], client.messages
    log = b"".join(stderr_lines).decode("utf-8", "replace")
    if os.environ.get("FUZZ_LOG"):
        open(os.environ["FUZZ_LOG"], "w").write(log)
    bad = unexpected_log_errors(log, ALLOWED_EXCEPTIONS)
    assert not bad, f"{len(bad)} unexpected errors in the server's log, e.g.:\n" + "\n".join(bad[:3])
