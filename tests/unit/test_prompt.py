"""The local window under a token budget, completion mode, settings and output clean-up."""

from lsp_server.completion import postprocess
from lsp_server.completion.pipeline import prompt_budget
from lsp_server.config import Settings, decode_settings
from lsp_server.context.prompt import STABLE_LINES, Budget, block_indent, build_prompt, is_multiline
from lsp_server.documents import UTF16, Document


def words(text: str) -> int:  # a stand-in tokenizer: one token per word
    return len(text.split())


def doc_and_cursor(text: str, line: int, col: int, uri: str = "file:///t.py", language_id: str = "python"):
    doc = Document(uri, language_id, 1, text, UTF16)
    return doc.snapshot(), doc.cursor(line, col)


def test_whole_file_fits():
    snap, cur = doc_and_cursor("a = 1\nb = a +\nprint(b)\n", 1, 7)
    p = build_prompt(snap, cur, words, Budget(200, 100))
    assert (p.prefix, p.suffix) == ("a = 1\nb = a +", "\nprint(b)\n")
    assert p.language == "python" and not p.multiline


def test_plain_text_prefix_cut_at_whole_lines_and_snapped_to_a_stable_line():
    lines = [f"x{i} = {i}" for i in range(40)]  # 3 words each
    snap, cur = doc_and_cursor("\n".join(lines), 39, 0, "file:///t.txt", "plaintext")
    budget = Budget(110, 10)
    p = build_prompt(snap, cur, words, budget)
    first = p.prefix.split("\n")[0]
    n = int(first[1:].split(" ")[0])
    # within budget (nothing else wants it: the whole budget less the suffix and the cursor
    # line's room, 78 words = 26 lines), starting on a stable line
    assert n % STABLE_LINES == 0 and 39 - 26 <= n < 39 - 26 + STABLE_LINES and words(p.prefix) <= 110
    # typing on the cursor line keeps the same first line (so the KV cache prefix survives)
    snap2, cur2 = doc_and_cursor("\n".join(lines[:-1] + ["x39 = 3 + 4"]), 39, 11, "file:///t.txt", "plaintext")
    assert build_prompt(snap2, cur2, words, budget).prefix.split("\n")[0] == first


def test_suffix_nearest_lines_within_budget():
    snap, cur = doc_and_cursor("x = \n" + "\n".join(f"y{i} = {i}" for i in range(20)), 0, 4)
    p = build_prompt(snap, cur, words, Budget(100, 7))
    assert p.suffix == "\ny0 = 0\ny1 = 1"


def test_mode_decision():
    assert is_multiline("def f():", "")
    assert is_multiline("    ", "")
    assert is_multiline("function f() {", "")
    assert not is_multiline("x = fo", "")  # mid-expression at the end of a line: that line only
    assert not is_multiline("x = fo", ")")
    assert not is_multiline("", "return x")
    assert block_indent("    ") == 4 and block_indent("    if x:") == 5
    assert block_indent("", '    """') == 4  # column 0 of a blank line: the block of the line above
    assert block_indent("", "def f():") == 1
    assert block_indent("    x = 1") == 4  # not a block opener: stay at its level


def test_stop_index_single_and_multi_line():
    assert postprocess.stop_index("foo(1)\nbar", False, 0) == 6
    assert postprocess.stop_index("foo(1)", False, 0) is None
    body = "return 1\n    x = 2\nprint(3)"
    assert postprocess.stop_index(body, True, 4) == len("return 1\n    x = 2")
    assert postprocess.stop_index("return 1\n", True, 4) is None  # next line not seen yet
    assert postprocess.stop_index("a\n\n    b", True, 4) is None  # blank lines do not end a block


def test_finish_basics():
    assert postprocess.finish("   \n", "", "", True, 0) == ""
    assert postprocess.finish("a, b)", "foo(", ")\nrest", False, 0) == "a, b"
    assert postprocess.finish("return x  \n\n", "", "", True, 0) == "return x"


def test_budgets_fit_the_context():
    budget = prompt_budget(Settings(), 4096, fim=True)
    assert budget.total == Settings().context_budget and budget.suffix <= 256 and budget.suffix_counts
    assert prompt_budget(Settings(max_tokens=64), 512, fim=False).total <= 512 - 64
    assert not prompt_budget(Settings(), 4096, fim=False).suffix_counts
    assert sum(budget.shares()) + budget.suffix <= budget.total


def test_settings_decode_reports_each_bad_key_and_falls_back():
    settings, errors = decode_settings({"maxTokens": "many", "contextSize": 10, "temperature": 0.2, "bogus": 1})
    assert settings == Settings(temperature=0.2)
    assert len(errors) == 3
    assert any("'maxTokens'" in e and "64" in e for e in errors)
    assert any("'contextSize'" in e and "4096" in e for e in errors)
    assert any("'bogus'" in e for e in errors)
    assert decode_settings(None) == (Settings(), [])
    assert decode_settings([1])[0] == Settings()
    assert decode_settings({"gpuLayers": 0, "model": "/m.gguf"})[0] == Settings(gpu_layers=0, model="/m.gguf")
