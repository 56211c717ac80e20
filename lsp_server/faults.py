"""Fault injection points, for the tests only.

Real faults (llama.cpp raising mid-decode, an engine thread dying, the file watcher's
thread dying) cannot be summoned on demand, so the code calls `point(name)` where they
happen and the tests arm one through the environment of the server they start:

    SOKUJI_FAULTS="decode@2,worker@1"   # raise at the 2nd decode step and the 1st worker job
    SOKUJI_FAULTS="hold:token@2"        # the 2nd generated token waits until its request is cancelled
    SOKUJI_FAULTS="crash:decode@3"      # a real segmentation fault at the 3rd decode step
    SOKUJI_FAULTS="abort:decode@1*2"    # a real abort(), in the first two server processes

`name@n` acts on the n-th time the point is reached, once; a bare `name` every time. A
`hold:` point raises nothing: the thread waits there until the request's cancel token is
set ($/cancelRequest, a newer request for the document, shutdown) or HOLD_LIMIT seconds
pass. That is how a test keeps a request in flight at any model speed (a GPU writes a
whole answer in 0.1 s): it waits for the log line "holding at 'token'", then acts.
A `crash:` or `abort:` point kills the process for real, in native code (a NULL read,
libc's abort()), as a crash in llama.cpp would: the supervisor in front restarts it. It fires
in a server started after fewer than `*k` crashes (default 1): once per supervisor, never
again in the server that replaced the crashed one.
Unset (always, outside the tests) every point is a dictionary lookup that finds nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from typing import NamedTuple, Protocol

from . import supervised

HOLD_LIMIT = 120.0  # seconds: a test that never cancels fails on its own timeouts, not here
log = logging.getLogger("sokuji.faults")


class InjectedFault(RuntimeError):
    pass


class Cancellable(Protocol):
    @property
    def cancelled(self) -> bool: ...


class _Armed(NamedTuple):
    nth: int  # 0: every time
    kind: str  # "raise" | "hold" | "crash" | "abort"
    servers: int  # crash / abort: fire in a server started after fewer crashes than this


def _parse(spec: str) -> dict[str, _Armed]:
    armed = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, rest = item.rpartition(":")
        rest, _, servers = rest.partition("*")
        name, _, nth = rest.partition("@")
        armed[name] = _Armed(int(nth) if nth else 0, kind or "raise", int(servers) if servers else 1)
    return armed


def _crash(kind: str) -> None:
    log.warning("crashing at a fault point (%s)", kind)
    logging.shutdown()  # the line above reaches the log before the process dies
    if kind == "abort":
        ctypes.CDLL(None).abort()
    ctypes.string_at(0)  # reads address 0: SIGSEGV


_armed = _parse(os.environ.get("SOKUJI_FAULTS", ""))
_hits: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str, cancel: Cancellable | None = None) -> None:
    if name not in _armed:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        nth, kind, servers = _armed[name]
        if nth and _hits[name] != nth:
            return
    if kind in ("crash", "abort"):
        if supervised.crashes() < servers:
            _crash(kind)
        return
    if kind != "hold":
        raise InjectedFault(f"injected fault at {name!r}")
    log.info("holding at %r until the request is cancelled", name)
    deadline = time.monotonic() + HOLD_LIMIT
    while not (cancel is not None and cancel.cancelled) and time.monotonic() < deadline:
        time.sleep(0.01)
    log.info("released at %r", name)
