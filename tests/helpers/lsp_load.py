"""Helpers for the load tests (tests/robustness/test_soak.py, tests/robustness/test_fuzz.py): a client-side model of
each document's text with LSP's position rules, requests sent in order and counted per id,
the server's memory, and a check through the real protocol that the server holds the text the
client holds."""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import re
import time
from collections import Counter
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled

_BREAK = re.compile(r"\r\n|\r|\n")  # LSP: a line ends at \n, \r\n or \r


def utf16_len(s: str) -> int:
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


class TextModel:
    """A document as the client holds it, changed as the LSP specification says: positions in
    UTF-16 code units; a character past the end of its line means the end of the line; a line
    past the end of the document means its end; a column inside a surrogate pair means before
    that character (the server's documented rule)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def line_spans(self) -> list[tuple[int, int]]:
        """(start, end of content) of each line, code-point offsets."""
        spans, start = [], 0
        for m in _BREAK.finditer(self.text):
            spans.append((start, m.start()))
            start = m.end()
        spans.append((start, len(self.text)))
        return spans

    def offset(self, line: int, character: int) -> int:
        spans = self.line_spans()
        if line >= len(spans):
            return len(self.text)
        start, end = spans[line]
        used = 0
        for i in range(start, end):
            used += 2 if ord(self.text[i]) > 0xFFFF else 1
            if used > character:
                return i
        return end

    def position(self, offset: int) -> tuple[int, int]:
        spans = self.line_spans()
        starts = [s for s, _ in spans]
        line = bisect.bisect_right(starts, offset) - 1
        return line, utf16_len(self.text[starts[line] : offset])

    def apply(self, text: str, start: tuple[int, int] | None = None, end: tuple[int, int] | None = None) -> None:
        if start is None or end is None:
            self.text = text
            return
        a, b = self.offset(*start), self.offset(*end)
        a, b = min(a, b), max(a, b)
        self.text = self.text[:a] + text + self.text[b:]


def change_params(uri: str, version: int, changes: list[tuple[str, tuple | None, tuple | None]]) -> types.DidChangeTextDocumentParams:
    content = []
    for text, start, end in changes:
        if start is None:
            content.append(types.TextDocumentContentChangeWholeDocument(text=text))
        else:
            content.append(types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text))
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=content)


class Ledger:
    """Requests sent in order (pygls' synchronous send: the request leaves before the next
    edit, as an editor sends it), with every response counted per id."""

    def __init__(self, client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.sent: dict[str, str] = {}  # id -> method
        self.cancelled: set[str] = set()
        self.responses: Counter[str] = Counter()
        self.outcomes: dict[str, str] = {}  # id -> "result" | "cancelled" | "error: ..."
        self.pending: dict[str, asyncio.Future] = {}
        self.latency: dict[str, float] = {}  # id -> seconds from sending to the answer
        self._n = 0
        protocol = client.protocol
        handle = protocol._handle_response

        def counting(msg_id, result=None, error=None):
            self.responses[msg_id] += 1
            return handle(msg_id, result, error)

        protocol._handle_response = counting

    def request(self, method: str, params, raw: bool = False) -> str:
        """Send a request; `raw`: `params` is sent as the JSON it is, whatever the method
        expects (pygls would not serialize a dict for a method it knows)."""
        self._n += 1
        msg_id = f"{self.prefix}-{self._n}"
        self.sent[msg_id] = method
        sent_at = time.monotonic()
        protocol = self.client.protocol
        if raw:
            future = concurrent.futures.Future()
            protocol._request_futures[msg_id] = future
            protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        else:
            future = protocol.send_request(method, params, msg_id=msg_id)
        future.add_done_callback(lambda _: self.latency.__setitem__(msg_id, time.monotonic() - sent_at))
        self.pending[msg_id] = asyncio.wrap_future(future)
        return msg_id

    def cancel(self, msg_id: str) -> None:
        self.cancelled.add(msg_id)
        self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))

    async def settle(self, timeout: float) -> dict[str, object]:
        """Wait for every pending request; a request still unanswered after `timeout` seconds
        fails the test (it would hang an editor). Returns id -> result of those settled."""
        pending, self.pending = self.pending, {}
        if not pending:
            return {}
        done, not_done = await asyncio.wait(pending.values(), timeout=timeout)
        if not_done:
            missing = [i for i, f in pending.items() if f in not_done]
            raise AssertionError(f"{len(missing)} requests unanswered after {timeout} s: "
                                 + ", ".join(f"{i} {self.sent[i]}" for i in missing[:10]))
        results = {}
        for msg_id, fut in pending.items():
            exc = fut.exception()
            if exc is None:
                self.outcomes[msg_id] = "result"
                results[msg_id] = fut.result()
            elif isinstance(exc, JsonRpcRequestCancelled):
                self.outcomes[msg_id] = "cancelled"
            elif isinstance(exc, JsonRpcException):
                self.outcomes[msg_id] = f"error {exc.code}: {exc}"
            else:
                self.outcomes[msg_id] = f"failure: {exc!r}"
        return results

    def figures(self) -> dict[str, int]:
        kinds = Counter(o if o in ("result", "cancelled") else "error" for o in self.outcomes.values())
        return {"sent": len(self.sent), "answered": len(self.outcomes), "results": kinds["result"],
                "cancelledAnswers": kinds["cancelled"], "errors": kinds["error"], "cancelsSent": len(self.cancelled)}

    def slowest(self) -> dict[str, float]:
        """The slowest answer per method, in seconds."""
        out: dict[str, float] = {}
        for msg_id, seconds in self.latency.items():
            method = self.sent[msg_id]
            out[method] = round(max(out.get(method, 0.0), seconds), 2)
        return out

    def check(self, allowed_errors=lambda msg_id, outcome: False) -> None:
        """Every request answered exactly once; a RequestCancelled only for a request we
        cancelled; no other error unless `allowed_errors` says so."""
        assert set(self.outcomes) == set(self.sent), "some requests never settled"
        twice = {i: n for i, n in self.responses.items() if n != 1 and i in self.sent}
        assert not twice, f"answered more than once: {dict(list(twice.items())[:10])}"
        unknown = {i for i in self.responses if str(i).startswith(self.prefix + "-")} - set(self.sent)
        assert not unknown, f"responses to ids never sent: {sorted(unknown)[:10]}"
        bad = [(i, self.sent[i], o) for i, o in self.outcomes.items()
               if o != "result" and not (o == "cancelled" and i in self.cancelled) and not allowed_errors(i, o)]
        assert not bad, f"{len(bad)} unexpected errors, e.g. {bad[:5]}"


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


async def context_parts(client, uri: str, line: int, character: int) -> tuple[str, str]:
    """(prefix, suffix) of the prompt a completion at this position would use: the lines of
    the server's copy of the document around the position, verbatim."""
    ctx = await asyncio.wait_for(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="sokuji.context", arguments=[uri, line, character])), 120)
    parts = {p["label"].split(" (")[0]: p["text"] for p in ctx["parts"]}
    return parts["file prefix"], parts["suffix"]


