"""Fix suggestions, the pure parts: syntax problems, the region, repairs, the checks, diffs."""

from lsp_server.context.languages import new_parser
from lsp_server.fixes import (
    check_fix,
    fix_region,
    line_edits,
    name_candidates,
    reindent,
    repair_candidates,
    syntax_problems,
)


def problems(text: str, language: str = "python"):
    source = text.encode()
    return [(source[: p.start_byte].count(b"\n"), p.message) for p in syntax_problems(new_parser(language).parse(source), source)]


def test_syntax_problems_name_what_is_missing_or_unexpected():
    assert problems("print(foo(1)\n") == [(0, "missing ')'")]
    assert problems("def f(:\n    pass\n") == [(0, "missing ')'")]
    assert problems("x = 1\ny = = 2\n")[0][0] == 1
    assert problems("x = 1\n") == []
    assert problems("function f() {\n  return 1;\n", "javascript") == [(1, "missing '}'")]


def test_region_is_the_statement_holding_the_error():
    text = "def total(values, factor):\n    result = sum(values\n    return result * factor\n"
    tree = new_parser("python").parse(text.encode())
    (p,) = syntax_problems(tree, text.encode())
    assert fix_region(tree, p.start_byte, p.end_byte) == (1, 2)


def test_repairs_include_the_missing_closer_and_colon():
    lines = "def total(values, factor)\n    result = sum(values\n".split("\n")
    cands = repair_candidates("python", lines, 0, 1, (0, 1))
    assert ["def total(values, factor):", "    result = sum(values"] in cands
    assert ["def total(values, factor)", "    result = sum(values)"] in cands
    assert repair_candidates("python", ["    retrun x"], 0, 0, (0, 0)).count(["    return x"]) == 1  # keyword typo


def test_names_one_or_two_edits_away_from_the_diagnostic():
    text = "result = 1\nreturn reslt\n"
    lines = text.split("\n")
    assert name_candidates(lines, 1, 1, 1, 8, text) == [["return result"]]


def test_a_fix_must_parse_remove_the_error_and_stay_close():
    text = "def f(a):\n    x = g(a\n    return x\n"
    assert check_fix("python", text, 1, 1, "    x = g(a)", True).ok
    assert check_fix("python", text, 1, 1, "    x = g(a))", True).reason == "the rewrite does not parse"
    assert check_fix("python", text, 1, 1, "    x = g(a", True).reason == "the model did not change the code"
    assert check_fix("python", text, 1, 1, "    import os, sys, json, re, typing", True).reason == "the rewrite changes more than the error"
    # another server's diagnostic: parsing no worse is enough
    ok = "def f(a):\n    return a\n"
    assert check_fix("python", ok, 1, 1, "    return a + 0", False).ok


def test_edits_touch_only_changed_lines():
    old = ["a", "b", "c", "d"]
    assert line_edits(old, ["a", "B", "c", "d"], 10) == [(11, 12, ["B"])]
    assert line_edits(old, ["a", "b", "c", "d", "e"], 0) == [(4, 4, ["e"])]
    assert line_edits(old, ["a", "c", "d"], 0) == [(1, 2, [])]


def test_reindent_gives_the_region_its_indentation_back():
    assert reindent("    x = 1\n        y = 2", "x = 1\n    y = 2") == "    x = 1\n        y = 2"
