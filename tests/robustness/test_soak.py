"""Soak (part of the robustness issue): one real server with the real model, thousands of
mixed requests and edits over many documents, a good share of them cancelled, in bursts as
an editor sends them. Every request is answered exactly once, the server never falls over,
it ends up holding exactly the text the client holds, and its memory stays bounded.

Bounded in count (the constants below) and in time (every burst must settle within
SETTLE_S); about 1-2 minutes on 2 CPU cores. The figures are printed (`pytest -s`)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import sysconfig
import time
from pathlib import Path

from lsprotocol import types

from ..helpers.e2e import capabilities, open_doc, session
from ..helpers.lsp_load import Ledger, TextModel, assert_server_text, change_params, rss_kib, unexpected_log_errors

SEED = 20250605
NUM_DOCS = 32  # 24 Python files from the standard library, 8 generated JavaScript files
ROUNDS = int(os.environ.get("SOAK_ROUNDS", 50))  # bursts
EDITS_PER_ROUND = 60  # didChange messages per burst
REQUESTS_PER_ROUND = 45  # requests per burst
WARM_ROUNDS = 10  # memory is measured from the end of these (every kind of request has run by then)
LATE_ROUNDS = 20  # ... and over the last ones, when the bounded caches are full
CANCEL_NOW = 0.2  # share of requests cancelled right after they are sent
CANCEL_LATER = 0.15  # ... and cancelled 10-300 ms later
MAX_LINES = 160  # of each standard-library file
VERBOSE = bool(os.environ.get("SOAK_VERBOSE"))  # per-burst timings, the slowest model calls
SETTLE_S = 180  # a burst whose requests are not all answered by then fails the test
# Memory. What grows with use is bounded: the per-file KV states (kvCacheMb = 64 MiB), the
# suggestion cache (by count), and llama.cpp's logits and compute buffers, which a fix's scoring
# of repairs (logits at every position: ~2 MiB per token at Gemma's 262k vocabulary, measured)
# grows to the longest repair scored so far, at most a batch of 512 tokens. So from the warm-up
# on, the resident set may grow by at most the KV budget plus 1 GiB plus slack. In the last
# LATE_ROUNDS bursts (~2,000 messages) repairs are not scored (their resolves are cancelled as
# soon as sent) and the caches are full: there the resident set must level off, or something
# leaks per request.
RSS_GROWTH_MAX_KIB = (64 + 1024 + 64) * 1024
RSS_LATE_GROWTH_MAX_KIB = 48 * 1024

OPTIONS = {"maxTokens": 4, "contextBudget": 256, "timeBudgetMs": 2000, "kvCacheMb": 64, "kvCachePersist": False,
           "diagnostics": True, "fixTimeBudgetMs": 300}
TYPED = ["x", "self.", "return ", "(", ")", ":", " = ", "if ", "n", "value", ", ", "[0]", "1", "\"", "#", "  ",
         "é", "日本", "😀", "λ", "foo_bar", ".append(", "None", "{", "}", ";"]


def _python_sources() -> list[tuple[str, str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if 2_000 < p.stat().st_size < 200_000)
    step = max(1, len(files) // 24)
    out = []
    for path in files[::step][:24]:
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r", "")
        out.append((path.name, "\n".join(text.split("\n")[:MAX_LINES]) + "\n"))
    return out


def _javascript(i: int, rng: random.Random) -> str:
    parts = [f"// generated module {i}: café, 日本語, 🎉\n", "import { readFile } from 'node:fs/promises';\n\n"]
    for k in range(rng.randint(6, 12)):
        name = f"item{i}_{k}"
        parts.append(
            f"export class Store{k} {{\n  constructor(items = []) {{\n    this.items = items;\n    this.label = '{name} ✓';\n  }}\n\n"
            f"  add(value) {{\n    this.items.push(value);\n    return this.items.length;\n  }}\n}}\n\n"
            f"export async function load{k}(path) {{\n  const text = await readFile(path, 'utf8');\n"
            f"  return text.split('\\n').map((line) => line.trim()).filter(Boolean);\n}}\n\n")
    return "".join(parts)


class Doc:
    def __init__(self, uri: str, language: str, text: str, eol: str) -> None:
        self.uri, self.language, self.eol = uri, language, eol
        self.model = TextModel(text)
        self.version = 1
        self.open = True


def _documents(rng: random.Random) -> list[Doc]:
    docs = []
    for i, (name, text) in enumerate(_python_sources()):
        eol = "\r\n" if i % 8 == 3 else "\n"  # a few Windows files
        if i % 5 == 0:
            text = "# -*- coding: utf-8 -*- café 日本語 🎉\n" + text
        docs.append(Doc(f"file:///soak/py/{i:02d}_{name}", "python", text.replace("\n", eol), eol))
    for i in range(NUM_DOCS - len(docs)):
        docs.append(Doc(f"file:///soak/js/mod{i}.js", "javascript", _javascript(i, rng), "\n"))
    return docs


def _position(rng: random.Random, doc: Doc) -> tuple[int, int]:
    """A valid position (between two characters) on a random line."""
    spans = doc.model.line_spans()
    line = rng.randrange(len(spans))
    start, end = spans[line]
    return doc.model.position(rng.randint(start, end))


def _edit(rng: random.Random, doc: Doc) -> list[tuple[str, tuple | None, tuple | None]]:
    """One editor-like change: typing, backspace, a new line, a paste, a cut, a multi-cursor
    edit or (rarely) the whole document from a formatter."""
    m = doc.model
    kind = rng.random()
    if kind < 0.40:  # typing
        pos = _position(rng, doc)
        return [(rng.choice(TYPED), pos, pos)]
    if kind < 0.60:  # backspace (joins lines at a line start)
        pos = _position(rng, doc)
        off = m.offset(*pos)
        if off == 0:
            return [("", pos, pos)]
        before = off - 2 if m.text[off - 2 : off] == "\r\n" else off - 1
        return [("", m.position(before), pos)]
    if kind < 0.72:  # new line with the indentation of the line
        pos = _position(rng, doc)
        start, end = m.line_spans()[pos[0]]
        line = m.text[start:end]
        return [(doc.eol + line[: len(line) - len(line.lstrip())], pos, pos)]
    spans = m.line_spans()
    if kind < 0.82:  # paste a few lines of the document at a line start
        a = rng.randrange(len(spans))
        b = min(len(spans) - 1, a + rng.randint(1, 5))
        block = m.text[spans[a][0] : spans[b][0]]
        at = (rng.randrange(len(spans)), 0)
        return [(block, at, at)]
    if kind < 0.92:  # cut a few lines
        a = rng.randrange(len(spans))
        b = min(len(spans) - 1, a + rng.randint(1, 4))
        return [("", (a, 0), (b, 0))]
    if kind < 0.99:  # multi-cursor: two insertions, the later one first (each applies to the result of the one before)
        p, q = sorted([_position(rng, doc), _position(rng, doc)])
        word = rng.choice(TYPED)
        return [(word, q, q), (word, p, p)]
    # a formatter: the whole document, trailing whitespace removed
    return [(doc.eol.join(line.rstrip(" \t") for line in m.text.split(doc.eol)), None, None)]


def _send_edit(client, doc: Doc, changes) -> None:
    for text, start, end in changes:
        doc.model.apply(text, start, end)
    doc.version += 1
    client.text_document_did_change(change_params(doc.uri, doc.version, changes))


async def test_soak_thousands_of_requests_and_edits_with_cancellations(monkeypatch):
    rng = random.Random(SEED)
    docs = _documents(rng)
    assert len(docs) == NUM_DOCS >= 30
    stderr_lines: list[bytes] = []

    async def collect_stderr(server):  # the server's log, kept to check for tracebacks
        while (line := await server.stderr.readline()) != b"":
            stderr_lines.append(line)

    monkeypatch.setattr("pytest_lsp.client.forward_stderr", collect_stderr)
    started = time.monotonic()
    async with session(capabilities(inline=True), OPTIONS) as client:
        pid = (await client.workspace_execute_command_async(  # the server behind the supervisor
            types.ExecuteCommandParams(command="sokuji.stats", arguments=[])))["pid"]
        ledger = Ledger(client, "soak")
        loop = asyncio.get_running_loop()
        for doc in docs:
            open_doc(client, doc.uri, doc.model.text, doc.language)
        actions: list[types.CodeAction] = []
        edits = changes = opens = 0
        rss_samples = []  # VmRSS after each burst

        def request(doc: Doc, kind: float | None = None) -> None:
            """Completions in the file being typed in; code actions (a few resolved: the
            model rewrites code, the expensive part), prompts and stats anywhere."""
            kind = rng.random() if kind is None else kind
            if kind < 0.45:
                doc = active if doc.open else doc  # (a closed one: answered with no items)
                pos = _position(rng, doc)
                msg_id = ledger.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=doc.uri), position=types.Position(*pos),
                    context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
            elif kind < 0.67:
                a = _position(rng, doc)
                b = a if rng.random() < 0.5 else (a[0] + rng.randint(0, 2), rng.randint(0, 20))  # a small selection
                diags = list(client.diagnostics.get(doc.uri, []))
                chosen = rng.sample(diags, min(len(diags), rng.randint(0, 2)))
                msg_id = ledger.request(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=doc.uri),
                    range=types.Range(start=types.Position(*a), end=types.Position(*b)),
                    context=types.CodeActionContext(diagnostics=chosen)))
            elif kind < 0.70 and actions:
                msg_id = ledger.request(types.CODE_ACTION_RESOLVE, rng.choice(actions))
                if late:
                    ledger.cancel(msg_id)
                    return
                if rng.random() < 0.6:  # the user moved on
                    loop.call_later(rng.uniform(0.0, 0.1), ledger.cancel, msg_id)
                    return
            elif kind < 0.85:
                pos = _position(rng, doc)
                msg_id = ledger.request(types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(
                    command="sokuji.context", arguments=[doc.uri, *pos]))
            else:
                msg_id = ledger.request(types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(
                    command="sokuji.stats", arguments=[]))
            roll = rng.random()
            if roll < CANCEL_NOW:
                ledger.cancel(msg_id)
            elif roll < CANCEL_NOW + CANCEL_LATER:
                loop.call_later(rng.uniform(0.01, 0.3), ledger.cancel, msg_id)

        for rnd in range(ROUNDS):
            focus = rng.sample(docs, 3)  # the files being edited; completions in the first
            active = focus[0]
            late = rnd >= ROUNDS - LATE_ROUNDS
            ops = ["edit"] * EDITS_PER_ROUND + ["request"] * REQUESTS_PER_ROUND
            rng.shuffle(ops)
            for op in ops:
                doc = rng.choice(focus) if rng.random() < 0.8 else rng.choice(docs)
                if not doc.open:
                    continue
                if op == "edit":
                    change = _edit(rng, doc)
                    _send_edit(client, doc, change)
                    edits += 1
                    changes += len(change)
                else:
                    request(doc)
            if rnd % 5 == 4:  # a file closed and opened again (requests in between answer empty)
                doc = rng.choice([d for d in docs if d not in focus])
                client.text_document_did_close(types.DidCloseTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=doc.uri)))
                doc.open = False
                request(doc, kind=0.0)  # an inline completion: answered with no items
                doc.version = 1
                open_doc(client, doc.uri, doc.model.text, doc.language)
                doc.open = True
                opens += 1
            results = await ledger.settle(SETTLE_S)
            if VERBOSE:
                print(f"burst {rnd}: {time.monotonic() - started:.1f} s, RSS {rss_kib(pid)}, slowest {ledger.slowest()}", flush=True)
                ledger.latency.clear()
            assert client._server.returncode is None, f"the server exited in round {rnd}"
            for msg_id, result in results.items():
                if ledger.sent[msg_id] == types.TEXT_DOCUMENT_CODE_ACTION and result:
                    actions.extend(result)
            actions = actions[-50:]
            rss_samples.append(rss_kib(pid)["VmRSS"])

        await asyncio.sleep(0.5)  # late cancels land; a duplicate answer would arrive now
        if VERBOSE:
            timed = sorted(((int(m.group(1)), msg.message) for msg in client.log_messages
                            if (m := re.search(r"(\d+) ms$", msg.message))), reverse=True)
            print(f"model calls: {len(timed)}, {sum(t for t, _ in timed)} ms; the slowest:", *timed[:10], sep="\n")
        stats = await asyncio.wait_for(client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.stats", arguments=[])), 60)
        end = rss_kib(pid)
        soak_s = time.monotonic() - started
        warm_rss, late_rss = rss_samples[min(WARM_ROUNDS, ROUNDS) - 1], rss_samples[max(0, ROUNDS - LATE_ROUNDS - 1)]

        figures = ledger.figures()
        print(f"\nsoak: {NUM_DOCS} documents, {edits} didChange messages ({changes} changes), {opens} close+reopen, "
              f"{figures['sent']} requests -> {figures['sent'] + edits} messages; "
              f"answered {figures['answered']} (results {figures['results']}, RequestCancelled "
              f"{figures['cancelledAnswers']}, errors {figures['errors']}); cancels sent {figures['cancelsSent']}; "
              f"wall {soak_s:.1f} s; completions served {stats['requestsServed']}, KV hits/misses/evictions "
              f"{stats['kvHits']}/{stats['kvMisses']}/{stats['kvEvictions']}, KV held {stats['kvBytesHeld'] >> 20} MiB; "
              f"RSS after burst {WARM_ROUNDS} {warm_rss // 1024} MiB, after burst {ROUNDS - LATE_ROUNDS} {late_rss // 1024} MiB, "
              f"end {end['VmRSS'] // 1024} MiB, peak (VmHWM) {end['VmHWM'] // 1024} MiB")
        ledger.check()
        assert stats["crashes"] == 0  # the supervisor restarted no server
        # the server holds exactly the client's text of every document
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"sokuji": {**OPTIONS, "contextBudget": 4000}}))  # wide windows: fewer calls
        walk_calls = 0
        for doc in docs:
            walk_calls += await assert_server_text(client, doc.uri, doc.model)
        print(f"text of every document verified with {walk_calls} sokuji.context calls")
        assert figures["sent"] + edits >= 5000 and figures["cancelsSent"] >= 0.25 * figures["sent"]
        assert stats["kvBytesHeld"] <= stats["kvBudgetBytes"] == 64 << 20
        assert end["VmRSS"] - warm_rss < RSS_GROWTH_MAX_KIB, rss_samples
        assert end["VmRSS"] - late_rss < RSS_LATE_GROWTH_MAX_KIB, rss_samples
        assert not client.error
        assert not [m for m in client.messages if m.type == types.MessageType.Error], client.messages
    bad = unexpected_log_errors(b"".join(stderr_lines).decode("utf-8", "replace"))
    assert not bad, f"{len(bad)} errors in the server's log, e.g.:\n" + "\n".join(bad[:3])

