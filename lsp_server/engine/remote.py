"""Generation on an existing inference server instead of in-process: llama.cpp's llama-server
(`/infill` with `input_extra`, `cache_prompt` and a slot pinned per file) or an OpenAI-style
`/v1/completions` (llama-cpp-python's server, vLLM). sokuji keeps the editor side —
documents, context, post-processing, fixes — and only the generating happens there.

An engine like the in-process one (engine/base.py's Engine). Called only from the engine
worker thread; requests stream, so a cancelled completion closes its HTTP connection
between tokens. One httpx client per engine keeps its connections open between requests.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import re
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec

from .. import faults
from ..structs import CancelledError, CancelToken, Generation, GenParams, Prompt
from .base import EngineError, EngineInfo, EngineStats, EngineUnavailable, Pieces, Stop

if TYPE_CHECKING:
    import httpx

FLAVORS = ("llama-server", "openai")
PARTIAL_WORD = re.compile(r"\w+$")
# Servers drop a connection idle for 5 s (uvicorn's and cpp-httplib's default): reusing one
# that old could race the server's close and lose the request, so the pool lets it go sooner.
KEEPALIVE_S = 4.0


class _Unreachable(EngineUnavailable):
    """No answer at all (not connected, timed out, cut off), as opposed to an answer that
    says no: the server may be down, so what was being found out is asked again later."""


class RemoteEngine:
    def __init__(self, flavor: str, url: str, api_key_env: str = "", timeout_s: float = 30.0, context_size: int = 4096):
        if flavor not in FLAVORS:
            raise EngineError(f"unknown engine {flavor!r}: use one of local, {', '.join(FLAVORS)}")
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"engine url must be http(s)://host:port[/path], got {url!r}")
        self.flavor = flavor
        self.url = url
        self._base = parts.path.rstrip("/")
        if flavor == "openai" and not self._base.endswith("/v1"):
            self._base += "/v1"
        if flavor == "llama-server" and self._base.endswith("/v1"):
            self._base = self._base[: -len("/v1")]
        api_key = os.environ.get(api_key_env, "") if api_key_env else ""
        self.timeout_s = timeout_s
        try:
            self._http = _client(parts.scheme, parts.hostname, parts.port, api_key, timeout_s)
        except (ValueError, ImportError) as exc:  # e.g. a proxy in the environment httpx cannot use (SOCKS needs socksio)
            raise EngineError(f"{flavor} at {url}: no HTTP client: {exc}") from exc
        self.evaluated_tokens = 0
        self.reused_tokens = 0
        self.count_tokens = functools.lru_cache(maxsize=1 << 16)(self._count_tokens)
        self._tokenize_path: str | None = None
        self._slots = 1
        # llama-server fills in the middle (/infill); OpenAI-style servers: see probe()
        self._fim = "llama-server /infill" if flavor == "llama-server" else None
        self._bos_count: int | None = None  # tokens a tokenizer endpoint adds to any text
        self._probed = False
        self.info = EngineInfo(path=url, size_bytes=0, architecture=flavor, name=url, fim=self._fim,
                              context_size=context_size, gpu_layers=0, gpu_offload=False)
        try:
            self.probe()
        except EngineUnavailable:
            pass  # not up yet: requests fail with one clear message until it is

    def probe(self) -> None:
        """Ask the server its model name, context size, slots, and whether it can fill in
        the middle (llama-server answers /infill with 501 for a model without FIM tokens)."""
        name, n_ctx, self._slots = self._server_props()
        if self.flavor == "llama-server":
            try:
                self._call("POST", "/infill", {"input_prefix": "", "input_suffix": "", "n_predict": 0})
            except EngineUnavailable as exc:
                if "HTTP 501" not in str(exc):
                    raise
                self._fim = None
        elif self._fim_tokens_known(name):
            self._fim = "openai suffix"
        self.info = EngineInfo(path=self.url, size_bytes=0, architecture=self.flavor, name=name, fim=self._fim,
                              context_size=n_ctx or self.info.context_size, gpu_layers=0, gpu_offload=False)
        self._probed = True

    # -- HTTP -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _response(self, method: str, path: str, body: dict | None = None,
                  base: str | None = None) -> Iterator[httpx.Response]:
        """The server's answer, its body still to read. Leaving the block closes it: read to
        its end, the connection goes back to the pool for the next request; left midway (a
        cancelled stream), the connection is closed, which stops the server's generation."""
        import httpx  # loaded with the client (see _client)

        try:
            with self._http.stream(method, (self._base if base is None else base) + path, json=body) as resp:
                if resp.status_code >= 400:
                    raise EngineUnavailable(f"{self.flavor} at {self.url}: {method} {path} -> "
                                            f"HTTP {resp.status_code}: {resp.read()[:200]!r}")
                yield resp
        except httpx.HTTPError as exc:
            raise _Unreachable(f"{self.flavor} at {self.url} unreachable: {exc}") from exc

    def _call(self, method: str, path: str, body: dict | None = None, base: str | None = None) -> dict:
        with self._response(method, path, body, base) as resp:
            data = resp.read()
        try:
            return json.loads(data or b"{}")
        except ValueError as exc:
            raise EngineUnavailable(f"{self.flavor} at {self.url}: {path} answered something that is not JSON") from exc

    def _stream(self, path: str, body: dict, cancel: CancelToken) -> Iterator[dict]:
        """Server-sent events, one JSON object each; closing the stream early (cancel, or the
        caller stopping) closes the connection, which stops the server's generation. Read
        past `[DONE]` to the body's end, so that the connection is kept for the next request."""
        with self._response("POST", path, {**body, "stream": True}) as resp:
            for raw in _lines(resp.iter_bytes()):
                if cancel.cancelled:
                    raise CancelledError()
                line = raw.strip()
                if not line.startswith(b"data:") or (payload := line[5:].strip()) == b"[DONE]":
                    continue
                try:
                    event = json.loads(payload)
                except ValueError as exc:
                    raise EngineUnavailable(f"{self.flavor} at {self.url} unreachable: {exc}") from exc
                yield event

    def _fim_tokens_known(self, name: str) -> bool:
        """An OpenAI-style server gets `suffix` when its tokenizer has FIM tokens (each one
        token) and it is not llama-cpp-python's server, which builds `suffix` prompts from
        placeholder token ids (it answers /extras/tokenize; vLLM answers /tokenize)."""
        root = self._base[: -len("/v1")]
        if self._tokenizer_path() == "/extras/tokenize":
            return False
        try:
            counts = [len(self._call("POST", "/tokenize", {"prompt": t, "model": name}, root).get("tokens", []))
                      for t in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")]
        except EngineUnavailable:
            return False
        return counts == [1, 1, 1]

    def _tokenizer_path(self) -> str:
        """An OpenAI-style server's tokenizer, outside /v1: llama-cpp-python's server answers
        /extras/tokenize, vLLM /tokenize. Asked once."""
        if self._tokenize_path is None:
            try:
                self._call("POST", "/extras/tokenize", {"input": "x"}, self._base[: -len("/v1")])
                self._tokenize_path = "/extras/tokenize"
            except EngineUnavailable as exc:
                if isinstance(exc, _Unreachable):  # down, not an answer: ask again once it is up
                    raise
                self._tokenize_path = "/tokenize"
        return self._tokenize_path

    def _server_props(self) -> tuple[str, int, int]:
        if self.flavor == "llama-server":
            props = self._call("GET", "/props")
            settings = props.get("default_generation_settings", {})
            name = os.path.basename(str(props.get("model_path", "llama-server")))
            return name, int(settings.get("n_ctx") or 0), int(props.get("total_slots") or 1)
        models = self._call("GET", "/models").get("data") or [{}]
        return str(models[0].get("id", "openai")), 0, 1

    # -- the Engine protocol ----------------------------------------------------------------

    def _count_tokens(self, text: str) -> int:
        if not text:
            return 0
        if self.flavor == "llama-server":
            return len(self._call("POST", "/tokenize", {"content": text}).get("tokens", []))
        root = self._base[: -len("/v1")]
        path = self._tokenizer_path()

        def count(piece: str) -> int:
            body = {"input": piece} if path == "/extras/tokenize" else {"prompt": piece, "model": self.info.name}
            return len(self._call("POST", path, body, root).get("tokens", []))

        if self._bos_count is None:
            self._bos_count = count("")  # a BOS the endpoint adds is not the text's
        return max(0, count(text) - self._bos_count)

    def render(self, prompt: Prompt) -> str:
        """The text before the cursor as sent: each chunk under a comment naming its file."""
        return "".join(prompt.headed_chunks()) + prompt.imports + prompt.prefix

    def prompt_token_count(self, prompt: Prompt) -> int:
        return self.count_tokens(self.render(prompt))

    def stats(self) -> EngineStats:
        return EngineStats(self.evaluated_tokens, self.reused_tokens)  # the server keeps the KV caches

    def _slot(self, key: str) -> int:
        """A file keeps its llama-server slot, so the slot's prompt cache is that file's."""
        return zlib.crc32(key.encode()) % max(1, self._slots)

    def complete(self, prompt: Prompt, params: GenParams, cancel: CancelToken,
                 stop: Stop = lambda text: None, key: str = "") -> Generation:
        """Token healing's closest equivalent here: a server's sampling cannot be constrained
        through these APIs, nor its tokens seen, so the partial word at the cursor is taken
        out of the prompt and an answer is kept only if it spells that word first (the rest
        of it is shown). The confidence gate needs the engine's token probabilities: not here."""
        if not self._probed:  # it was down when sokuji started
            self.probe()
        partial = ""
        if params.token_healing and (word := PARTIAL_WORD.search(prompt.prefix[-128:])):  # a bounded search
            partial = word.group()
            prompt = msgspec.structs.replace(prompt, prefix=prompt.prefix[: -len(partial)])
        path, body = self._completion_request(prompt, params.max_tokens, params.temperature, key)
        if self.flavor == "llama-server":
            body["t_max_predict_ms"] = params.time_budget_ms
        return self._generate(path, body, params, cancel, stop, partial)

    def _completion_request(self, prompt: Prompt, max_tokens: int, temperature: float, key: str) -> tuple[str, dict]:
        """The endpoint and body of a completion at the prompt's cursor: llama-server's /infill
        (or /completion for a prefix-only model), or OpenAI-style /completions."""
        if self.flavor == "llama-server" and not self._fim:  # prefix-only model: /completion
            return "/completion", {"prompt": self.render(prompt), "n_predict": max_tokens, "temperature": temperature,
                                   "cache_prompt": True, "id_slot": self._slot(key)}
        if self.flavor == "llama-server":
            return "/infill", {
                "input_prefix": prompt.imports + prompt.prefix, "input_suffix": prompt.suffix,
                "input_extra": [{"filename": c.path, "text": c.text} for c in prompt.chunks()],
                "n_predict": max_tokens, "temperature": temperature, "cache_prompt": True, "id_slot": self._slot(key),
            }
        body = {"model": self.info.name, "prompt": self.render(prompt), "max_tokens": max_tokens, "temperature": temperature}
        if self._fim:
            body["suffix"] = prompt.suffix
        return "/completions", body

    def first_pieces(self, prompt: Prompt, count: int, cancel: CancelToken, key: str = "") -> list[str]:
        """The likeliest first tokens, from the server's own top probabilities for one
        generated token (llama-server's n_probs, OpenAI-style logprobs); [] when it gives none."""
        cancel.check()
        if not self._probed:
            self.probe()
        path, body = self._completion_request(prompt, 1, 0.0, key)
        if self.flavor == "llama-server":
            top = self._call("POST", path, {**body, "n_probs": count}).get("completion_probabilities") or [{}]
            found = top[0].get("top_probs") or top[0].get("probs") or []  # newer servers / older ones
            pieces = [p.get("token", p.get("tok_str", "")) for p in found]
        else:
            choice = (self._call("POST", path, {**body, "logprobs": count}).get("choices") or [{}])[0]
            first = ((choice.get("logprobs") or {}).get("top_logprobs") or [{}])[0] or {}
            pieces = [token for token, _ in sorted(first.items(), key=lambda kv: -kv[1])]
        return [p for p in pieces if p][:count]

    def rewrite(self, text: str, source: str, params: GenParams, cancel: CancelToken,
                stop: Stop, key: str = "", lookup: bool = True) -> Generation:
        """A plain continuation (prompt lookup is the in-process engine's; servers that draft
        do it on their side)."""
        if not self._probed:
            self.probe()
        if self.flavor == "llama-server":
            body = {"prompt": text, "n_predict": params.max_tokens, "temperature": params.temperature,
                    "cache_prompt": True, "id_slot": self._slot(key), "t_max_predict_ms": params.time_budget_ms}
            return self._generate("/completion", body, params, cancel, stop)
        body = {"model": self.info.name, "prompt": text, "max_tokens": params.max_tokens, "temperature": params.temperature}
        return self._generate("/completions", body, params, cancel, stop)

    def edit(self, pieces: Pieces, source: str, params: GenParams, cancel: CancelToken, stop: Stop,
             key: str = "", strict: bool = False) -> Generation:
        """The pieces joined into one prompt string: llama-server reads special tokens in a
        prompt's text (so do llama-cpp-python's server and vLLM), which makes each marker
        its token. So user text spelling a marker would be read as one too: such a prompt
        is not sent, and the answer is empty. Whether the server's model has the markers
        is not asked (`strict` is the in-process engine's)."""
        markers = {text for text, special in pieces if special}
        if any(m in text for text, special in pieces if not special for m in markers):
            return Generation(text="", prompt_tokens=0, evaluated_tokens=0, generated_tokens=0, stop_reason="stop",
                              seconds=0.0)
        return self.rewrite("".join(text for text, _ in pieces), source, params, cancel, stop, key, lookup=False)

    def score(self, context: str, continuations: list[str], cancel: CancelToken, key: str = "") -> list[float] | None:
        """Servers do not give prompt log-likelihoods cheaply: no scores (the caller takes
        its candidates in their own order)."""
        return None

    def _generate(self, path: str, body: dict, params: GenParams, cancel: CancelToken,
                  stop: Stop, partial: str = "") -> Generation:
        """`partial`: text taken out of the prompt that the answer must spell first (healing)."""
        started = time.monotonic()
        deadline = started + params.time_budget_ms / 1000
        out = _Answer(partial)
        events = self._stream(path, body, cancel)
        try:
            for event in events:
                faults.point("token", cancel)  # where the tests hold a request in flight
                piece, finished = out.read(event)
                if out.add(piece, stop):
                    break
                if finished:
                    out.reason = "eos" if finished in ("stop", "eos", "word") else "max_tokens"
                    _read_to_end(events)
                    break
                if time.monotonic() > deadline:
                    out.reason = "time"
                    break
        except CancelledError:
            out.reason = "cancelled"
        finally:
            events.close()  # left midway, its connection closes: the server stops generating
        self.evaluated_tokens += out.evaluated
        self.reused_tokens += max(0, out.prompt_n - out.evaluated)
        return Generation(text=out.text, prompt_tokens=out.prompt_n, evaluated_tokens=out.evaluated,
                          generated_tokens=out.generated, stop_reason=out.reason, seconds=time.monotonic() - started,
                          healed_bytes=len(partial.encode()))

    def forget(self, key: str) -> None:
        """Nothing held here: the server's slot cache follows the prompt by itself."""

    def persist(self) -> None:
        """The server keeps its own caches."""

    def reset(self) -> None:
        """Nothing half-done is held here."""

    def close(self) -> None:
        self.count_tokens.cache_clear()
        self._http.close()


def _client(scheme: str, host: str, port: int | None, api_key: str, timeout_s: float) -> httpx.Client:
    """The engine's HTTP client: its connections kept between requests; `timeout_s` for
    connecting and between any two reads, as a socket timeout was."""
    import httpx  # here, not at the top: serve on the in-process model never loads the HTTP stack

    headers = {"Accept-Encoding": "identity"}  # a compressed stream would reach us in bursts, not token by token
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    verify = ssl.create_default_context()  # the system's certificates, not certifi's (what http.client trusted)
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_S)
    # A transport of our own takes no proxy from the environment. A loopback engine gets one:
    # HTTP_PROXY without a NO_PROXY naming it would send this machine's engine, and the code
    # in each prompt, to the proxy. Other hosts go through the environment's proxies.
    transport = httpx.HTTPTransport(verify=verify, limits=limits) if _loopback(host) else None
    origin = f"{scheme}://[{host}]" if ":" in host else f"{scheme}://{host}"  # an IPv6 address in brackets
    return httpx.Client(base_url=origin + (f":{port}" if port else ""), headers=headers, timeout=timeout_s,
                        verify=verify, limits=limits, transport=transport)


