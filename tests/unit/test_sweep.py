"""Sweep's next-edit format (nextedit/sweep.py), the engine's `edit` path on real vocabularies
(tiny GGUF files llama.cpp loads), the `nextEditModel` setting, the catalog entry, and the
next-edit engine's loading (shared with completions when it is the same file)."""

from __future__ import annotations

import logging

import pytest

from lsp_server.config import RELOAD_KEYS, Settings, decode_settings
from lsp_server.context.symbols import SymbolIndex
from lsp_server.edits.history import EditHistory, Hunk
from lsp_server.engine.base import EngineError
from lsp_server.engine.model import Model
from lsp_server.engine.remote import RemoteEngine
from lsp_server.loading import same_model
from lsp_server.models import BY_NAME, settings_line
from lsp_server.nextedit import sweep
from lsp_server.nextedit.model import model_proposals
from lsp_server.nextedit.proposal import Proposal
from lsp_server.session import EngineSession
from lsp_server.structs import CancelledError, CancelToken, GenParams, Snapshot

from ..helpers.tiny_gguf import FAMILY_TOKENS, write_tiny_model, write_vocab_gguf

URI = "file:///w/proj/pkg/shapes.py"
BEFORE = "def area(w, h):\n    return w * h\n\n\nprint(area(1, 2))\nprint(area(3, 4))"
NOW = BEFORE.replace("def area(w, h)", "def area(w, h, d)")


def history(uri: str = URI, before: str = BEFORE, now: str = NOW) -> tuple[Hunk, ...]:
    h = EditHistory()
    h.record(uri, before, now, 1.0)
    return h.recent(2.0)


def text(pieces: sweep.Pieces) -> str:
    return "".join(t for t, _ in pieces)


# -- the prompt -------------------------------------------------------------------------------


def test_the_prompt_is_run_model_pys_sections_joined_by_newlines():
    hunks = history()
    blk = sweep.block(NOW, NOW.index("d)"), hunks, URI)
    pieces = sweep.prompt("pkg/shapes.py", blk, [("pkg/shapes.py", hunks[0])], files=[("pkg/util.py", "X = 1")])
    sep = ("<|file_sep|>", True)
    assert pieces == (
        sep, ("pkg/util.py\nX = 1\n", False),
        sep, ("pkg/shapes.py.diff\noriginal:\ndef area(w, h):\nupdated:\ndef area(w, h, d):\n", False),
        sep, (f"original/pkg/shapes.py\n{BEFORE}\n", False),
        sep, (f"current/pkg/shapes.py\n{NOW}\n", False),
        sep, ("updated/pkg/shapes.py", False),
    )
    assert text(pieces) == "\n".join([  # run_model.py's build_prompt: its parts joined by "\n"
        "<|file_sep|>pkg/util.py", "X = 1",
        "<|file_sep|>pkg/shapes.py.diff", "original:", "def area(w, h):", "updated:", "def area(w, h, d):",
        "<|file_sep|>original/pkg/shapes.py", BEFORE,
        "<|file_sep|>current/pkg/shapes.py", NOW,
        "<|file_sep|>updated/pkg/shapes.py",
    ])


def test_a_cursor_marker_only_when_asked_and_as_a_special_piece():
    blk = sweep.block("ab\ncd", 4, (), URI)
    pieces = sweep.prompt("f.py", blk, cursor=4)
    assert pieces[-5:] == (("current/f.py\nab\nc", False), ("<|cursor|>", True), ("d\n", False),
                           ("<|file_sep|>", True), ("updated/f.py", False))
    assert "<|cursor|>" not in text(sweep.prompt("f.py", blk))


def test_the_block_is_21_rows_around_the_cursor_and_its_original_undoes_the_files_hunks():
    before = "\n".join(f"row {i}" for i in range(40))
    now = before.replace("row 20", "ROW 20").replace("row 5\n", "")  # an edit near the cursor, one above the block
    h = EditHistory()
    h.record(URI, before, before.replace("row 5\n", ""), 1.0)
    h.record(URI, before.replace("row 5\n", ""), now, 1.5)
    cursor = now.index("ROW 20")
    blk = sweep.block(now, cursor, h.recent(2.0), URI)
    lines = now.split("\n")
    assert (blk.first, blk.last) == (9, 30) and blk.current == "\n".join(lines[9:30])
    assert now[blk.start : blk.end] == blk.current
    assert blk.original == blk.current.replace("ROW 20", "row 20")  # the hunk above the block is not in it
    stale = (Hunk(URI, 19, ("x",), ("not the rows now",), 1.0, 1.0),)  # its rows changed since: left out
    assert sweep.block(now, cursor, stale, URI).original == blk.current


