"""One engine thread runs every model call in order; the event loop only awaits it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..structs import CancelToken

T = TypeVar("T")


class Worker:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sokuji-engine")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._pool.submit(fn, *args))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


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