def _loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8, ::1: this machine."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The stream's lines, split at \\n only: httpx's iter_lines also splits at U+2028, U+0085
    and others, which a server's JSON may carry unescaped inside a token's text."""
    rest = b""
    for chunk in chunks:
        *lines, rest = (rest + chunk).split(b"\n")
        yield from lines
    if rest:
        yield rest


def _read_to_end(events: Iterator[dict]) -> None:
    """A finished answer's stream: the server ends it right after the last event. Reading it
    to its end keeps the connection for the next request; if that fails, closing it is all."""
    with contextlib.suppress(CancelledError, EngineUnavailable):
        for _ in events:
            pass


class _Answer:
    """A streamed answer as it arrives: its text, the healing check, the server's counts."""

    def __init__(self, partial: str) -> None:
        self.partial = partial  # taken out of the prompt: the answer must spell it first
        self.spelled = ""  # the answer while it is still spelling `partial`
        self.text, self.generated, self.reason = "", 0, "max_tokens"
        self.prompt_n = self.evaluated = 0

    def read(self, event: dict) -> tuple[str, str | None]:
        """(the text piece, why the server finished or None) of one event."""
        if "choices" in event:  # OpenAI style
            choice = (event.get("choices") or [{}])[0]
            return choice.get("text") or "", choice.get("finish_reason")
        timings = event.get("timings") or {}  # llama-server
        if timings:
            self.evaluated = int(timings.get("prompt_n", self.evaluated))
            self.prompt_n = self.evaluated + int(event.get("tokens_cached", 0) or 0)
        return event.get("content") or "", event.get("stop") and event.get("stop_type")

    def add(self, piece: str, stop: Stop) -> bool:
        """Take a piece; True when the answer ends here (another word than the partial one,
        or `stop` cut it)."""
        if not piece:
            return False
        self.generated += 1
        if len(self.spelled) < len(self.partial):
            self.spelled += piece
            if not (self.spelled.startswith(self.partial) or self.partial.startswith(self.spelled)):
                self.reason = "unhealed"  # the model went on with another word
                return True
            piece = self.spelled[len(self.partial):]
        if not piece:
            return False
        self.text += piece
        cut = stop(self.text)
        if cut is not None:
            self.text, self.reason = self.text[:cut], "stop"
            return True
        return False
