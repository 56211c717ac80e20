"""The sole owner of llama_cpp.Llama. Called only from the engine worker thread."""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..structs import CancelToken, Generation, GenParams, Prompt
from . import fim

PREFILL_CHUNK = 64  # prompt tokens evaluated between two cancellation checks


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


class Model:
    def __init__(self, path: str, gpu_layers: int = -1, context_size: int = 4096, vocab_only: bool = False):
        import llama_cpp

        file = _check_file(path)
        threads = max(1, os.cpu_count() or 1)
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(file),
                n_gpu_layers=gpu_layers,
                n_ctx=context_size,
                n_threads=threads,
                n_threads_batch=threads,
                vocab_only=vocab_only,
                verbose=bool(os.environ.get("SOKUJI_LLAMA_VERBOSE")),
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load {file}: {exc}") from exc
        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._is_eog = lambda tok: bool(llama_cpp.llama_vocab_is_eog(vocab, tok))
        self._is_control = lambda tok: bool(llama_cpp.llama_vocab_is_control(vocab, tok))
        self._bos = self.llm.tokenize(b"", add_bos=True)  # [] when the model adds no BOS
        self.fim = fim.detect(self.special_token)
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

    def close(self) -> None:
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

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        suffix = self.tokenize(prompt.suffix) if self.fim else []
        return self._bos + fim.layout(self.fim, self.tokenize(prompt.prefix), suffix)

    # -- generation ---------------------------------------------------------------------------

    def complete(
        self,
        prompt: Prompt,
        params: GenParams,
        cancel: CancelToken,
        stop: Callable[[str], int | None] = lambda text: None,
    ) -> Generation:
        """Generate at most max_tokens, within the time budget, until EOS or until `stop`
        returns where to cut the text (checked after every token, so we stop early)."""
        started = time.monotonic()
        tokens = self.prompt_tokens(prompt)
        room = self.llm.n_ctx() - params.max_tokens
        if len(tokens) > room:  # keep the end of the prompt: the cursor is there
            tokens = self._bos + tokens[len(tokens) - room + len(self._bos) :]
        evaluated = self._prefill(tokens, cancel)

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = ""
        generated = 0
        reason = "max_tokens"
        deadline = time.monotonic() + params.time_budget_ms / 1000
        for tok in self.llm.generate(
            tokens, temp=params.temperature, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0
        ):
            if cancel.cancelled:
                reason = "cancelled"
                break
            if self._is_eog(tok) or self._is_control(tok):
                reason = "eos"
                break
            generated += 1
            piece = self.llm.detokenize([tok])
            text += decoder.decode(piece)
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
        )

    def _prefill(self, tokens: list[int], cancel: CancelToken) -> int:
        """Evaluate all prompt tokens but the last, reusing the longest cached prefix.

        Done in small chunks so a cancellation stops prompt evaluation too. Returns how
        many tokens were actually evaluated (the last one is evaluated by generate()).
        """
        llm = self.llm
        cached = llm.longest_token_prefix(llm._input_ids.tolist(), tokens)
        cached = min(cached, len(tokens) - 1)
        llm.n_tokens = cached  # eval() drops the KV cells past n_tokens before decoding
        for start in range(cached, len(tokens) - 1, PREFILL_CHUNK):
            cancel.check()
            llm.eval(tokens[start : min(start + PREFILL_CHUNK, len(tokens) - 1)])
        cancel.check()
        return len(tokens) - cached
