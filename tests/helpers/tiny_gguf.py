"""Build tiny vocabulary-only GGUF files carrying a model family's special tokens.

No FIM code model can be downloaded here, so these stand in for their vocabularies: real
GGUF files, written with the `gguf` package and loaded by llama.cpp itself (vocab_only),
so FIM detection runs the same code path as with the real model. They hold no weights.
"""

from __future__ import annotations

from pathlib import Path

import gguf

FAMILY_TOKENS: dict[str, list[str]] = {
    "qwen2.5-coder": ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                      "<|repo_name|>", "<|file_sep|>"],
    "codegemma": ["<eos>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_separator|>"],
    "starcoder": ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<file_sep>",
                  "<reponame>"],
    "codellama": ["</s>", "▁<PRE>", "▁<MID>", "▁<SUF>", "▁<EOT>"],
    "deepseek-coder": ["<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"],
    "codestral": ["</s>", "[INST]", "[PREFIX]", "[SUFFIX]", "[MIDDLE]"],
    "none": ["<eos>", "<start_of_turn>", "<end_of_turn>"],
}


def _writer(path: Path, specials: list[str], context: int, ffn: int, name: str | None = None) -> tuple[gguf.GGUFWriter, int]:
    """A llama-architecture writer with one 8-wide block's hyperparameters and a byte-level BPE
    vocabulary: printable ASCII, space, newline, a merge, then `specials` as CONTROL tokens
    (the first is EOS/BOS). Returns the writer and the vocabulary's size."""
    writer = gguf.GGUFWriter(str(path), "llama")
    if name:
        writer.add_name(name)
    for add, value in [
        (writer.add_block_count, 1), (writer.add_context_length, context), (writer.add_embedding_length, 8),
        (writer.add_feed_forward_length, ffn), (writer.add_head_count, 1), (writer.add_head_count_kv, 1),
        (writer.add_rope_dimension_count, 8), (writer.add_layer_norm_rms_eps, 1e-5),
    ]:
        add(value)
    normal = [chr(c) for c in range(33, 127)] + ["Ġ", "Ċ", "de"]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(normal + specials)
    writer.add_token_types([gguf.TokenType.NORMAL] * len(normal) + [gguf.TokenType.CONTROL] * len(specials))
    writer.add_token_merges(["d e"])
    writer.add_bos_token_id(len(normal))
    writer.add_eos_token_id(len(normal))
    writer.add_add_bos_token(False)
    return writer, len(normal) + len(specials)


def _finish(writer: gguf.GGUFWriter, path: Path) -> Path:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_vocab_gguf(path: Path, specials: list[str]) -> Path:
    """The vocabulary alone (no weights: llama.cpp loads it vocab_only)."""
    writer, _ = _writer(path, specials, context=256, ffn=8)
    return _finish(writer, path)


def write_tiny_model(path: Path, specials: list[str], name: str = "tiny", padding: int = 0) -> Path:
    """A whole model, weights included (one llama block, 8-wide, random): llama.cpp loads and
    runs it, so a server can answer with it. What it writes is noise; the tests that use it
    are about which model answers, not what it says. `padding` bytes of metadata make it as
    large as a download test needs."""
    import numpy as np

    writer, vocab = _writer(path, specials, context=4096, ffn=16, name=name)
    if padding:
        writer.add_string("sokuji.test.padding", "x" * padding)
    rng = np.random.default_rng(0)

    def weights(*shape):
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)

    writer.add_tensor("token_embd.weight", weights(vocab, 8))
    writer.add_tensor("output_norm.weight", np.ones(8, np.float32))
    writer.add_tensor("output.weight", weights(vocab, 8))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(8, np.float32))
    for part in ("q", "k", "v", "output"):
        writer.add_tensor(f"blk.0.attn_{part}.weight", weights(8, 8))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(8, np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weights(16, 8))
    writer.add_tensor("blk.0.ffn_up.weight", weights(16, 8))
    writer.add_tensor("blk.0.ffn_down.weight", weights(8, 16))
    return _finish(writer, path)