def test_the_edits_shown_are_the_newest_relevant_ones_oldest_first():
    h = EditHistory()
    h.record("file:///w/proj/other.py", "a = 1", "a = 2", 1.0)  # shares no name: left out (unless among the newest two)
    for i, t in enumerate((1.1, 1.2, 1.3, 1.4)):
        old = "\n".join(f"total_{j} = {j}" for j in range(12))
        h.record(URI, old, old.replace(f"total_{i * 3} = ", f"total_{i * 3} = 1 + "), t)
    hunks = h.recent(2.0)
    shown = sweep.recent(hunks, URI, ["total_0 = 0"])
    assert shown == list(hunks[-3:]) and len(hunks) == 5


def test_labels_are_relative_to_the_folder_the_files_share():
    label = sweep.labeler([URI, "file:///w/proj/lib/my%20util.py"])
    assert label(URI) == "pkg/shapes.py" and label("file:///w/proj/lib/my%20util.py") == "lib/my util.py"
    assert sweep.labeler([URI])(URI) == "shapes.py"


# -- the answer -------------------------------------------------------------------------------


def test_the_answer_ends_at_the_next_section_or_an_end_of_text():
    assert sweep.updated("\na\nb\n<|file_sep|>more") == "a\nb"
    assert sweep.updated("\na\n\n</s>") == "a\n"
    assert sweep.updated("\na<|endoftext|>") == "a"
    assert sweep.updated("\nx<|cursor|>y\n") == "xy"
    assert sweep.stop("abc") is None and sweep.stop("ab</s>c<|file_sep|>") == 2


def test_an_answer_equal_to_the_block_or_empty_proposes_nothing():
    blk = sweep.block(NOW, 0, (), URI)
    assert sweep.proposals(blk, NOW, URI, 3, "m") == []
    assert sweep.proposals(blk, "\n\n", URI, 3, "m") == []


def test_the_answer_becomes_the_least_edits_row_by_row_then_by_character():
    blk = sweep.block(NOW, 0, (), URI)
    new = NOW.replace("area(1, 2)", "area(1, 2, 0)").replace("area(3, 4)", "area(3, 4, 0)")
    found = sweep.proposals(blk, new, URI, 3, "sweep")
    assert found == [Proposal(URI, 3, NOW.index(", 2)") + 3, NOW.index(", 2)") + 3, ", 0", "model", "sweep"),
                     Proposal(URI, 3, NOW.index(", 4)") + 3, NOW.index(", 4)") + 3, ", 0", "model", "sweep")]
    applied = NOW
    for p in reversed(found):
        applied = p.apply(applied)
    assert applied == new


@pytest.mark.parametrize(("new", "expected"), [
    ("a\nb\nX\nc", [("", "X\n", 4)]),  # a row inserted
    ("a\nc", [("b\n", "", 2)]),  # a row deleted
    ("a\nb\nc\nd", [("", "\nd", 5)]),  # a row added after the last
    ("a\nB!\nc", [("b", "B!", 2)]),  # a row changed
])
def test_rows_added_deleted_and_changed(new, expected):
    blk = sweep.Block(0, 3, 0, "a\nb\nc", "a\nb\nc")
    found = sweep.proposals(blk, new, URI, 1, "m")
    assert [(blk.current[p.start : p.end], p.text, p.start) for p in found] == expected
    assert found[0].apply(blk.current) == new


def test_a_crlf_block_keeps_its_line_ends():
    blk = sweep.Block(0, 2, 0, "a\r\nb", "a\r\nb")
    (p,) = sweep.proposals(blk, "a\nbc", URI, 1, "m")
    assert p.apply(blk.current) == "a\r\nbc"


# -- the engine's edit path, on real vocabularies -------------------------------------------------


@pytest.fixture(scope="module")
def vocabs(tmp_path_factory):
    root = tmp_path_factory.mktemp("nes")
    models = {name: Model(str(write_vocab_gguf(root / f"{name}.gguf", FAMILY_TOKENS[name])), vocab_only=True,
                          context_size=256) for name in ("qwen2.5-coder", "none")}
    yield models
    for m in models.values():
        m.close()


def test_markers_are_their_one_special_token_and_user_text_never_is(vocabs):
    model = vocabs["qwen2.5-coder"]
    sep = model.special_token("<|file_sep|>")
    assert sep is not None
    code = 's = "<|file_sep|>"\n'
    tokens = model.edit_tokens((("<|file_sep|>", True), (code, False), ("<|file_sep|>", True)), strict=True)
    assert tokens[0] == sep and tokens[-1] == sep
    assert tokens[1:-1] == model.tokenize(code) and sep not in tokens[1:-1]
    assert model.llm.detokenize(tokens[1:-1]).decode() == code


