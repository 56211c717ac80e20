"""The llama context's tokens and KV cells: prompt evaluation that reuses the longest
cached prefix, and the per-file KV states (perFile mode) swapped in and out of the one
context. Used by Model only, on the engine worker thread."""

from __future__ import annotations

import array
import contextlib
import ctypes
from collections.abc import Iterator

from ..structs import CancelledError, CancelToken
from .kv_cache import FileState, KVStates

# Prompt tokens evaluated between two cancellation checks. Measured on 2 CPU cores with
# gemma-3-270m, 1.5k-token prompt: 64 -> 544 tok/s, 128 -> 587, 256 -> 609, 512 -> 585;
# 128 keeps a cancel within ~0.2 s there for 7% more throughput than 64.
PREFILL_CHUNK = 128
SMALL_REUSE = 64  # a cached prefix shorter than this is re-evaluated (see prefill)
FIRST_BATCH = 16  # at most this many new prompt tokens are evaluated with the first generated one
KV_MODES = ("perFile", "shared", "off")


class Evaluator:
    def __init__(self, llm, llama_cpp, kv_mode: str, states: KVStates | None) -> None:
        """kv_mode: "perFile" keeps a KV state per file (in `states`); "shared" keeps only the
        one context's prefix (llama-cpp-python's default reuse); "off" evaluates every prompt
        in full."""
        self.llm = llm
        self._llama_cpp = llama_cpp
        self.kv_mode = kv_mode
        self.states = states
        self._resident: str | None = None  # the file whose tokens the context holds

    def logits(self, rows: int):
        """The last evaluation's logits, `rows` rows (a view, not a copy)."""
        import numpy as np

        return np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(rows, self.llm.n_vocab()))

    def prefill(self, tokens: list[int], cancel: CancelToken, key: str = "") -> tuple[int, list[int]]:
        """Evaluate the prompt up to the tokens the caller's first batch takes, reusing the
        longest cached prefix (`key`'s own state first, in perFile mode). Returns how many
        tokens were reused, and those last tokens.

        A few new tokens (a keystroke's) go in that first batch, with the first generated
        token's logits: 21 ms against 39 for two tokens evaluated apart (the output layer over
        a 262k vocabulary costs as much as the rest of the model). More (a cold prompt) are
        evaluated here in chunks without logits, so a cancellation stops prompt evaluation
        too, and the last token is left alone: a cold start and a restored state then give
        the last token the same batch, so the same numerics and the same greedy completion.
        """
        if self.states is not None and key != self._resident:
            self._switch_to(key, tokens)
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
            self.decode(tokens[start : min(start + PREFILL_CHUNK, last)], outputs_from=PREFILL_CHUNK)
        cancel.check()
        return cached, tokens[last:]

    def decode(self, batch: list[int], outputs_from: int) -> None:
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

    def keep(self, n_tokens: int) -> None:
        """Keep the first `n_tokens` of the context; later cells belong to no prompt."""
        self.llm._ctx.kv_cache_seq_rm(-1, n_tokens, -1)
        self.llm.n_tokens = n_tokens

    @contextlib.contextmanager
    def consistent(self) -> Iterator[None]:
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
        self.keep(0)
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
        self.keep(0)
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
