"""Work that waits for the user's edits to pause, and background tasks nobody awaits.
Event loop only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("sokuji")
EDITS_PAUSE = 0.25  # seconds of quiet after an edit: syntax errors are published, definitions read


class Debounce:
    """Per URI: run a callback once edits pause (a newer edit restarts the wait)."""

    def __init__(self, pause: float = EDITS_PAUSE) -> None:
        self.pause = pause
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def after_pause(self, uri: str, callback: Callable[..., None], *args) -> None:
        self.cancel(uri)
        self._timers[uri] = asyncio.get_running_loop().call_later(self.pause, self._fire, uri, callback, args)

    def cancel(self, uri: str) -> None:
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, uri: str, callback: Callable[..., None], args: tuple) -> None:
        self._timers.pop(uri, None)
        callback(*args)


class Background:
    """Tasks nobody awaits, kept from the garbage collector until they end; a failure is
    logged (each task reports what the user must know itself)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future] = set()

    def spawn(self, work: Awaitable) -> asyncio.Future:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a background task failed: %r", task.exception())
