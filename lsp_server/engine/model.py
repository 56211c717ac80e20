"""The sole owner of llama_cpp.Llama: the in-process engine (engine/base.py's Engine).
Called only from the engine worker thread.

The prompt's layout and its tokens are here; evaluating them (the KV cache, per-file
states) is evaluator.py's, turning logits into text decoding.py's."""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..structs import CancelToken, Generation, GenParams, Prompt, utf8
from . import amx, decoding, fim, healing, lifetime
from .base import EngineError, EngineInfo, EngineStats, Pieces, Stop
from .evaluator import KV_MODES, Evaluator
from .kv_cache import KVStates, default_budget_bytes, model_fingerprint
from .vocab import check_file, gpu_offload_supported, lines_tokenize_apart, vocab_pieces

__all__ = ["KV_MODES", "Model", "gpu_offload_supported"]


def _load_llama(llama_cpp, file: Path, gpu_layers: int, context_size: int, vocab_only: bool):
    """llama-cpp-python's verbose=False silences loading by pointing file descriptors 1 and 2
    at /dev/null, process-wide: LSP messages the event loop writes to stdout meanwhile would
    be lost. So load with verbose=True (no descriptor games) and catch the chatter, which
    goes through Python's sys.stderr, here instead."""
    threads = max(1, os.cpu_count() or 1)
    if not vocab_only and amx.at_risk():  # ggml's AMX kernels would run, and segfault
        amx.load_plain()
    verbose = bool(os.environ.get("SOKUJI_LLAMA_VERBOSE"))

    def load(flash_attn: bool):
        # Flash attention (llama-cpp-python leaves it off; llama-server's "auto" turns it on):
        # measured 15.1 vs 17.2 ms per generated token, gemma-3-270m, 1.4k-token context, 2 CPU cores.
        return llama_cpp.Llama(model_path=str(file), n_gpu_layers=gpu_layers, n_ctx=context_size, n_threads=threads,
                               n_threads_batch=threads, vocab_only=vocab_only, flash_attn=flash_attn, verbose=True)

    try:
        with contextlib.redirect_stderr(sys.stderr if verbose else io.StringIO()):
            try:
                llm = load(flash_attn=True)
            except ValueError:  # a context llama.cpp cannot build with flash attention
                llm = load(flash_attn=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise EngineError(f"llama.cpp could not load {file}: {exc}") from exc
    if not verbose:
        llm.verbose = False
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # its log callback: errors only
    return llm


class Model:
    def __init__(
        self,
        path: str,
        gpu_layers: int = -1,
        context_size: int = 4096,
        vocab_only: bool = False,
        kv_mode: str = "perFile",
        kv_budget_bytes: int = 0,
        kv_persist_dir: Path | None = None,
    ):
        """kv_mode: see Evaluator ("perFile", "shared", "off")."""
        import llama_cpp

        file = check_file(path)
        self.llm = _load_llama(llama_cpp, file, gpu_layers, context_size, vocab_only)
        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._is_end = lambda tok: bool(llama_cpp.llama_vocab_is_eog(vocab, tok) or llama_cpp.llama_vocab_is_control(vocab, tok))
        self._bos = self.llm.tokenize(b"", add_bos=True)  # [] when the model adds no BOS
        self.fim = fim.detect(self.special_token)
        # The context builder counts the same lines and definitions on every keystroke, and
        # the prompt repeats the same pieces (definitions, imports, the window above the line).
        self.count_tokens = functools.lru_cache(maxsize=1 << 16)(self._count_tokens)
        self._piece_tokens = functools.lru_cache(maxsize=256)(lambda text: tuple(self.tokenize(text)))
        self._special = functools.lru_cache(maxsize=64)(self.special_token)
        self._plain_markers: set[str] = set()  # markers sent as plain text, warned about once
        self.pieces = vocab_pieces(llama_cpp, vocab, file)
        self._lines_apart = lines_tokenize_apart(llama_cpp, vocab, self.pieces, self.tokenize)
        states = None
        if kv_mode == "perFile" and not vocab_only:
            states = KVStates(kv_budget_bytes or default_budget_bytes(), model_fingerprint(str(file)), context_size, kv_persist_dir)
        self.ctx = Evaluator(self.llm, llama_cpp, kv_mode, states)
        self.reused_tokens = 0  # prompt tokens served from a KV cache, over this model's life
        self.evaluated_tokens = 0
        meta = self.llm.metadata
        self.info = EngineInfo(
            path=str(file),
            size_bytes=file.stat().st_size,
            architecture=meta.get("general.architecture", "unknown"),
            name=meta.get("general.name", file.stem),
            fim=self.fim.family if self.fim else None,
            context_size=context_size,
            gpu_layers=gpu_layers,
            gpu_offload=gpu_offload_supported(),
        )
        lifetime.opened(self)  # closed before the interpreter tears down, at the latest

    @property
    def states(self) -> KVStates | None:
        """The per-file KV states (perFile mode), else None."""
        return self.ctx.states

    def close(self) -> None:
        """Free the model and its context now (see lifetime.py); the last use of this object."""
        lifetime.closed(self)
        self.llm.close()

    def stats(self) -> EngineStats:
        kv = self.ctx.states
        if kv is None:
            return EngineStats(self.evaluated_tokens, self.reused_tokens)
        return EngineStats(self.evaluated_tokens, self.reused_tokens, kv.stats.hits, kv.stats.misses,
                           kv.stats.evictions, kv.stats.disk_hits, len(kv), kv.bytes_held, kv.budget_bytes)

    # -- vocabulary and the prompt's tokens ------------------------------------------------

    def special_token(self, text: str) -> int | None:
        """Id of `text` when the vocabulary has it as one special token, else None."""
        raw = text.encode()
        with_special = self.llm.tokenize(raw, add_bos=False, special=True)
        if len(with_special) != 1:
            return None
        # A special token is matched only when special parsing is on.
        if self.llm.tokenize(raw, add_bos=False, special=False) == with_special:
            return None
        return with_special[0]

    def tokenize(self, text: str) -> list[int]:
        """User text, never parsed for special tokens."""
        return self.llm.tokenize(utf8(text), add_bos=False, special=False) if text else []

    def _count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        header, prefix, suffix = self._prompt_parts(prompt)
        return self._bos + header + fim.layout(self.fim, prefix, suffix)

    def prompt_token_count(self, prompt: Prompt) -> int:
        return len(self.prompt_tokens(prompt))

    def _prompt_parts(self, prompt: Prompt) -> tuple[list[int], list[int], list[int]]:
        """The tokens before the file prefix, of the prefix, and of the suffix. Each part
        tokenized on its own, so a change in one leaves the others' tokens (and their cached
        KV cells) as they were."""
        header: list[int] = []
        prefix: list[int] = []
        file_sep = self.fim.file_sep_id if self.fim else None
        chunks = prompt.chunks()
        if chunks and file_sep is not None:  # repo-level FIM: <file_sep>path\ncontent ...
            if prompt.repo and self.fim.repo_name_id is not None:
                header += [self.fim.repo_name_id, *self.tokenize(f"{prompt.repo}\n")]
            for chunk in chunks:
                header += [file_sep, *self._piece_tokens(f"{chunk.path}\n{chunk.text}\n")]
            header += [file_sep, *self.tokenize(f"{prompt.file_label}\n")]
        else:  # a comment line names each file
            for piece in prompt.headed_chunks():
                prefix += self._piece_tokens(piece)
        prefix += [*self._piece_tokens(prompt.imports), *self._prefix_tokens(prompt.prefix)]
        suffix = list(self._piece_tokens(prompt.suffix)) if self.fim else []
        return header, prefix, suffix

    def _prefix_tokens(self, prefix: str) -> list[int]:
        """Where lines tokenize apart (see lines_tokenize_apart), the lines above the cursor's
        are the same tokens at every keystroke: only the cursor's line is tokenized again
        (7 ms -> 0.5 ms for a 1.5k-token prompt, gemma-3-270m)."""
        cut = prefix.rfind("\n") + 1 if self._lines_apart else 0
        return [*self._piece_tokens(prefix[:cut]), *self.tokenize(prefix[cut:])]

    def _fit(self, tokens: list[int], room: int) -> list[int]:
        """At most `room` tokens: the BOS and the end of the prompt (the cursor is there)."""
        return tokens if len(tokens) <= room else self._bos + tokens[len(tokens) - room + len(self._bos) :]

    def render(self, prompt: Prompt) -> str:
        """The prompt exactly as the model sees it, special tokens spelled out."""
        return self.llm.detokenize(self.prompt_tokens(prompt), special=True).decode("utf-8", "replace")

    # -- generation ---------------------------------------------------------------------------

    def complete(self, prompt: Prompt, params: GenParams, cancel: CancelToken,
                 stop: Stop = lambda text: None, key: str = "") -> Generation:
        """Generate at most max_tokens, within the time budget, until EOS or until `stop`
        returns where to cut the text (checked after every token, so we stop early).
        `key` names the file, whose own KV state is restored first (perFile mode).
        With params.token_healing, a prefix ending inside a word is backed off to a token
        boundary and the generation made to spell the removed text first (healing.py)."""
        header, prefix, suffix = self._prompt_parts(prompt)
        removed = b""
        if params.token_healing:
            taken, removed = healing.rollback(prefix, self.pieces)
            prefix = prefix[: len(prefix) - taken]
        tokens = self._bos + header + fim.layout(self.fim, prefix, suffix)
        return self.generate(tokens, params, cancel, stop, key, heal=removed)

    def first_pieces(self, prompt: Prompt, count: int, cancel: CancelToken, key: str = "") -> list[str]:
        """The `count` likeliest first tokens of a completion of `prompt`, best first, as text
        (end-of-generation and control tokens left out): where alternatives start
        (alternatives.py). The prompt stays in the cache: a generation after it evaluates
        only what it adds. Costs one token's evaluation when the prompt was just completed."""
        import numpy as np

        tokens = self._fit(self.prompt_tokens(prompt), self.llm.n_ctx() - 1)
        with self.ctx.consistent():
            _cached, pending = self.ctx.prefill(tokens, cancel, key)
            self.ctx.decode(pending, outputs_from=len(pending) - 1)
            row = self.ctx.logits(1)[0]
            wanted = (tok for tok in map(int, np.argsort(-row)[: count * 4]) if not self._is_end(tok))
            return [self.llm.detokenize([tok]).decode("utf-8", "replace") for tok in itertools.islice(wanted, count)]

    def rewrite(self, text: str, source: str, params: GenParams, cancel: CancelToken, stop: Stop,
                key: str = "", lookup: bool = True) -> Generation:
        """Continue a plain-text prompt whose answer mostly copies `source` (a fix): with
        `lookup`, greedy decoding drafts the next tokens from `source` (prompt lookup) and
        verifies them in one batch, so copied stretches cost one model step, not one each."""
        tokens = self._bos + self.tokenize(text)
        draft = self.tokenize(source) if lookup and params.temperature == 0 else None
        return self.generate(tokens, params, cancel, stop, key, draft)

    def edit(self, pieces: Pieces, source: str, params: GenParams, cancel: CancelToken, stop: Stop,
             key: str = "", strict: bool = False) -> Generation:
        """A next edit (engine/base.py): the pieces' tokens (edit_tokens), then greedy decoding
        drafting from `source` as `rewrite` does."""
        tokens = self._bos + self.edit_tokens(pieces, strict)
        draft = self.tokenize(source) if params.temperature == 0 else None
        return self.generate(tokens, params, cancel, stop, key, draft)

    def edit_tokens(self, pieces: Pieces, strict: bool = False) -> list[int]:
        """A special piece becomes its one special token; any other piece is user text
        (`tokenize`). A special piece the vocabulary has not as one special token raises
        EngineError with `strict`, else goes as text, logged once per marker."""
        tokens: list[int] = []
        for text, special in pieces:
            token = self._special(text) if special else None
            if token is not None:
                tokens.append(token)
                continue
            if special and strict:
                raise EngineError(f"{self.info.name} is not a next-edit model: its vocabulary has no special token {text!r}")
            if special and text not in self._plain_markers:
                self._plain_markers.add(text)
                logging.getLogger("sokuji").warning("%s has no special token %r (not a next-edit model): it is sent as "
                                                    "plain text, and its next edits will be poor", self.info.name, text)
            tokens += self._piece_tokens(text)
        return tokens

    def generate(self, tokens: list[int], params: GenParams, cancel: CancelToken, stop: Stop = lambda text: None,
                 key: str = "", draft_source: list[int] | None = None, heal: bytes = b"") -> Generation:
        started = time.monotonic()
        draft_source = None if heal else draft_source  # drafts serve fixes, healing completions
        tokens = self._fit(tokens, self.llm.n_ctx() - params.max_tokens - (decoding.LOOKUP_TOKENS if draft_source else 0))
        with self.ctx.consistent():
            cached, pending = self.ctx.prefill(tokens, cancel, key)
            self.evaluated_tokens += len(tokens) - cached
            self.reused_tokens += cached
            healer = healing.Healer(self.pieces, heal) if heal else None
            gated = params.min_confidence > 0 or params.probabilities  # a softmax over the vocabulary per token only when read
            if params.temperature == 0:
                stream = decoding.greedy(self.ctx, pending, draft_source, cancel, healer, gated)
            else:
                stream = decoding.sample(self.llm, tokens, params.temperature, healer, gated)
            out = decoding.write(stream, lambda tok: self.llm.detokenize([tok]), self._is_end, params, cancel, stop, healer)
        return Generation(text=out.text, prompt_tokens=len(tokens), evaluated_tokens=len(tokens) - cached,
                          generated_tokens=out.generated, stop_reason=out.reason, seconds=time.monotonic() - started,
                          healed_bytes=len(heal), confidence=out.confidence, line_tokens=tuple(out.line_tokens))

    def score(self, context: str, continuations: list[str], cancel: CancelToken, key: str = "") -> list[float]:
        """Log-likelihood of each continuation after `context` (the context is evaluated once;
        each continuation in one batch with logits at every position, then rolled back)."""
        with self.ctx.consistent():
            return self._score(context, continuations, cancel, key)

    def _score(self, context: str, continuations: list[str], cancel: CancelToken, key: str) -> list[float]:
        import numpy as np

        llm = self.llm
        base = self._bos + self.tokenize(context)
        base = self._fit(base, llm.n_ctx() - 1 - max((len(self.tokenize(c)) for c in continuations), default=0))
        cached, pending = self.ctx.prefill(base, cancel, key)
        self.evaluated_tokens += len(base) - cached
        if len(pending) > 1:
            self.ctx.decode(pending[:-1], outputs_from=len(pending) - 1)
        n_past = llm.n_tokens  # every token of `base` but the last
        scores = []
        for text in continuations:
            cancel.check()
            tokens = self.tokenize(text)
            batch = [base[-1], *tokens]
            llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
            llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
            llm._ctx.decode(llm._batch)
            logits = self.ctx.logits(len(batch))
            total = 0.0
            for i, t in enumerate(tokens):  # row by row: a float64 copy of every row at once took GBs
                row = logits[i]
                top = float(row.max())
                total += float(row[t]) - top - float(np.log(np.exp(row - top, dtype=np.float64).sum()))
            scores.append(total)
        self.ctx.keep(n_past)
        return scores

    # -- per-file state -----------------------------------------------------------------------

    def forget(self, key: str) -> None:
        """Drop a file's KV state: it was closed, or changed outside the editor."""
        self.ctx.forget(key)

    def persist(self) -> None:
        """Write every held KV state to disk (at shutdown)."""
        self.ctx.persist()

    def reset(self) -> None:
        """Empty the context; the resident file's state is dropped, not saved."""
        self.ctx.reset()
