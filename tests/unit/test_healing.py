"""Token healing and the confidence gate on literal token sequences: vocabularies written out
here (pure), then real llama.cpp vocabularies (a tiny GGUF built here, and the embedded
Gemma's), then the gate's arithmetic."""

from __future__ import annotations

import codecs

import pytest

from lsp_server.engine.confidence import Confidence
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.healing import Healer, Pieces, rollback
from lsp_server.engine.model import Model

from ..helpers.tiny_gguf import FAMILY_TOKENS, write_vocab_gguf


def vocab(*pieces: str | bytes, control: tuple[str, ...] = ()) -> tuple[Pieces, dict[bytes, int]]:
    raw = [p if isinstance(p, bytes) else p.encode() for p in pieces]
    usable = [p.decode("utf-8", "replace") not in control for p in raw]
    return Pieces(raw, usable), {p: i for i, p in enumerate(raw)}


def ids(ids_of: dict[bytes, int], *pieces: str | bytes) -> list[int]:
    return [ids_of[p if isinstance(p, bytes) else p.encode()] for p in pieces]


def names(pieces: Pieces, token_ids) -> set[bytes]:
    return {pieces.pieces[i] for i in token_ids}


def test_partial_word_that_splits_is_taken_back_to_the_word():
    pieces, t = vocab("os", ".", "list", "d", "dir", "listdir", "l", " =", "files")
    tokens = ids(t, "files", " =", "os", ".", "list", "d")
    assert rollback(tokens, pieces) == (2, b"listd")  # `d` and `listd` go on (`dir`, `listdir`); `.listd` does not
    assert names(pieces, pieces.allowed(b"listd")) == {b"listdir", b"list", b"l"}


def test_partial_word_the_vocabulary_cannot_extend_is_left_alone():
    pieces, t = vocab("x", " =", " foo", "(", "()")
    assert rollback(ids(t, "x", " =", " foo", "("), pieces) == (1, b"(")  # `()` extends `(`
    pieces, t = vocab("x", " =", " foo", "(")
    assert rollback(ids(t, "x", " =", " foo", "("), pieces) == (0, b"")


def test_a_token_with_a_newline_is_never_taken_back_nor_indentation():
    pieces, t = vocab("if", ":", "\n", "\n\n", "    ", "     ", "x", " =", " ", " y")
    assert rollback(ids(t, "if", ":", "\n"), pieces) == (0, b"")
    assert rollback(ids(t, "if", ":", "\n", "    "), pieces) == (0, b"")  # `     ` extends it, yet no word is cut
    assert rollback(ids(t, "    "), pieces) == (0, b"")
    assert rollback(ids(t, "\n", "    ", "x", " =", " "), pieces) == (1, b" ")  # ` y` goes on from the space


def test_rollback_stops_at_its_limit():
    pieces, t = vocab("a", "aa", "aaaaaaaaaa")
    assert rollback(ids(t, *["a"] * 6), pieces, limit=3) == (3, b"aaa")


def test_multi_byte_text_is_healed_byte_by_byte():
    # "café": a vocabulary that spells é as two byte tokens, and knows "cafés" whole
    pieces, t = vocab("caf", b"\xc3", b"\xa9", "café", "cafés", "s")
    tokens = ids(t, "caf", b"\xc3", b"\xa9")
    assert rollback(tokens, pieces) == (3, "café".encode())
    allowed = names(pieces, pieces.allowed("café".encode()))
    assert allowed == {"café".encode(), "cafés".encode(), b"caf"}
    healer, decoder = Healer(pieces, "café".encode()), codecs.getincrementaldecoder("utf-8")()
    assert healer.take(b"caf") == b"" and healer.remaining == b"\xc3\xa9"  # spelled in steps
    assert names(pieces, healer.allowed()) == {b"\xc3"}
    assert healer.take(b"\xc3") == b"" and healer.take(b"\xa9s") == b"s"
    assert healer.allowed() is None and decoder.decode(b"s") == "s"


def test_emoji_before_the_word_stays_in_the_prompt():
    smile = "🙂".encode()
    pieces, t = vocab(smile[:2], smile[2:], "'", ";", " text", ".", "exp", "a", "expand", "expa")
    tokens = ids(t, "'", smile[:2], smile[2:], smile[:2], smile[2:], "'", ";", " text", ".", "exp", "a")
    assert rollback(tokens, pieces) == (2, b"expa")


