"""LSP's base protocol: `Content-Length: N` headers, a blank line, N bytes of JSON. The relay
passes bodies on as bytes: it reads what it must of them (msgspec) and re-encodes only the
few it rewrites."""

from __future__ import annotations

from typing import BinaryIO


def read_message(stream: BinaryIO) -> bytes | None:
    """The next message's body; None at the end of the stream (or a cut-off message)."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if length is None:
                continue  # a blank line without headers: skip it, as pygls does
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                length = None
    body = stream.read(length)
    return body if len(body) == length else None


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
