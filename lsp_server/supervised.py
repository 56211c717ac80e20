"""The server's side of the supervisor (lsp_server/supervisor/): the mode it was started in,
the crashes before it, and a line on a pipe saying when it is inside the model, so that the
supervisor can tell a crash in llama.cpp from one elsewhere. A leaf: the engine worker and
loading call it; without a supervisor (`serve --no-supervisor`, the CLI) it does nothing.

Lines on the pipe (SOKUJI_ACTIVITY_FD): `model` (a job entered the engine), `idle` (none is
in it), `caps gpu=0|1 plain=0|1` (what the loaded build can offload; whether models load
without extra buffer types already).
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Safer and safer: extra buffer types off (ggml's AMX and repacking), then no GPU offload
# either, then no model at all (diagnostics and checked fixes still work).
MODES = ("normal", "plainBuffers", "cpu", "noModel")
MODE_ENV, CRASHES_ENV, ACTIVITY_ENV = "SOKUJI_ENGINE_MODE", "SOKUJI_CRASHES", "SOKUJI_ACTIVITY_FD"


def mode() -> str:
    value = os.environ.get(MODE_ENV, "normal")
    return value if value in MODES else "normal"


def crashes() -> int:
    """How many times the server crashed before this process started (the supervisor counts)."""
    try:
        return int(os.environ.get(CRASHES_ENV, "0"))
    except ValueError:
        return 0


class _Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._fd: int | None = None
        try:
            fd = int(os.environ.get(ACTIVITY_ENV, ""))
            os.fstat(fd)
            self._fd = fd
        except (ValueError, OSError):
            pass

    def _say(self, line: str) -> None:
        if self._fd is not None:
            try:
                os.write(self._fd, line.encode() + b"\n")
            except OSError:  # the supervisor is gone: nobody to tell
                self._fd = None

    @contextmanager
    def in_model(self) -> Iterator[None]:
        """Around a job that may run llama.cpp (load, evaluate, decode, tokenize)."""
        with self._lock:
            self._inside += 1
            if self._inside == 1:
                self._say("model")
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    self._say("idle")

    def caps(self, gpu: bool, plain: bool) -> None:
        with self._lock:
            self._say(f"caps gpu={int(gpu)} plain={int(plain)}")


activity = _Activity()


def on_crash_write_stack() -> None:
    """A fatal signal (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL) writes its name and every
    thread's Python stack to stderr, the editor's log, before the process dies."""
    faulthandler.enable(file=sys.stderr, all_threads=True)
