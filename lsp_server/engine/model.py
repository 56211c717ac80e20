"""The sole owner of llama_cpp.Llama. Called only from the engine worker thread."""

from __future__ import annotations

import array
import codecs
import contextlib
import ctypes
import functools
import io
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import faults
from ..structs import CancelledError, CancelToken, Generation, GenParams, Prompt
from . import fim, healing
from .confidence import Confidence
from . import lifetime
from .kv_cache import FileState, KVStates, default_budget_bytes, model_fingerprint

# Prompt tokens evaluated between two cancellation checks. Measured on 2 CPU cores with
# gemma-3-270m, 1.5k-token prompt: 64 -> 544 tok/s, 128 -> 587, 256 -> 609, 512 -> 585;
# 128 keeps a cancel within ~0.2 s there for 7% more throughput than 64.
PREFILL_CHUNK = 128
SMALL_REUSE = 64  # a cached prefix shorter than this is re-evaluated (see _prefill)
FIRST_BATCH = 16  # at most this many new prompt tokens are evaluated with the first generated one
LOOKUP_TOKENS = 10  # tokens drafted per step by prompt lookup (fixes)


def _probability(row, tok: int) -> float:
    """Softmax probability of `tok` in a row of logits."""
    import numpy as np

    top = float(row.max())
    return float(np.exp(float(row[tok]) - top) / np.exp(row - top, dtype=np.float64).sum())


class ModelError(Exception):
    """The model file is missing, unreadable or not a GGUF llama.cpp can load."""


@dataclass(frozen=True)
class ModelInfo:
    path: str
    size_bytes: int
    architecture: str
    name: str
    fim: str | None  # FIM family, None = prefix-only prompts
    context_size: int
    gpu_layers: int
    gpu_offload: bool  # this llama.cpp build can offload to a GPU


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def _check_file(path: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ModelError(f"model file not found: {file}")
    try:
        with file.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"model file unreadable: {file}: {exc.strerror}") from exc
    if magic != b"GGUF":
        raise ModelError(f"not a GGUF file: {file}")
    return file.resolve()


KV_MODES = ("perFile", "shared", "off")
_PIECES: dict[tuple, healing.Pieces] = {}  # by model file: the vocabulary is read once per process


def vocab_pieces(llama_cpp, vocab, file: Path) -> healing.Pieces:
    """What each token writes (special tokens as nothing), and which tokens user text may
    contain (not control or end-of-generation ones). 0.5 s for Gemma's 262k pieces."""
    stat = file.stat()
    key = (str(file), stat.st_size, stat.st_mtime_ns)
    if key not in _PIECES:
        buf = ctypes.create_string_buffer(256)
        pieces, usable = [], []
        for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
            if n < 0:  # longer than the buffer
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
            pieces.append(buf.raw[: max(n, 0)])
            usable.append(not (llama_cpp.llama_vocab_is_control(vocab, token) or llama_cpp.llama_vocab_is_eog(vocab, token)))
        _PIECES[key] = healing.Pieces(pieces, usable)
    return _PIECES[key]