def test_a_word_that_is_a_special_tokens_prefix_never_heals_into_it():
    pieces, t = vocab("<|", "fim", "fim_pre", "<|fim_prefix|>", control=("<|fim_prefix|>",))
    tokens = ids(t, "<|", "fim")
    assert rollback(tokens, pieces) == (1, b"fim")  # `<|fim` would go on only as the control token
    assert not pieces.extends(b"<|fim")
    assert t[b"<|fim_prefix|>"] not in set(pieces.allowed(b"<|fi").tolist())


def test_healer_passes_the_rest_of_a_longer_token_through():
    pieces, _ = vocab("listd", "listdir", "l")
    healer = Healer(pieces, b"listd")
    assert healer.take(b"listdir") == b"ir" and healer.remaining == b""
    assert healer.take(b"(") == b"("


# -- real llama.cpp vocabularies ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A byte-level BPE vocabulary (printable ASCII, one merge `de`) with Qwen2.5-Coder's
    special tokens as CONTROL tokens: a stand-in, since no FIM model can be downloaded here."""
    path = write_vocab_gguf(tmp_path_factory.mktemp("heal") / "qwen.gguf", FAMILY_TOKENS["qwen2.5-coder"])
    return Model(str(path), vocab_only=True, context_size=256)


def test_llama_cpp_vocabulary_control_tokens_are_not_healing_candidates(tiny):
    fim_prefix = tiny.special_token("<|fim_prefix|>")
    assert fim_prefix is not None
    assert not tiny.pieces.extends(b"<|fim")  # only the control token goes on from there
    assert fim_prefix not in set(tiny.pieces.allowed(b"<|").tolist())
    assert rollback(tiny.tokenize("x = <|fim"), tiny.pieces) == (0, b"")


def test_llama_cpp_vocabulary_partial_merge_heals(tiny):
    tokens = tiny.tokenize("d")
    assert rollback(tokens, tiny.pieces) == (1, b"d")  # the vocabulary has `de`
    assert names(tiny.pieces, tiny.pieces.allowed(b"d")) == {b"d", b"de"}
    assert rollback(tiny.tokenize("de"), tiny.pieces) == (0, b"")


@pytest.fixture(scope="module")
def gemma():
    return Model(embedded_model_path(), vocab_only=True, context_size=256)


@pytest.mark.parametrize("text, removed", [
    ("import os\nfiles = os.listd", b"listd"),
    ("for i in ran", b" ran"),
    ("label = '🙂🙂'; text = text.expa", b"expa"),
    ("x = ", b" "),
])
def test_gemma_takes_back_the_partial_word(gemma, text, removed):
    tokens = gemma.tokenize(text)
    taken, got = rollback(tokens, gemma.pieces)
    assert got == removed
    assert b"".join(gemma.pieces.pieces[t] for t in tokens[len(tokens) - taken :]) == removed


# -- the confidence gate ------------------------------------------------------------------


def feed(gate: Confidence, tokens: list[tuple[str, float]]) -> tuple[str, bool]:
    text = ""
    for piece, prob in tokens:
        if not gate.keeps(prob):
            return gate.cut(text), False
        text += piece
        gate.wrote(text)
    return text, True


def test_gate_cuts_the_first_line_where_the_model_becomes_unsure():
    gate = Confidence(0.3)
    assert feed(gate, [("ir", 0.9), ("(", 0.8), ("'data'", 0.2), (")", 0.9)]) == ("ir(", False)
    assert gate.first_line == pytest.approx(0.72)


def test_gate_hides_a_suggestion_unsure_from_its_first_token():
    assert feed(Confidence(0.3), [("ge", 0.1), ("(", 0.9)]) == ("", False)


def test_gate_drops_an_unsure_later_line_whole_and_each_line_starts_afresh():
    tokens = [("x = 1", 0.5), ("\n", 0.9), ("y", 0.6), (" = 2", 0.9), ("\n", 0.9), ("z", 0.1)]
    assert feed(Confidence(0.3), tokens) == ("x = 1\ny = 2", False)
    tokens = [("x = 1", 0.5), ("\n", 0.9), ("y", 0.6), (" = ", 0.4), ("2", 0.9)]
    assert feed(Confidence(0.3), tokens) == ("x = 1", False)


def test_gate_at_zero_keeps_everything():
    assert feed(Confidence(0.0), [("a", 0.0001), ("b", 0.0)]) == ("ab", True)
