"""`sokuji serve`: a thin relay in front of the real server, which runs as its child
(`serve --no-supervisor`). The model stays in the server's process; when native code kills
that process (a segfault in llama.cpp, an abort, a driver fault), the relay answers what was
in flight, restarts the server, safer after repeated crashes, and replays its state, so the
editor's session goes on. relay.py has the rules, policy.py the modes."""

from __future__ import annotations

import logging
import socket
import sys

from .relay import Relay

log = logging.getLogger("sokuji.supervisor")


def child_argv(model: str | None) -> list[str]:
    return [sys.executable, "-m", "lsp_server", "serve", "--no-supervisor"] + (["--model", model] if model else [])


def serve_stdio(model: str | None) -> int:
    return Relay(sys.stdin.buffer, sys.stdout.buffer, child_argv(model)).run()


def serve_tcp(host: str, port: int, model: str | None) -> int:
    """One editor at a time, each with a server of its own, until interrupted."""
    with socket.create_server((host, port)) as listener:
        while True:
            conn, peer = listener.accept()
            log.info("editor connected from %s", peer)
            with conn, conn.makefile("rb") as reader, conn.makefile("wb") as writer:
                Relay(reader, writer, child_argv(model)).run()
