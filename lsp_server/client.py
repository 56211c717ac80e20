"""What the features and services may tell the editor, without knowing LSP: messages, log lines, progress.
The protocol layer implements `Client` (protocol/server.py)."""

from __future__ import annotations

from typing import Literal, Protocol

Level = Literal["error", "warning", "info"]


class Client(Protocol):
    def show(self, level: Level, message: str) -> None:
        """A message for the user (window/showMessage). Event loop only."""

    def log(self, message: str) -> None:
        """A line for the client's log (window/logMessage), from any thread."""

    async def begin_progress(self, title: str) -> str | None:
        """A progress bar's token, or None when the client shows none."""

    def report_progress(self, token: str | None, message: str, percentage: int) -> None: ...

    def end_progress(self, token: str | None, message: str) -> None: ...


class Notices:
    """Problems shown to the user once: the same kind again stays quiet until it is
    `recovered`. Event loop only."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._reported: set[str] = set()

    def report(self, kind: str, message: str, level: Level = "error") -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            self.client.show(level, message)

    def recovered(self, kind: str, message: str | None = None) -> None:
        if kind in self._reported:
            self._reported.discard(kind)
            if message:
                self.client.show("info", message)
