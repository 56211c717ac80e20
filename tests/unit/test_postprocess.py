"""Post-processing, one pure function at a time, with literal cases."""

from lsp_server.completion import postprocess as pp
from lsp_server.context.syntax import completion_mode, error_counter
from lsp_server.documents import UTF16, Document


def test_stop_index_cuts_at_new_top_level_definition():
    text = "return 1\n\ndef other():\n    pass"
    assert pp.stop_index(text, True, 0, "python") == len("return 1\n")
    assert pp.stop_index("x = 1\ny = 2\n", True, 0, "python") is None
    assert pp.stop_index("}\n\nfunc main() {", True, 0, "go") == len("}\n")


def test_cut_suffix_lines_drops_retyped_following_lines():
    text = "    for x in xs:\n        total += x\n    return total"
    suffix = "\n        total += x\n    return total\n"
    assert pp.cut_suffix_lines(text, suffix) == "    for x in xs:"
    assert pp.cut_suffix_lines("a\nb", "\nc") == "a\nb"


def test_trim_line_overlap():
    assert pp.trim_line_overlap("a, b)", ")") == "a, b"
    assert pp.trim_line_overlap("x + 1):", "):") == "x + 1"
    assert pp.trim_line_overlap("x + 1)", "):") == "x + 1"  # a closer the line already has
    assert pp.trim_line_overlap("done", " # note") == "done"


def test_balance_removes_closers_the_line_already_has():
    assert pp.balance("len(xs))", ")") == "len(xs)"
    assert pp.balance("f(a, g(b)))", "))") == "f(a, g(b))"  # its own pairs stay
    assert pp.balance('hello"', '"') == 'hello'  # the closing quote is already there
    assert pp.balance("(a)", "") == "(a)"


def test_repeats_neighbour():
    assert pp.repeats_neighbour("    return x", "    return x", "")
    assert pp.repeats_neighbour("y = 2", "x = 1", "y = 2")
    assert not pp.repeats_neighbour("z = 3", "x = 1", "y = 2")


def test_best_parse_cut_keeps_the_longest_part_that_parses():
    doc = Document("file:///t.py", "python", 1, "def f(x):\n    \n", UTF16)
    count = error_counter(doc.snapshot(), doc.cursor(1, 4))
    assert pp.best_parse_cut("return x\nelse:\n  pass", count) == "return x"
    assert pp.best_parse_cut("y = x\nreturn y", count) == "y = x\nreturn y"


def test_finish_in_foo_paren_never_doubles_the_paren():
    assert pp.finish("a, b)", "foo(", ")\n", False, 0) == "a, b"
    assert pp.finish("a, b))", "foo(", ")\n", False, 0) == "a, b"  # the line already closes foo(


def test_finish_discards_a_copy_of_the_next_line():
    assert pp.finish("    return x\n", "def f(x):\n", "\n    return x\n", True, 4) == ""


def mode(text: str, line: int, col: int, language: str = "python") -> str | None:
    doc = Document(f"file:///t.{language}", language, 1, text, UTF16)
    return completion_mode(doc.snapshot(), doc.cursor(line, col))


def test_completion_mode_from_the_tree():
    assert mode('x = "hello world"\n', 0, 8) == "skip"  # inside a string
    assert mode('def f():\n    """Return the \n    pass\n', 1, 18) is None  # a docstring being written
    assert mode("# a comment here\nx = 1\n", 0, 5) == "skip"  # mid-comment
    assert mode("# a comment here\nx = 1\n", 0, 16) is None  # at the end of a comment line
    assert mode("print(x)", 0, 8) == "skip"  # after the last closing bracket of the file
    assert mode("x = foo(\n", 0, 8) is None
