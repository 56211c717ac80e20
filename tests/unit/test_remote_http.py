"""The remote engine's HTTP (engine/remote.py on httpx) against tiny servers on loopback: a fake
engine, and a proxy that records what reaches it. A loopback engine is never reached through
the environment's proxy; another host is. Streams, reused connections, a cancel closing the
connection, timeouts, the API key, llama-server's probes."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from lsp_server.engine import remote
from lsp_server.engine.base import EngineError, EngineUnavailable
from lsp_server.engine.remote import RemoteEngine
from lsp_server.structs import CancelToken, GenParams, Prompt

ODD = "\u2028\x85"  # line breaks to str.splitlines (httpx's iter_lines), not to SSE
TOKENS = ["Hello", " world", ODD]


class Handler(BaseHTTPRequestHandler):
    """A fake engine of either flavor. As the proxy (server.role), it answers for the host
    `engine.test`, which only it can resolve, and refuses any other."""

    protocol_version = "HTTP/1.1"  # keep-alive: connections can be reused
    disable_nagle_algorithm = True  # each event leaves at once

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.handle_request()

    def do_POST(self) -> None:
        self.handle_request()

    def handle_request(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(size) or b"{}")
        self.server.seen.append((self.command, self.path, dict(self.headers), self.client_address[1]))
        path = self.path
        if self.server.role == "proxy":
            target = urlsplit(self.path)
            if target.hostname != "engine.test":
                return self.answer(502, {"error": f"the proxy cannot reach {target.hostname}"})
            path = target.path
        if path == "/v1/models":
            return self.answer(200, {"data": [{"id": "fake-model"}]})
        if path == "/props":
            return self.answer(200, {"model_path": "/m/fake.gguf", "total_slots": 2,
                                     "default_generation_settings": {"n_ctx": 2048}})
        if path == "/infill":
            return self.answer(501, {"error": "this model cannot fill in the middle"})
        if path == "/extras/tokenize":  # llama-cpp-python's: a BOS, then one a word
            return self.answer(200, {"tokens": [1] + [2] * len(body["input"].split())})
        if path == "/tokenize":  # llama-server's: no BOS
            return self.answer(200, {"tokens": [2] * len(body["content"].split())})
        if path in ("/v1/completions", "/completion"):
            return self.stream(path, body.get("prompt", ""))
        self.answer(404, {"error": path})

    def answer(self, status: int, data: dict) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def stream(self, path: str, prompt: str) -> None:
        try:
            self.events(path == "/v1/completions", prompt)
        except OSError:  # the client went away
            self.server.gone.set()

    def events(self, openai: bool, prompt: str) -> None:
        if prompt == "hang":  # answers after the client's timeout
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if prompt == "endless":  # until the client goes away
            for _ in range(500):
                self.chunk(self.event(openai, "tick", None))
                time.sleep(0.02)
            return
        for token in TOKENS:
            self.chunk(self.event(openai, token, None))
        self.chunk(self.event(openai, "", "stop"))
        if openai:
            self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")  # the chunked body's end

    @staticmethod
    def event(openai: bool, text: str, finish: str | None) -> bytes:
        if openai:
            data = {"choices": [{"text": text, "finish_reason": finish}]}
        else:
            data = {"content": text, "stop": finish is not None, "stop_type": "eos"}
        return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, role: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.role = role
        self.seen: list[tuple[str, str, dict, int]] = []  # method, path, headers, client port
        self.gone = threading.Event()  # a stream's client went away
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def fake():
    server = Server("engine")
    yield server
    server.stop()


@pytest.fixture
def proxy(monkeypatch):
    """A proxy in HTTP_PROXY, and no other proxy setting (NO_PROXY unset)."""
    server = Server("proxy")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    yield server
    server.stop()


def complete(engine: RemoteEngine, prefix: str = "x = ", stop=lambda text: None, cancel: CancelToken | None = None):
    prompt = Prompt(prefix=prefix, suffix="")
    params = GenParams(max_tokens=8, temperature=0.0, time_budget_ms=5000, token_healing=False)
    return engine.complete(prompt, params, cancel or CancelToken(), stop)


def use(engine: RemoteEngine) -> None:
    """Every kind of request: the probe ran in the constructor; a tokenize, a completion."""
    try:
        assert engine.count_tokens("three words here") == 3
        assert complete(engine).text == "".join(TOKENS)
    finally:
        engine.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_engine_never_goes_through_the_proxy(fake, proxy, host, monkeypatch):
    monkeypatch.setenv("SOKUJI_TEST_KEY", "sekrit")
    use(RemoteEngine("openai", f"http://{host}:{fake.port}", "SOKUJI_TEST_KEY"))
    assert proxy.seen == []
    paths = [path for _, path, _, _ in fake.seen]
    assert paths[0] == "/v1/models" and "/v1/completions" in paths and "/extras/tokenize" in paths
    assert all(headers["Authorization"] == "Bearer sekrit" for _, _, headers, _ in fake.seen)


def test_a_remote_engine_goes_through_the_proxy(fake, proxy, monkeypatch):
    monkeypatch.setenv("SOKUJI_TEST_KEY", "sekrit")
    engine = RemoteEngine("openai", "http://engine.test:8000", "SOKUJI_TEST_KEY")
    assert engine.info.name == "fake-model"  # the probe reached the proxy, which resolves engine.test
    use(engine)
    assert fake.seen == []
    urls = [path for _, path, _, _ in proxy.seen]
    assert urls[0] == "http://engine.test:8000/v1/models" and "http://engine.test:8000/v1/completions" in urls
    assert all(headers["Authorization"] == "Bearer sekrit" for _, _, headers, _ in proxy.seen)


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("engine.test", False), ("10.0.0.1", False), ("::2", False), ("localhost.example.com", False),
])
def test_loopback_hosts(host, loopback):
    assert remote._loopback(host) is loopback


def test_a_proxy_httpx_cannot_use_is_an_engine_error(proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "ftp://127.0.0.1:1")
    with pytest.raises(EngineError, match="proxy"):
        RemoteEngine("openai", "http://engine.test:8000")
    RemoteEngine("openai", "http://127.0.0.1:9").close()  # loopback: the proxy is not even read


def test_requests_share_one_connection_and_streams_keep_odd_line_breaks(fake):
    engine = RemoteEngine("openai", f"http://127.0.0.1:{fake.port}/v1")
    for i in range(3):
        generation = complete(engine, f"x{i} = ")
        assert generation.text == "Hello world" + ODD and generation.stop_reason == "eos"
        assert engine.count_tokens(f"fresh text {i}") == 3
    engine.close()
    assert len(fake.seen) >= 9 and len({port for *_, port in fake.seen}) == 1, fake.seen


def test_a_cancel_closes_the_stream_and_the_next_request_works(fake):
    engine = RemoteEngine("openai", f"http://127.0.0.1:{fake.port}")
    cancel = CancelToken()
    generation = complete(engine, "endless", stop=lambda text: cancel.cancel() if len(text) >= 8 else None,
                          cancel=cancel)
    assert generation.stop_reason == "cancelled" and generation.text == "ticktick"
    assert fake.gone.wait(5)  # the server saw its client go: generation stops there
    assert complete(engine).text == "Hello world" + ODD
    engine.close()


def test_a_stop_cut_closes_the_stream_too(fake):
    engine = RemoteEngine("openai", f"http://127.0.0.1:{fake.port}")
    generation = complete(engine, "endless", stop=lambda text: 4 if len(text) >= 8 else None)
    assert generation.stop_reason == "stop" and generation.text == "tick"
    assert fake.gone.wait(5)
    engine.close()


def test_a_server_slower_than_the_timeout_is_unavailable(fake):
    engine = RemoteEngine("openai", f"http://127.0.0.1:{fake.port}", timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=f"openai at http://127.0.0.1:{fake.port}.* unreachable"):
        complete(engine, "hang")
    assert time.monotonic() - started < 1.2
    engine.close()


def test_a_server_that_is_down_is_unavailable_until_it_answers():
    server = Server("engine")
    port = server.port
    server.stop()
    engine = RemoteEngine("openai", f"http://127.0.0.1:{port}")  # down: no error yet
    with pytest.raises(EngineUnavailable, match="unreachable"):
        complete(engine)
    with pytest.raises(EngineUnavailable, match="unreachable"):
        engine.count_tokens("some text")
    assert engine._tokenize_path is None  # not decided while down: asked again once it is up
    engine.close()


def test_llama_server_probes_and_streams(fake):
    engine = RemoteEngine("llama-server", f"http://127.0.0.1:{fake.port}")
    assert (engine.info.name, engine.info.context_size, engine.info.fim) == ("fake.gguf", 2048, None)  # /infill: 501
    use(engine)
    assert [path for _, path, _, _ in fake.seen] == ["/props", "/infill", "/tokenize", "/completion"]
    assert len({port for *_, port in fake.seen}) == 1  # the 501 and the stream's end kept the connection


def test_an_http_error_names_the_request(fake):
    engine = RemoteEngine("openai", f"http://127.0.0.1:{fake.port}")
    with pytest.raises(EngineUnavailable, match=r"POST /nowhere -> HTTP 404"):
        engine._call("POST", "/nowhere", {})
    engine.close()
