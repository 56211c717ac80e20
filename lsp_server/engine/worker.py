"""One engine thread runs every model call in order; the event loop only awaits it.

The thread is supervised: if it dies (an exception escaping its loop, not one raised by a
job, which goes back to the job's caller), the job it was running fails with WorkerDied,
`on_death` is told once, and the next job starts a fresh thread. Jobs still queued wait
for that thread: none is lost or left unanswered.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .. import faults
from ..supervised import activity
from ..structs import CancelToken

T = TypeVar("T")
log = logging.getLogger("sokuji.worker")


class WorkerDied(RuntimeError):
    """The engine thread stopped while running this job."""


class Worker:
    def __init__(self, on_death: Callable[[BaseException], None] = lambda exc: None) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._on_death = on_death

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        future: Future = Future()
        if self._closed:
            future.set_exception(WorkerDied("the engine is shut down"))
        else:
            self._jobs.put((future, fn, args))
            self._ensure_thread()
        return await asyncio.wrap_future(future)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="sokuji-engine", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        current: Future | None = None
        try:
            while (job := self._jobs.get()) is not None:
                current, fn, args = job
                if not current.set_running_or_notify_cancel():
                    continue
                faults.point(f"worker.{getattr(fn, '__name__', 'job')}")  # outside the job's own try: as if the thread itself failed
                try:
                    with activity.in_model():  # a crash now is the model's (the supervisor steps down)
                        current.set_result(fn(*args))
                except BaseException as exc:  # the job's error is its caller's
                    current.set_exception(exc)
                current = None
        except BaseException as exc:
            log.exception("the engine thread died")
            if current is not None and not current.done():
                current.set_exception(WorkerDied(f"the engine thread stopped: {exc}"))
            with self._lock:
                self._thread = None
            self._on_death(exc)
            if not self._closed:  # queued jobs get a new thread now, not at the next request
                self._ensure_thread()

    def shutdown(self) -> None:
        self._closed = True
        self._jobs.put(None)

    def stop(self, timeout: float) -> bool:
        """At exit: jobs still queued fail without running, the running one (its request
        cancelled by the caller) ends, and so does the thread. False when it still runs
        after `timeout` seconds (a model load cannot be interrupted)."""
        self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None and job[0].set_running_or_notify_cancel():
                job[0].set_exception(WorkerDied("the engine is shut down"))
        self._jobs.put(None)
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()


class LatestWins:
    """One live cancel token per key (a document URI): a new request cancels the older one."""

    def __init__(self) -> None:
        self._tokens: dict[str, CancelToken] = {}

    def begin(self, key: str) -> CancelToken:
        old = self._tokens.get(key)
        if old is not None:
            old.cancel()
        token = self._tokens[key] = CancelToken()
        return token

    def end(self, key: str, token: CancelToken) -> None:
        if self._tokens.get(key) is token:
            del self._tokens[key]

    def cancel_all(self) -> None:
        for token in self._tokens.values():
            token.cancel()
