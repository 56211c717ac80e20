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


def write_vocab_gguf(path: Path, specials: list[str]) -> Path:
    """A byte-level BPE vocabulary: printable ASCII, space, newline, a merge, then `specials`
    as CONTROL tokens. The first special is EOS/BOS."""
    writer = gguf.GGUFWriter(str(path), "llama")
    for add, value in [
        (writer.add_block_count, 1), (writer.add_context_length, 256), (writer.add_embedding_length, 8),
        (writer.add_feed_forward_length, 8), (writer.add_head_count, 1), (writer.add_head_count_kv, 1),
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
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
