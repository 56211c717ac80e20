"""A local HTTP server that answers file downloads as the Hugging Face hub does.

A fake, and only because the hub cannot be reached from the machines the tests run on.
It serves what huggingface_hub's `hf_hub_download` asks of the hub (HEAD and GET on
`/{owner}/{repo}/resolve/{revision}/{file}`), with the headers it reads: X-Repo-Commit,
ETag, Content-Length, X-Error-Code on a miss, and byte ranges (206, Content-Range) so an
interrupted transfer resumes. Everything else is the real library on real files.

Faults, for the tests:
- `cut_after`: the next GET of a whole file sends that many bytes and closes the connection;
- `down_after_cut`: after that cut, every GET answers 500 (the library's resume fails too);
- `stall_after`: the next GET sends that many bytes, sets `stalled` and waits for `release`;
- `token`: requests without `Authorization: Bearer <token>` get 401 (HF_TOKEN is sent).
"""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ROUTE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


class FakeHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.cut_after: int | None = None
        self.down_after_cut = False
        self._cut = False
        self.stall_after: int | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.token: str | None = None
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, body=False)

            def do_GET(self) -> None:
                hub._answer(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo: str, file: str, data: bytes) -> None:
        self.files[(repo, file)] = data

    def gets(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET"]

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        rng = h.headers.get("Range")
        self.requests.append((h.command, h.path, rng))
        if self.token is not None and h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(h, 401, "RepoNotFound", "Invalid credentials in Authorization header")
        match = ROUTE.match(h.path.split("?", 1)[0])
        if match is None:
            return self._error(h, 404, None, "not found")
        repo, _, file = match.groups()
        if not any(r == repo for r, _ in self.files):
            return self._error(h, 404, "RepoNotFound", "Repository not found")
        data = self.files.get((repo, file))
        if data is None:
            return self._error(h, 404, "EntryNotFound", "Entry not found")
        if h.command == "GET" and self._cut and self.down_after_cut:
            return self._error(h, 500, None, "Internal Error")
        start = 0
        if rng:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
        h.send_response(206 if start else 200)
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(data) - start))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if not body:
            return
        if self.cut_after is not None and not start:
            cut, self.cut_after, self._cut = self.cut_after, None, True
            h.wfile.write(data[:cut])
            h.wfile.flush()
            h.close_connection = True  # the client sees the body end early: a cut connection
            return
        if self.stall_after is not None and not start:
            stall, self.stall_after = self.stall_after, None
            h.wfile.write(data[:stall])
            h.wfile.flush()
            self.stalled.set()
            self.release.wait()
            h.close_connection = True
            return
        h.wfile.write(data[start:])

    @staticmethod
    def _error(h: BaseHTTPRequestHandler, status: int, code: str | None, message: str) -> None:
        payload = message.encode()
        h.send_response(status)
        h.send_header("X-Repo-Commit", COMMIT)
        if code:
            h.send_header("X-Error-Code", code)
        h.send_header("X-Error-Message", message)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(payload)
