"""FIM template detection and prompt layout, on vocabularies loaded by llama.cpp."""

import pytest

from lsp_server.engine import fim
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.model import Model
from lsp_server.structs import Chunk, Prompt

from ..helpers.tiny_gguf import FAMILY_TOKENS, write_vocab_gguf


@pytest.fixture(scope="module")
def vocab_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("vocab")
    models = {name: Model(str(write_vocab_gguf(root / f"{name}.gguf", toks)), vocab_only=True, context_size=256)
              for name, toks in FAMILY_TOKENS.items()}
    yield models
    for model in models.values():
        model.close()


@pytest.mark.parametrize("family", [f for f in FAMILY_TOKENS if f != "none"])
def test_family_detected_from_vocabulary(vocab_models, family):
    assert vocab_models[family].fim is not None
    assert vocab_models[family].fim.family == family
    assert vocab_models[family].info.fim == family


def test_vocabulary_without_fim_tokens_gets_prefix_only(vocab_models):
    assert vocab_models["none"].fim is None


def test_embedded_gemma_has_no_fim_tokens():
    model = Model(embedded_model_path(), vocab_only=True, context_size=256)
    assert model.info.architecture == "gemma3"
    assert model.fim is None
    assert model.special_token("<start_of_turn>") is not None  # the lookup does see real special tokens
    model.close()


def test_repo_level_tokens_found(vocab_models):
    qwen = vocab_models["qwen2.5-coder"].fim
    lookup = vocab_models["qwen2.5-coder"].special_token
    assert qwen.file_sep_id == lookup("<|file_sep|>") and qwen.repo_name_id == lookup("<|repo_name|>")
    assert vocab_models["codellama"].fim.file_sep_id is None


def test_layout_orders():
    psm = fim.FimTemplate("x", prefix_id=1, suffix_id=2, middle_id=3, suffix_first=False)
    spm = fim.FimTemplate("y", prefix_id=1, suffix_id=2, middle_id=None, suffix_first=True)
    assert fim.layout(psm, [10, 11], [20]) == [1, 10, 11, 2, 20, 3]
    assert fim.layout(spm, [10, 11], [20]) == [2, 20, 1, 10, 11]
    assert fim.layout(None, [10, 11], [20]) == [10, 11]


@pytest.mark.parametrize("family", ["qwen2.5-coder", "starcoder", "codellama", "deepseek-coder"])
def test_prompt_tokens_prefix_suffix_middle(vocab_models, family):
    model = vocab_models[family]
    t = model.fim
    tokens = model.prompt_tokens(Prompt(prefix="def f(", suffix=")\n"))
    assert tokens == [t.prefix_id, *model.tokenize("def f("), t.suffix_id, *model.tokenize(")\n"), t.middle_id]


def test_codestral_puts_suffix_first(vocab_models):
    model = vocab_models["codestral"]
    t = model.fim
    tokens = model.prompt_tokens(Prompt(prefix="a=", suffix="b"))
    assert tokens == [t.suffix_id, *model.tokenize("b"), t.prefix_id, *model.tokenize("a=")]


def test_user_code_cannot_inject_special_tokens(vocab_models):
    model = vocab_models["qwen2.5-coder"]
    code = 's = "<|fim_middle|>"'
    tokens = model.tokenize(code)
    assert model.fim.middle_id not in tokens
    assert model.llm.detokenize(tokens).decode() == code


def test_prefix_only_prompt_ignores_suffix(vocab_models):
    model = vocab_models["none"]
    assert model.prompt_tokens(Prompt(prefix="x = ", suffix="tail")) == model.tokenize("x = ")


def test_repo_level_layout_puts_each_file_after_a_file_separator(vocab_models):
    """Qwen2.5-Coder-style: <|file_sep|>path\\ncontent ... <|file_sep|>this file\\n<|fim_prefix|>..."""
    model = vocab_models["qwen2.5-coder"]
    t = model.fim
    prompt = Prompt(prefix="x = f(", suffix=")", imports="import a\n", file_label="b.py", repo="proj",
                    extra=(Chunk("a.py", "def f(y): ..."),))
    tokens = model.prompt_tokens(prompt)
    assert tokens == [
        t.repo_name_id, *model.tokenize("proj\n"), t.file_sep_id, *model.tokenize("a.py\ndef f(y): ...\n"), t.file_sep_id, *model.tokenize("b.py\n"),
        t.prefix_id, *model.tokenize("import a\n"), *model.tokenize("x = f("), t.suffix_id, *model.tokenize(")"),
        t.middle_id,
    ]
    assert model.render(prompt).startswith("<|repo_name|>proj\n<|file_sep|>a.py\ndef f(y): ...\n<|file_sep|>b.py\n<|fim_prefix|>import a\n")


def test_without_file_tokens_each_chunk_gets_a_comment_header(vocab_models):
    for family in ("codellama", "none"):  # FIM without repo tokens, and prefix-only
        model = vocab_models[family]
        prompt = Prompt(prefix="x = f(", suffix=")", file_label="b.py", comment="#", extra=(Chunk("a.py", "def f(y): ..."),))
        text = model.render(prompt)
        assert "# a.py\ndef f(y): ...\n\n# b.py\nx = f(" in text


def test_gemma_prompt_tokenized_line_by_line_equals_whole():
    """The lines above the cursor's are tokenized once and reused (Model._prefix_tokens):
    exact for Gemma's SentencePiece vocabulary, checked on real source text."""
    import random
    import sysconfig
    from pathlib import Path

    model = Model(embedded_model_path(), vocab_only=True, context_size=256)
    assert model._lines_apart
    rng = random.Random(7)
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:60]
    for path in files:
        text = path.read_text(errors="replace") + "\n\n\n  x\r\n\t\ty = '\u00e9\u4e2d' \n"
        for _ in range(4):
            end = rng.randrange(1, len(text))
            prefix = text[max(0, end - rng.randrange(50, 5000)) : end]
            assert model._prefix_tokens(prefix) == model.tokenize(prefix), (path, end)
    model.close()


def test_bpe_vocabulary_is_tokenized_whole(vocab_models):
    """A byte-level BPE's pre-tokenizer may join a newline to the indentation after it."""
    model = vocab_models["qwen2.5-coder"]
    assert not model._lines_apart
    assert model._prefix_tokens("de\n de") == model.tokenize("de\n de")