async def assert_server_text(client, uri: str, model: TextModel) -> int:
    """The server's text of `uri` equals `model.text`, every character of it: the context a
    completion uses is a run of whole lines (split at \n) around the cursor, the prefix up to
    it and the suffix after it, so walking the cursor up the document from its last line, each
    time to where the last prefix began, shows every line, compared at its place.
    Returns the number of sokuji.context calls it took."""
    text = model.text
    spans = model.line_spans()
    row = len(spans) - 1
    covered_from = len(text)  # text[covered_from:] is verified
    calls = 0
    while True:
        off = spans[row][0]
        prefix, suffix = await context_parts(client, uri, row, 0)
        calls += 1
        start = off - len(prefix)
        assert start >= 0 and text[start:off] == prefix, _differ(uri, f"lines before line {row}", prefix, text[max(0, start):off])
        assert start == 0 or text[start - 1] == "\n", f"{uri}: the server's window before line {row} starts mid-line"
        assert text[off : off + len(suffix)] == suffix, _differ(uri, f"line {row} onwards", suffix, text[off : off + len(suffix)])
        end = off + len(suffix)
        assert end == len(text) or text[end] == "\n", f"{uri}: the server's suffix at line {row} ends mid-line: the texts differ"
        assert end + (end < len(text)) >= covered_from, f"{uri}: the walk left lines {row}.. unchecked"  # (+ the \n after the suffix)
        covered_from = start
        if start == 0:
            return calls
        new_row = model.position(start)[0]
        row = new_row if new_row < row else row - 1  # the prefix ends at the cursor: the next window joins this one


def _differ(uri: str, what: str, server: str, client: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(server, client)) if a != b), min(len(server), len(client)))
    return (f"{uri}: the server's {what} differ from the client's at character {at} of {len(server)} "
            f"(client: {len(client)}):\nserver: {server[max(0, at - 80):at + 80]!r}\nclient: {client[max(0, at - 80):at + 80]!r}")


_RECORD = re.compile(r"^sokuji (DEBUG|INFO|WARNING|ERROR|CRITICAL) ", re.M)
# pygls logs the errors it answers a request with at ERROR, with a traceback
PYGLS_REQUEST_ERRORS = ("Exception occurred for message", "Unable to deserialize message", "Failed to handle request")


def unexpected_log_errors(log: str, allowed_exceptions: tuple[str, ...] = ()) -> list[str]:
    """The server's ERROR records (and tracebacks) other than pygls reporting a request it
    answered with one of `allowed_exceptions` (e.g. "pygls.exceptions.JsonRpcInvalidParams")."""
    starts = [m.start() for m in _RECORD.finditer(log)] + [len(log)]
    bad = [log[: starts[0]][:2000]] if "Traceback" in log[: starts[0]] else []
    for a, b in zip(starts, starts[1:]):
        record = log[a:b]
        if not record.startswith("sokuji ERROR") and not record.startswith("sokuji CRITICAL") and "Traceback" not in record:
            continue
        lines = [ln.lstrip(" |+") for ln in record.splitlines()[1:]]
        pygls_request = any(p in record.splitlines()[0] for p in PYGLS_REQUEST_ERRORS)
        if not (allowed_exceptions and pygls_request and any(ln.startswith(allowed_exceptions) for ln in lines)):
            bad.append(record[:2000])
    return bad
