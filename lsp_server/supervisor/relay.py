"""The relay between the editor and the real server (a child process speaking LSP on its
stdio). Messages pass as bytes; the relay reads only their envelope, keeps what a restart
needs (replay.py), and when the child dies without being asked to:

- answers every request in flight (completions empty, others RequestFailed), ends the
  progress the child had begun and tells the user once (window/showMessage);
- restarts the child in the mode policy.py picks and replays the state; the replayed
  responses are swallowed, and client messages that arrive meanwhile wait for the new child;
- keeps ids consistent: the child's requests to the client carry the relay's own ids (a
  late answer for a dead child goes nowhere), its progress tokens get the restart's suffix,
  and a $/cancelRequest for a request the relay already answered is dropped.

Threads: one reads the client, one per child reads its stdout and one its activity pipe,
one per child writes its stdin (so that nothing holding the state lock ever blocks on a
pipe). The state lock guards everything below; writes to the client have their own lock.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

import msgspec

from .. import supervised
from . import crashlog
from .framing import frame, read_message
from .policy import Caps, Policy
from .replay import KEPT, Replay

log = logging.getLogger("sokuji.supervisor")
REQUEST_FAILED = -32803  # LSP's RequestFailed
EMPTY = {"textDocument/inlineCompletion": {"items": []},  # an error would pop up in VS Code
         "textDocument/completion": {"isIncomplete": False, "items": []}}
_encode = msgspec.json.Encoder()


class Envelope(msgspec.Struct):
    """What the relay reads of every message; params and result stay raw unless needed."""

    id: Any = msgspec.UNSET
    method: Any = msgspec.UNSET
    params: msgspec.Raw = msgspec.Raw(b"null")
    result: msgspec.Raw = msgspec.Raw(b"null")


_envelope = msgspec.json.Decoder(Envelope)


def _read(body: bytes) -> Envelope | None:
    """The envelope (invalid UTF-8 read as the server reads it, with U+FFFD); None for what
    is not a JSON-RPC message, which the child answers as it would have."""
    for attempt in (body, body.decode("utf-8", "replace").encode()):
        try:
            return _envelope.decode(attempt)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return None


class Child:
    """One server process, its stdin fed by a writer thread, its activity read by another."""

    def __init__(self, argv: list[str], env: dict[str, str], restarts: int) -> None:
        self.restarts = restarts  # how many restarts before this one (0: the first child)
        read_end, write_end = os.pipe()
        env = {**env, supervised.ACTIVITY_ENV: str(write_end)}
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     pass_fds=(write_end,))
        os.close(write_end)
        self.in_model = False
        self.serving = False  # it answered initialize: a working server, worth restarting
        self.caps: Caps | None = None
        self.tokens: set[Any] = set()  # progress tokens it created
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.activity = threading.Thread(target=self._watch, args=(read_end,), daemon=True, name="sokuji-activity")
        self.activity.start()
        threading.Thread(target=self._feed, daemon=True, name="sokuji-feed").start()

    def send(self, body: bytes) -> None:
        self._inbox.put(body)

    def close_input(self) -> None:
        self._inbox.put(None)

    def _feed(self) -> None:
        stdin = self.proc.stdin
        try:
            while (body := self._inbox.get()) is not None:
                stdin.write(frame(body))
                if self._inbox.empty():
                    stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child is gone: its requests are answered when its exit is seen
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _watch(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                word, *rest = line.decode(errors="replace").split()
                if word in ("model", "idle"):
                    self.in_model = word == "model"
                elif word == "caps":
                    fields = dict(part.split("=", 1) for part in rest if "=" in part)
                    self.caps = Caps(gpu=fields.get("gpu") == "1", plain=fields.get("plain") == "1")

    def token(self, token: Any) -> Any:
        """The client-visible name of a progress token this child created."""
        return token if self.restarts == 0 else f"{token}~{self.restarts}"


class Relay:
    def __init__(self, client_in: BinaryIO, client_out: BinaryIO, argv: list[str],
                 env: dict[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._in, self._out = client_in, client_out
        self._argv, self._env = argv, dict(os.environ if env is None else env)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._out_lock = threading.Lock()
        self.replay = Replay()
        self.policy = Policy()
        self.crashes = 0
        self._caps = Caps()
        self._in_flight: dict[Any, str] = {}  # client request id -> method, until answered
        self._server_requests: dict[str, tuple[Child, Any]] = {}  # relay id -> (child, its id)
        self._swallow: set[str] = set()  # ids of replayed requests
        self._begun: set[Any] = set()  # client-visible progress tokens begun, not ended
        self._queue: list[bytes] = []  # client messages for the next child
        self._next_id = 0
        self._shutdown = self._exit = self._client_gone = False
        self._live = False
        self._finished = threading.Event()
        self.returncode = 0
        self.child = self._start()

    # -- the whole session ---------------------------------------------------------------

    def run(self) -> int:
        threading.Thread(target=self._pump_client, daemon=True, name="sokuji-client").start()
        self._finished.wait()
        return self.returncode

    def _start(self) -> Child:
        env = {**self._env, supervised.MODE_ENV: self.policy.mode, supervised.CRASHES_ENV: str(self.crashes)}
        child = Child(self._argv, env, self.crashes)
        threading.Thread(target=self._pump_child, args=(child,), daemon=True, name="sokuji-child").start()
        self._live = True
        return child

    def _id(self) -> str:
        self._next_id += 1
        return f"sokuji-relay-{self._next_id}"

    def _to_client(self, body: bytes) -> None:
        with self._out_lock:
            try:
                self._out.write(frame(body))
                self._out.flush()
            except (OSError, ValueError):
                pass  # the editor is gone; its end of the input tells the rest

    # -- client -> child -----------------------------------------------------------------

    def _pump_client(self) -> None:
        while (body := read_message(self._in)) is not None:
            with self._lock:
                try:
                    self._from_client(body)
                except Exception:  # a bug here must not end the session: pass the message on
                    log.exception("supervisor: could not read a client message; passed on as it was")
                    self._forward(body)
        with self._lock:
            self._client_gone = True
            self.child.close_input()  # the child exits as it does when the editor goes
            if not self._live:
                self._finish(0)

    def _from_client(self, body: bytes) -> None:
        env = _read(body)
        if env is None:
            return self._forward(body)
        method = env.method if isinstance(env.method, str) else None
        if method is None:  # a response to the child's request
            return self._answered(env, body)
        if env.id is not msgspec.UNSET:
            self._in_flight[env.id] = method
            if method == "initialize":
                self.replay.initialize = _params(env)
            self._shutdown |= method == "shutdown"
        elif method == "$/cancelRequest":
            if _params(env).get("id") not in self._in_flight:
                return None  # answered already (by the relay, after a crash)
        elif method == "exit":
            self._exit = True
            if not self._live:  # no server to pass it to (it died, shut down or restarting)
                return self._finish(0 if self._shutdown else 1)
        elif method in KEPT:
            return self._keep(method, env, body)
        return self._forward(body)

    def _keep(self, method: str, env: Envelope, body: bytes) -> None:
        """A notification the replay rebuilds: the server has it first (keeping the copy of a
        10 MB buffer, ~0.1 s, overlaps its work); while one restarts, the replay brings it."""
        if self._live:
            self.child.send(body)
        if not self.replay.client_notification(method, _params(env)) and not self._live:
            self._forward(body)  # malformed: the new server answers it as this one would have

    def _forward(self, body: bytes) -> None:
        """To the server, or, while one restarts, to the queue the new one gets after the replay."""
        if self._live:
            self.child.send(body)
        else:
            self._queue.append(body)

    def _answered(self, env: Envelope, body: bytes) -> None:
        target = self._server_requests.pop(env.id, None) if isinstance(env.id, str) else None
        if target is None or target[0] is not self.child or not self._live:
            return  # for a child that died
        message = msgspec.json.decode(body)
        message["id"] = target[1]
        self.child.send(_encode.encode(message))

    # -- child -> client -----------------------------------------------------------------

    def _pump_child(self, child: Child) -> None:
        stdout = child.proc.stdout
        while (body := read_message(stdout)) is not None:
            with self._lock:
                try:
                    out = self._from_child(child, body)
                except Exception:
                    log.exception("supervisor: could not read a server message; passed on as it was")
                    out = body
            if out is not None:
                self._to_client(out)
        child.proc.wait()
        child.activity.join(5)  # what it said last, before it died
        self._child_exited(child)

    def _from_child(self, child: Child, body: bytes) -> bytes | None:
        if child is not self.child:
            return None
        env = _read(body)
        if env is None:
            return body
        method = env.method if isinstance(env.method, str) else None
        if method is None:  # a response
            if env.id in self._swallow:
                self._swallow.discard(env.id)
                return None
            if self._in_flight.pop(env.id, None) == "initialize":
                self.replay.server_chose(_capabilities(env))
            child.serving = True
            return body
        if env.id is not msgspec.UNSET:  # the child's request to the client: the relay's id
            message = msgspec.json.decode(body)
            relay_id = self._id()
            self._server_requests[relay_id] = (child, message["id"])
            message["id"] = relay_id
            if method == "window/workDoneProgress/create" and isinstance(message.get("params"), dict):
                child.tokens.add(message["params"].get("token"))
                message["params"]["token"] = child.token(message["params"].get("token"))
            return _encode.encode(message)
        if method == "$/progress":
            return self._progress(child, body)
        return body

    def _progress(self, child: Child, body: bytes) -> bytes:
        message = msgspec.json.decode(body)
        params = message.get("params") or {}
        if params.get("token") not in child.tokens:
            return body  # the client's own token
        token = params["token"] = child.token(params["token"])
        kind = (params.get("value") or {}).get("kind")
        if kind == "begin":
            self._begun.add(token)
        elif kind == "end":
            self._begun.discard(token)
        return body if child.restarts == 0 else _encode.encode(message)

    # -- the child's end -----------------------------------------------------------------

    def _child_exited(self, child: Child) -> None:
        code = child.proc.returncode
        with self._lock:
            if child is not self.child:
                return
            self._live = False
            if self._exit or self._client_gone:
                return self._finish(code if code >= 0 else 1)
            if code > 0 and not child.serving:  # it never started (a broken install): restarting would loop
                log.error("sokuji: the server exited with status %d before it answered", code)
                self._answer_in_flight(code, everything=True)
                return self._finish(code)
            if self._shutdown:  # it died on the way out: the editor's exit ends the session
                self._answer_in_flight(code)
                return self._finish(0) if self._exit else None
            self.crashes += 1
            if child.caps is not None:
                self._caps = child.caps
            decision = self.policy.crashed(child.in_model, self._caps)
            self._tell(code, child.in_model, decision)  # before the answers: the editor reads why first
            self._answer_in_flight(code)
        self._sleep(decision.delay)
        with self._lock:
            if self._client_gone:
                return self._finish(0)
            self._restart()

    def _answer_in_flight(self, code: int, everything: bool = False) -> None:
        why = f"sokuji: the server crashed ({_signal_name(code)}) and is restarting; try again"
        for msg_id, method in list(self._in_flight.items()):
            if method == "initialize" and not everything:
                continue  # the new child answers it (the replay sends it again with this id)
            del self._in_flight[msg_id]
            if method in EMPTY:
                reply = {"jsonrpc": "2.0", "id": msg_id, "result": EMPTY[method]}
            elif method == "shutdown":
                reply = {"jsonrpc": "2.0", "id": msg_id, "result": None}
            else:
                reply = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": REQUEST_FAILED, "message": why}}
            self._to_client(_encode.encode(reply))
        for token in self._begun:
            end = {"kind": "end", "message": "the server crashed; restarting"}
            self._to_client(_encode.encode({"jsonrpc": "2.0", "method": "$/progress",
                                            "params": {"token": token, "value": end}}))
        self._begun.clear()

    def _tell(self, code: int, in_model: bool, decision) -> None:
        where = "inside the model (llama.cpp)" if in_model else "outside the model"
        then = {"normal": "restarting it", "plainBuffers": "restarting it without extra buffer types (no AMX, no repacking)",
                "cpu": "restarting it without GPU offload", "noModel": "restarting it without a model: diagnostics and "
                "checked fixes go on, completions are off"}[decision.mode]
        if not decision.stepped and decision.mode != "normal":
            then = f"restarting it (still {decision.mode})"
        message = f"sokuji: the server crashed ({_signal_name(code)}) {where}; {then}."
        log.error("%s Crash %d, restart in %.1f s.", message, self.crashes, decision.delay)
        crashlog.record(_signal_name(code), in_model, decision.mode, decision.stepped)
        self._to_client(_encode.encode({"jsonrpc": "2.0", "method": "window/showMessage",
                                        "params": {"type": 1, "message": message}}))

    def _restart(self) -> None:
        self.child = self._start()
        init_id = next((i for i, m in self._in_flight.items() if m == "initialize"), None)
        if init_id is None:
            init_id = self._id()
            self._swallow.add(init_id)
        for message in self.replay.messages(init_id):
            self.child.send(_encode.encode(message))
        for body in self._queue:
            self.child.send(body)
        self._queue.clear()
        if self._client_gone or self._exit:
            self.child.close_input()

    def _finish(self, code: int) -> None:
        self.returncode = code
        self._finished.set()


def _params(env: Envelope) -> dict[str, Any]:
    try:
        params = msgspec.json.decode(env.params)
    except msgspec.DecodeError:
        return {}
    return params if isinstance(params, dict) else {}


def _capabilities(env: Envelope) -> Any:
    try:
        result = msgspec.json.decode(env.result)
    except msgspec.DecodeError:
        return None
    return result.get("capabilities") if isinstance(result, dict) else None


def _signal_name(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
