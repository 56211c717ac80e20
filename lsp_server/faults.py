"""Fault injection points, for the fault-containment tests only.

Real faults (llama.cpp raising mid-decode, an engine thread dying, the file watcher's
thread dying) cannot be summoned on demand, so the code calls `point(name)` where they
happen and the tests arm one through the environment of the server they start:

    SOKUJI_FAULTS="decode@2,worker@1"   # raise at the 2nd decode step and the 1st worker job

`name@n` raises on the n-th time the point is reached, once; a bare `name` raises every
time. Unset (always, outside the tests) every point is a dictionary lookup that finds nothing.
"""

from __future__ import annotations

import os
import threading


class InjectedFault(RuntimeError):
    pass


def _parse(spec: str) -> dict[str, int]:
    armed = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition("@")
        armed[name] = int(nth) if nth else 0
    return armed


_armed = _parse(os.environ.get("SOKUJI_FAULTS", ""))
_hits: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
    if name not in _armed:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        nth = _armed[name]
        if nth and _hits[name] != nth:
            return
    raise InjectedFault(f"injected fault at {name!r}")
