"""What a llama.cpp model file is, read once: the file's check, and its vocabulary as bytes
(token healing's pieces, whether lines tokenize apart). No generation here."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

from . import healing
from .base import EngineError

_PIECES: dict[tuple, healing.Pieces] = {}  # by model file: the vocabulary is read once per process


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def check_file(path: str) -> Path:
    """The model file, resolved, once it is a readable GGUF file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise EngineError(f"model file not found: {file}")
    try:
        with file.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise EngineError(f"model file unreadable: {file}: {exc.strerror}") from exc
    if magic != b"GGUF":
        raise EngineError(f"not a GGUF file: {file}")
    return file.resolve()


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