def lines_tokenize_apart(llama_cpp, vocab, pieces: healing.Pieces, tokenize: Callable[[str], list[int]]) -> bool:
    """Whether text ending in a newline and the text after it tokenize to the same tokens
    apart as together. True for a SentencePiece vocabulary (merges of neighbours, no
    pre-tokenizer to split differently) where no piece goes on past a newline (no merge can
    span one) and nothing is prepended to a text (no space prefix). A BPE vocabulary's
    pre-tokenizer may join a newline to the indentation after it: never assumed there."""
    if llama_cpp.llama_vocab_type(vocab) != llama_cpp.LLAMA_VOCAB_TYPE_SPM:
        return False
    if tokenize("a\n b") != tokenize("a\n") + tokenize(" b"):
        return False
    return not any(b"\n" in piece.rstrip(b"\n") for piece in pieces.pieces)


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
        """kv_mode: "perFile" keeps a KV state per file; "shared" keeps only the one context's
        prefix (llama-cpp-python's default reuse); "off" evaluates every prompt in full."""
        import llama_cpp

        self._llama_cpp = llama_cpp

        file = _check_file(path)
        threads = max(1, os.cpu_count() or 1)
        # llama-cpp-python's verbose=False silences loading by pointing file descriptors 1 and 2
        # at /dev/null, process-wide: LSP messages the event loop writes to stdout meanwhile
        # would be lost. So load with verbose=True (no descriptor games) and catch the chatter,
        # which goes through Python's sys.stderr, here instead.
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stderr(sys.stderr if os.environ.get("SOKUJI_LLAMA_VERBOSE") else chatter):
                try:
                    self.llm = self._load(llama_cpp, file, gpu_layers, context_size, threads, vocab_only, flash_attn=True)
                except ValueError:  # a context llama.cpp cannot build with flash attention
                    self.llm = self._load(llama_cpp, file, gpu_layers, context_size, threads, vocab_only, flash_attn=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load {file}: {exc}") from exc
        if not os.environ.get("SOKUJI_LLAMA_VERBOSE"):
            self.llm.verbose = False
            logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # its log callback: errors only
        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._is_eog = lambda tok: bool(llama_cpp.llama_vocab_is_eog(vocab, tok))
        self._is_control = lambda tok: bool(llama_cpp.llama_vocab_is_control(vocab, tok))
        self._bos = self.llm.tokenize(b"", add_bos=True)  # [] when the model adds no BOS
        self.fim = fim.detect(self.special_token)
        # The context builder counts the same lines and definitions on every keystroke, and
        # the prompt repeats the same pieces (definitions, imports, the window above the line).
        self.count_tokens = functools.lru_cache(maxsize=1 << 16)(self._count_tokens)
        self._piece_tokens = functools.lru_cache(maxsize=256)(lambda text: tuple(self.tokenize(text)))
        self.pieces = vocab_pieces(llama_cpp, vocab, file)
        self._lines_apart = lines_tokenize_apart(llama_cpp, vocab, self.pieces, self.tokenize)
        self.kv_mode = kv_mode
        self.states: KVStates | None = None
        if kv_mode == "perFile" and not vocab_only:
            self.states = KVStates(
                kv_budget_bytes or default_budget_bytes(), model_fingerprint(str(file)), context_size, kv_persist_dir
            )
        self._resident: str | None = None  # the file whose tokens the context holds
        self.reused_tokens = 0  # prompt tokens served from a KV cache, over this model's life
        self.evaluated_tokens = 0
        meta = self.llm.metadata
        self.info = ModelInfo(
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

    @staticmethod
    def _load(llama_cpp, file: Path, gpu_layers: int, context_size: int, threads: int, vocab_only: bool, flash_attn: bool):
        # Flash attention (llama-cpp-python leaves it off; llama-server's "auto" turns it on):
        # measured 15.1 vs 17.2 ms per generated token, gemma-3-270m, 1.4k-token context, 2 CPU cores.
        return llama_cpp.Llama(
            model_path=str(file),
            n_gpu_layers=gpu_layers,
            n_ctx=context_size,
            n_threads=threads,
            n_threads_batch=threads,
            vocab_only=vocab_only,
            flash_attn=flash_attn,
            verbose=True,
        )

    def close(self) -> None:
        """Free the model and its context now (see lifetime.py); the last use of this object."""
        lifetime.closed(self)
        self.llm.close()

    # -- vocabulary ---------------------------------------------------------------------------

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
        return self.llm.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=False, special=False) if text else []

    def _count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        header, prefix, suffix = self._prompt_parts(prompt)
        return self._bos + header + fim.layout(self.fim, prefix, suffix)

    def _prompt_parts(self, prompt: Prompt) -> tuple[list[int], list[int], list[int]]:
        """The tokens before the file prefix, of the prefix, and of the suffix. Each part
        tokenized on its own, so a change in one leaves the others' tokens (and their cached
        KV cells) as they were."""
        header: list[int] = []
        prefix: list[int] = []
        file_sep = self.fim.file_sep_id if self.fim else None
        if prompt.extra and file_sep is not None:  # repo-level FIM: <file_sep>path\ncontent ...
            if prompt.repo and self.fim.repo_name_id is not None:
                header += [self.fim.repo_name_id, *self.tokenize(f"{prompt.repo}\n")]
            for chunk in prompt.extra:
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

    def complete(
        self,
        prompt: Prompt,
        params: GenParams,
        cancel: CancelToken,
        stop: Callable[[str], int | None] = lambda text: None,
        key: str = "",
    ) -> Generation:
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

        tokens = self.prompt_tokens(prompt)
        tokens = self._fit(tokens, self.llm.n_ctx() - 1)
        with self._consistent():
            if self.states is not None and key != self._resident:
                self._switch_to(key, tokens)
            _cached, pending = self._prefill(tokens, cancel)
            self._decode(pending, outputs_from=len(pending) - 1)
            row = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(1, self.llm.n_vocab()))[0]
            pieces = []
            for tok in np.argsort(-row)[: count * 4]:
                tok = int(tok)
                if self._is_eog(tok) or self._is_control(tok):
                    continue
                pieces.append(self.llm.detokenize([tok]).decode("utf-8", "replace"))
                if len(pieces) == count:
                    break
            return pieces

    def rewrite(
        self,
        text: str,
        source: str,
        params: GenParams,
        cancel: CancelToken,
        stop: Callable[[str], int | None],
        key: str = "",
        lookup: bool = True,
    ) -> Generation:
        """Continue a plain-text prompt whose answer mostly copies `source` (a fix): with
        `lookup`, greedy decoding drafts the next tokens from `source` (prompt lookup) and
        verifies them in one batch, so copied stretches cost one model step, not one each."""
        tokens = self._bos + self.tokenize(text)
        draft = self.tokenize(source) if lookup and params.temperature == 0 else None
        return self.generate(tokens, params, cancel, stop, key, draft)

    def generate(
        self,
        tokens: list[int],
        params: GenParams,
        cancel: CancelToken,
        stop: Callable[[str], int | None] = lambda text: None,
        key: str = "",
        draft_source: list[int] | None = None,
        heal: bytes = b"",
    ) -> Generation:
        started = time.monotonic()
        draft_source = None if heal else draft_source  # drafts serve fixes, healing completions
        tokens = self._fit(tokens, self.llm.n_ctx() - params.max_tokens - (LOOKUP_TOKENS if draft_source else 0))
        with self._consistent():
            return self._generate(tokens, params, cancel, stop, key, draft_source, heal, started)

    def _generate(self, tokens, params, cancel, stop, key, draft_source, heal, started) -> Generation:
        if self.states is not None and key != self._resident:
            self._switch_to(key, tokens)
        cached, pending = self._prefill(tokens, cancel)
        evaluated = len(tokens) - cached
        self.evaluated_tokens += evaluated
        self.reused_tokens += cached

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = ""
        generated = 0
        reason = "max_tokens"
        deadline = time.monotonic() + params.time_budget_ms / 1000
        healer = healing.Healer(self.pieces, heal) if heal else None
        sure = Confidence(params.min_confidence)
        gated = params.min_confidence > 0  # a softmax over the vocabulary per token only when the gate reads it
        if params.temperature == 0:
            stream = self._lookup_greedy(pending, draft_source, cancel, healer, gated)
        else:
            stream = self._sample(tokens, params.temperature, healer, gated)
        for tok, prob in stream:
            faults.point("token", cancel)  # where the tests hold a request in flight
            if cancel.cancelled:
                reason = "cancelled"
                break
            if self._is_eog(tok) or self._is_control(tok):
                reason = "eos"
                break
            generated += 1
            faults.point("decode")
            piece = self.llm.detokenize([tok])
            if not sure.keeps(prob):  # the model is unsure from here on: show what it was sure of
                text = sure.cut(text)
                reason = "unsure"
                break
            text += decoder.decode(healer.take(piece) if healer else piece)
            sure.wrote(text)
            cut = stop(text)
            if cut is not None:
                text = text[:cut]
                reason = "stop"
                break
            if generated >= params.max_tokens:
                break
            if time.monotonic() > deadline:
                reason = "time"
                break
        if reason != "stop":
            text += decoder.decode(b"", final=True)
        return Generation(
            text=text,
            prompt_tokens=len(tokens),
            evaluated_tokens=evaluated,
            generated_tokens=generated,
            stop_reason=reason,
            seconds=time.monotonic() - started,
            healed_bytes=len(heal),
            confidence=sure.first_line if gated else None,
        )

    def _sample(
        self, tokens: list[int], temperature: float, healer: healing.Healer | None, probabilities: bool
    ) -> Iterator[tuple[int, float]]:
        """Sampled tokens with their probabilities (before sampling's cut-offs; 1.0 unless
        `probabilities`), through llama-cpp-python's sampler; a healing constraint goes in as
        a logits processor."""
        import numpy as np

        seen: list[np.ndarray] = []

        def constrain(_ids, scores):
            allowed = healer.allowed() if healer is not None else None
            if allowed is not None:
                masked = np.full_like(scores, -np.inf)
                masked[allowed] = scores[allowed]
                scores = masked
            seen.append(scores)
            return scores

        for tok in self.llm.generate(tokens, temp=temperature, top_k=40, top_p=0.95, min_p=0.05,
                                     repeat_penalty=1.0, logits_processor=[constrain]):
            scores = seen.pop()
            yield tok, _probability(scores, tok) if probabilities else 1.0

    def score(self, context: str, continuations: list[str], cancel: CancelToken, key: str = "") -> list[float]:
        """Log-likelihood of each continuation after `context` (the context is evaluated once;
        each continuation in one batch with logits at every position, then rolled back)."""
        with self._consistent():
            return self._score(context, continuations, cancel, key)

    def _score(self, context: str, continuations: list[str], cancel: CancelToken, key: str) -> list[float]:
        import numpy as np

        llm = self.llm
        base = self._bos + self.tokenize(context)
        base = self._fit(base, llm.n_ctx() - 1 - max((len(self.tokenize(c)) for c in continuations), default=0))
        if self.states is not None and key != self._resident:
            self._switch_to(key, base)
        cached, pending = self._prefill(base, cancel)
        self.evaluated_tokens += len(base) - cached
        if len(pending) > 1:
            self._decode(pending[:-1], outputs_from=len(pending) - 1)
        n_past = llm.n_tokens  # every token of `base` but the last
        scores = []
        for text in continuations:
            cancel.check()
            tokens = self.tokenize(text)
            batch = [base[-1], *tokens]
            llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
            llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
            llm._ctx.decode(llm._batch)
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(batch), llm.n_vocab()))
            total = 0.0
            for i, t in enumerate(tokens):  # row by row: a float64 copy of every row at once took GBs
                row = logits[i]
                top = float(row.max())
                total += float(row[t]) - top - float(np.log(np.exp(row - top, dtype=np.float64).sum()))
            scores.append(total)
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm.n_tokens = n_past
        return scores

    def _lookup_greedy(
        self, prompt_rest: list[int], source: list[int] | None, cancel: CancelToken,
        healer: healing.Healer | None = None, probabilities: bool = False,
    ) -> Iterator[tuple[int, float]]:
        """Greedy tokens after the prompt, whose `prompt_rest` is not evaluated yet (it goes in
        the first batch, logits at its last token only), straight from the logits
        (llama-cpp-python's sampler would build a candidate array over the whole vocabulary,
        262k for Gemma, at every token).

        With a `source`, several per model step where they copy it: llama-cpp-python's
        LlamaPromptLookupDecoding proposes the tokens that followed the last n-gram in
        `source`; one batch evaluates them, with logits at every position, and the prefix
        the model agrees with is kept (its KV cells too; the rest are dropped). Only this
        batch computes all-position logits: a context built with logits_all (what
        Llama(draft_model=...) does) would pay for them on every prompt token too. Not used
        for completions: on a CPU each extra position costs about a whole token (the output
        layer over the vocabulary dominates), so only long copies (fixes) gain.

        Each token comes with its probability (1.0 unless `probabilities`); while a `healer`
        constrains the choice, the best allowed token is taken, its probability among the
        allowed ones."""
        import numpy as np
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        llm = self.llm
        propose = LlamaPromptLookupDecoding(max_ngram_size=3, num_pred_tokens=LOOKUP_TOKENS)
        out: list[int] = []
        pending = prompt_rest
        while True:
            cancel.check()
            if source is None:
                guess = []
            elif out:
                guess = [int(t) for t in propose(np.array(source + out + pending, dtype=np.intc))]
            else:  # nothing written yet: a fix starts by copying the start of its source
                guess = source[:LOOKUP_TOKENS]
            n_past = llm.n_tokens
            guess = guess[: max(0, llm.n_ctx() - n_past - 1)]
            if guess:
                llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
            self._decode([*pending, *guess], outputs_from=len(pending) - 1)
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(1 + len(guess), llm.n_vocab()))
            allowed = healer.allowed() if healer is not None else None
            if allowed is not None:  # healing: no drafts (they serve fixes only)
                row = logits[0][allowed]
                best_allowed = int(row.argmax())
                yield int(allowed[best_allowed]), _probability(row, best_allowed) if probabilities else 1.0
                pending = [int(allowed[best_allowed])]
                continue
            best = logits.argmax(axis=1)
            agreed = 0
            while agreed < len(guess) and guess[agreed] == best[agreed]:
                agreed += 1
            llm.n_tokens = n_past + len(pending) + agreed  # pending and the agreed guesses stay in the cache
            if agreed < len(guess):
                llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
            out += pending[-1:]  # n-grams are looked up from the prompt's last token on
            for i, tok in enumerate([*guess[:agreed], int(best[agreed])]):
                yield tok, _probability(logits[i], tok) if probabilities else 1.0
                out.append(tok)
            pending = [out.pop()]  # the model's own next token: evaluated in the next batch

    def _prefill(self, tokens: list[int], cancel: CancelToken) -> tuple[int, list[int]]:
        """Evaluate the prompt up to the tokens the caller's first batch takes, reusing the
        longest cached prefix. Returns how many tokens were reused, and those last tokens.

        A few new tokens (a keystroke's) go in that first batch, with the first generated
        token's logits: 21 ms against 39 for two tokens evaluated apart (the output layer over
        a 262k vocabulary costs as much as the rest of the model). More (a cold prompt) are
        evaluated here in chunks without logits, so a cancellation stops prompt evaluation
        too, and the last token is left alone: a cold start and a restored state then give
        the last token the same batch, so the same numerics and the same greedy completion.
        """
        llm = self.llm
        cached = 0 if self.kv_mode == "off" else llm.longest_token_prefix(llm._input_ids.tolist(), tokens)
        if cached < SMALL_REUSE:
            # Reusing a few tokens (BOS, a shared header) saves little, but would shift every
            # batch boundary; llama.cpp's numerics depend on batch composition, so greedy output
            # could then differ from a cold start. Start over: same chunks, same answer.
            cached = 0
        cached = min(cached, len(tokens) - 1)
        llm.n_tokens = cached
        llm._ctx.kv_cache_seq_rm(-1, cached, -1)  # cells past the shared prefix belong to an older prompt
        last = cached if len(tokens) - cached <= FIRST_BATCH else len(tokens) - 1
        for start in range(cached, last, PREFILL_CHUNK):
            cancel.check()
            self._decode(tokens[start : min(start + PREFILL_CHUNK, last)], outputs_from=PREFILL_CHUNK)
        cancel.check()
        return cached, tokens[last:]

    def _decode(self, batch: list[int], outputs_from: int) -> None:
        """Evaluate `batch` after the context's tokens, with logits at positions >= outputs_from."""
        llm = self.llm
        n_past = llm.n_tokens
        llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=False)
        flags = llm._batch.batch.logits
        for i in range(len(batch)):
            flags[i] = i >= outputs_from
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(batch)] = batch
        llm.n_tokens = n_past + len(batch)

    @contextlib.contextmanager
    def _consistent(self) -> Iterator[None]:
        """An error in the middle of an evaluation leaves KV cells that no token list
        describes: forget them, so the next request starts cold instead of trusting them.
        (A cancellation is checked only between whole evaluations: nothing to forget.)"""
        try:
            yield
        except CancelledError:
            raise
        except BaseException:
            self.reset()
            raise

    def reset(self) -> None:
        """Empty the context; the resident file's state is dropped, not saved."""
        self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        self.llm.n_tokens = 0
        self._resident = None

    # -- per-file KV states ---------------------------------------------------------------

    def _switch_to(self, key: str, tokens: list[int]) -> None:
        """Stash the resident file's state, then restore `key`'s if it shares more of the prompt."""
        assert self.states is not None
        if self._resident is not None and self.llm.n_tokens > 0:
            self.states.put(self._resident, self._capture())
        state = self.states.take(key)
        if state is not None:
            llm = self.llm
            if llm.longest_token_prefix(state.tokens, tokens) > llm.longest_token_prefix(llm._input_ids.tolist(), tokens):
                self._restore(state)
        self._resident = key

    def _capture(self) -> FileState:
        llm, lc = self.llm, self._llama_cpp
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)  # cells past n_tokens belong to no prompt
        size = lc.llama_state_seq_get_size(llm.ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        written = lc.llama_state_seq_get_data(llm.ctx, buf, size, 0)
        # kept as the ctypes buffer itself: a state is tens of MB, and every copy shows in a file switch
        data = buf if written == size else (ctypes.c_uint8 * written).from_buffer(buf)
        return FileState(array.array("i", llm._input_ids.tolist()), data)

    def _restore(self, state: FileState) -> None:
        llm, lc = self.llm, self._llama_cpp
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.n_tokens = 0
        data = state.data  # a captured buffer as it is; a state read from disk is bytes
        buf = data if isinstance(data, ctypes.Array) else (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if lc.llama_state_seq_set_data(llm.ctx, buf, len(buf), 0) == 0:
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)  # a state llama.cpp refuses: start cold
            return
        n = len(state.tokens)
        llm.input_ids[:n] = state.tokens
        llm.n_tokens = n

    def forget(self, key: str) -> None:
        """Drop a file's state: it was closed, or changed outside the editor."""
        if self.states is not None:
            self.states.drop(key)
        if key == self._resident:
            self._resident = None

    def persist(self) -> None:
        """Write every held state to disk (at shutdown), the resident file's included."""
        if self.states is None or self.states.persist_dir is None:
            return
        if self._resident is not None and self.llm.n_tokens > 0:
            self.states.put(self._resident, self._capture())
        self.states.persist_all()