def test_a_vocabulary_without_the_markers_is_refused_when_strict_else_sent_as_text_and_logged_once(vocabs, caplog):
    model = vocabs["none"]
    pieces = (("<|file_sep|>", True), ("a.py\n", False))
    with pytest.raises(EngineError, match=r"not a next-edit model: its vocabulary has no special token '<\|file_sep\|>'"):
        model.edit_tokens(pieces, strict=True)
    with caplog.at_level(logging.WARNING, logger="sokuji"):
        assert model.edit_tokens(pieces) == model.tokenize("<|file_sep|>a.py\n")
        model.edit_tokens(pieces)
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "no special token '<|file_sep|>'" in caplog.records[0].getMessage()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    paths = {name: write_tiny_model(root / f"{name}.gguf", FAMILY_TOKENS[name], name=f"tiny-{name}")
             for name in ("qwen2.5-coder", "none")}
    return paths


class _Session:
    def __init__(self, engine):
        self.next_edit_engine = engine


def test_model_proposals_runs_the_edit_path_and_stops_at_a_cancellation(tiny):
    model = Model(str(tiny["qwen2.5-coder"]), gpu_layers=0, context_size=1024, kv_mode="off")
    try:
        snap = Snapshot(URI, 2, NOW, "python", "python", None)
        found = model_proposals(_Session(model), snap, NOW.index("d)"), history(), Settings(), CancelToken())
        assert all(p.uri == URI and p.version == 2 and p.rule == "model" for p in found)  # a random model: noise or nothing
        cancel = CancelToken()
        cancel.cancel()
        with pytest.raises(CancelledError):
            model_proposals(_Session(model), snap, 0, history(), Settings(), cancel)
        assert model_proposals(_Session(None), snap, 0, history(), Settings(), CancelToken()) == []
        gen = model.edit((("<|file_sep|>", True), ("a\n", False)), "a", GenParams(max_tokens=4, time_budget_ms=5000),
                         CancelToken(), sweep.stop, strict=True)
        assert gen.generated_tokens <= 4
    finally:
        model.close()


def test_a_remote_engine_joins_the_pieces_but_never_sends_user_text_spelling_a_marker():
    engine = RemoteEngine("llama-server", "http://127.0.0.1:9", timeout_s=0.5)  # nothing listens: never asked
    try:
        gen = engine.edit((("<|file_sep|>", True), ('x = "<|file_sep|>"', False)), "", GenParams(8, 1000), CancelToken(),
                          sweep.stop)
        assert gen.text == "" and gen.generated_tokens == 0
    finally:
        engine.close()


# -- the setting, the catalog, the loading --------------------------------------------------------


def test_the_next_edit_model_setting():
    settings, errors = decode_settings({"nextEditModel": "sweep-next-edit-1.5b"})
    assert errors == [] and settings.next_edit_model == "sweep-next-edit-1.5b"
    assert settings.next_edit_engine().model == "sweep-next-edit-1.5b" and "next_edit_model" in RELOAD_KEYS
    assert decode_settings({})[0].next_edit_model is None
    settings, errors = decode_settings({"nextEditModel": 3})
    assert settings.next_edit_model is None and "nextEditModel" in errors[0]


def test_the_catalog_has_sweeps_model_for_next_edits():
    entry = BY_NAME["sweep-next-edit-1.5b"]
    assert (entry.repo, entry.file, entry.purpose) == ("sweepai/sweep-next-edit-1.5B", "sweep-next-edit-1.5b.q8_0.v2.gguf",
                                                       "next-edit")
    assert (entry.layers, entry.kv_heads, entry.head_dim, entry.fim) == (28, 2, 128, "qwen2.5-coder")
    assert '"nextEditModel": "sweep-next-edit-1.5b"' in settings_line(entry.name, entry)
    assert BY_NAME["qwen2.5-coder-1.5b"].purpose == "completion"


def test_the_next_edit_engine_is_the_completions_one_for_the_same_file_else_its_own(tiny):
    a, b = str(tiny["qwen2.5-coder"]), str(tiny["none"])
    same = Settings(model=a, next_edit_model=a, gpu_layers=0, context_size=512, kv_cache="off")
    assert same_model(same, same.next_edit_engine()) and not same_model(same, Settings(model=b))
    assert not same_model(same, Settings(model="not-pulled/repo/x.gguf"))
    session = EngineSession(SymbolIndex(), None, lambda line: None)
    try:
        session.swap(same, 1)
        assert session.next_edit_engine is session.engine
        assert session.load_own("nextEdit", same, CancelToken()) is None  # nothing more to load
        other = Settings(model=a, next_edit_model=b, gpu_layers=0, context_size=512, kv_cache="off")
        session.swap(other, 2)
        assert session.next_edit_engine is None
        engine = session.load_own("nextEdit", other, CancelToken())
        assert engine is not None and session.adopt("nextEdit", engine, None, 2)
        assert session.next_edit_engine is engine and engine.info.name == "tiny-none" and len(session.engines()) == 2
        session.swap(Settings(model=a, gpu_layers=0, context_size=512, kv_cache="off"), 3)
        assert session.next_edit_engine is None and session.next_edit_error is None
    finally:
        session.close()
