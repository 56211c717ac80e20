"""Fix suggestions, the pure parts: syntax problems, what is published, the checked repairs,
whether a file is better after an edit, the region, the checks on a rewrite, diffs."""

from lsp_server.context.languages import new_parser
from lsp_server.fixes.problems import publishable
from lsp_server.documents import Document
from lsp_server.fixes.plan import check_fix, fix_region, line_edits, plan_fix, reindent
from lsp_server.fixes.lexer import lex
from lsp_server.fixes.repairs import find_repairs
from lsp_server.fixes.syntax import compile_problem, syntax_problems


def problems(text: str, language: str = "python"):
    source = text.encode()
    return [(source[: p.start_byte].count(b"\n"), p.message) for p in syntax_problems(new_parser(language).parse(source), source)]


def published(text: str, language: str = "python"):
    source = text.encode()
    return [(source[: p.start_byte].count(b"\n"), p.message)
            for p in publishable(language, text, new_parser(language).parse(source))]


def repaired(text: str, row: int, language: str = "python", own: bool = True, col: int | None = None) -> list[str]:
    """Each checked repair for the problem on `row`, as the whole fixed text."""
    source = text.encode()
    tree = new_parser(language).parse(source)
    start = len("".join(line + "\n" for line in text.split("\n")[:row]).encode())
    candidates, _ = find_repairs(language, text, tree, start, start, own, name_col=col)
    lines = text.split("\n")
    return ["\n".join(c.line if i == c.row else ln for i, ln in enumerate(lines)) for c in candidates]


def test_syntax_problems_name_what_is_missing_or_unexpected():
    assert problems("print(foo(1)\n") == [(0, "missing ')'")]
    assert problems("def f(:\n    pass\n") == [(0, "missing ')'")]
    assert problems("x = 1\ny = = 2\n")[0][0] == 1
    assert problems("x = 1\n") == []
    assert problems("function f() {\n  return 1;\n", "javascript") == [(1, "missing '}'")]


def test_pythons_own_parser_is_the_second_opinion():
    p = compile_problem("python", b"def f(file):\n    if x:\n        in verbose:\n            pass\n")
    assert p is not None and p.message == "invalid syntax" and p.start_byte == len(b"def f(file):\n    if x:\n        ")
    assert compile_problem("python", b"x = foo(1,\ny = 2\n").message == "'(' was never closed"
    assert compile_problem("python", b"x = '\\d'\n") is None  # a warning, not an error
    assert compile_problem("javascript", b"foo(") is None  # no in-process parser for it


def test_a_dropped_bracket_is_published_on_its_line():
    # tree-sitter notices the dropped ')' only at the function's end, reported at its start
    js = "function f(pkg) {\n  const p = npa(pkg\n  const spec = p.rawSpec\n  return spec\n}\n"
    assert problems(js, "javascript") == [(0, "unexpected '}'")]
    assert published(js, "javascript") == [(1, "missing ')'")]
    py = "def f(a):\n    x = g(a, h(b)\n    for y in x:\n        pass\n"
    assert problems(py) == [(0, "missing ')'")] and published(py) == [(1, "missing ')'")]
    assert published("print(a b)\n") == [(0, "missing ','")]
    js = "function f(command) {\n  if (['completion].includes(command)) {\n    return 1\n  }\n}\n"
    assert published(js, "javascript") == [(1, "missing '''")]
    # what only Python's own parser sees is published too
    assert problems("f(x for x in y, 1)\n") == [] and published("f(x for x in y, 1)\n") == [(0, "Generator expression must be parenthesized")]
    assert published("x = 1\n") == []


def test_a_missing_token_is_repaired_where_it_belongs():
    assert repaired("def broken(x:\n    return x\n", 0) == ["def broken(x):\n    return x\n"]
    # the colon belongs to the `if` line, not to the next line, where tree-sitter reports it
    tab = "def f(file):\n    if isdir(file) and not islink(file)\n        if verbose:\n            print(1)\n"
    assert repaired(tab, 2) == [tab.replace("islink(file)\n", "islink(file):\n")]
    js = "const cmds = {\n  revoke require('./revoke.js'),\n  star: 1,\n}\n"
    assert repaired(js, 1, "javascript") == [js.replace("revoke require", "revoke: require")]
    assert repaired("x = foo(a b)\n", 0) == ["x = foo(a, b)\n"]
    assert repaired("def f(a, * b=1):\n    pass\n", 0) == ["def f(a, *, b=1):\n    pass\n"]
    assert repaired("x = { code: 'E'\n", 0, "javascript") == ["x = { code: 'E' }\n"]  # spaced as it opens
    assert repaired("x = 'abc\ny = 2\n", 0) == ["x = 'abc'\ny = 2\n"]
    assert repaired("def f(x):\n    retrun x\n", 1) == ["def f(x):\n    return x\n"]  # a misspelled keyword
    # Python checks the enclosing function alone first: not the sibling `def` above the `try`
    text = ("def run(loop, future):\n    def callback():\n        pass\n    loop.call_soon(callback)\n\n"
            "    try:\n        return future.result(\n    except SystemExit:\n        raise\n")
    assert text.replace("result(", "result()") in repaired(text, 6)


def test_ambiguous_repairs_all_parse_and_the_model_ranks_them():
    text = "def f(a, b):\n    s = a.decode('ascii', b\n    return s\n"
    fixed = repaired(text, 1)
    assert text.replace("b\n", "b)\n", 1) in fixed and len(fixed) > 1
    assert all(compile_problem("python", f.encode()) is None for f in fixed)


def test_a_repair_that_leaves_another_error_or_adds_one_is_refused():
    # two errors: the repair of the first must leave the second as it was
    text = "def f():\n    x = foo(1\n    return x\n\ndef g():\n    return [3\n"
    assert repaired(text, 1) == [text.replace("foo(1", "foo(1)")]
    text = "def f(x:\n    return x\n\ny = = 3\n"
    assert repaired(text, 0) == [text.replace("(x:", "(x):")]
    # removing the ')' of a string's line would "fix" row 1 but Python still sees row 0's string
    text = "t = (1,\n    'denying access to the \n    'resource as a consequence')\n"
    assert all(compile_problem("python", f.encode()) is None for f in repaired(text, 2))


def test_names_one_or_two_edits_away_from_another_servers_diagnostic():
    text = "result = 1\nprint(reslt)\n"
    assert repaired(text, 1, own=False, col=8) == ["result = 1\nprint(result)\n"]


def test_the_plan_says_whether_a_checked_repair_exists():
    doc = Document("file:///a.py", "python", 1, "def broken(x:\n    return x\n")
    plan = plan_fix(doc.snapshot(), 0, 13, "missing ')'", True)
    assert plan.title == "Fix with sokuji: insert ')' (line 1)" and not plan.rewrite
    text = "def f(a, b):\n    s = a.decode('ascii', b\n    return s\n"
    doc = Document("file:///b.py", "python", 1, text)
    plan = plan_fix(doc.snapshot(), 17, 17, "missing ')'", True)
    assert plan.title.startswith("Fix with sokuji: insert ')' (line 2; the model picks among ")
    doc = Document("file:///c.py", "python", 1, "def f(a):\n    return a +* 2\n")
    plan = plan_fix(doc.snapshot(), 17, 17, "unexpected '*'", True)
    assert plan.candidates or plan.title == "Fix with sokuji (model rewrite): unexpected '*'"


def test_lexing_skips_strings_and_comments():
    kinds = [(t.kind, t.text) for t in lex("python", "f(b'x)', 1)  # (")]
    assert kinds == [("word", "f"), ("open", "("), ("string", "b'x)'"), ("punct", ","), ("number", "1"), ("close", ")")]
    (tok,) = lex("javascript", "'abc")
    assert tok.kind == "string" and not tok.closed


def test_region_is_the_statement_holding_the_error():
    text = "def total(values, factor):\n    result = sum(values\n    return result * factor\n"
    tree = new_parser("python").parse(text.encode())
    (p,) = syntax_problems(tree, text.encode())
    assert fix_region(tree, p.start_byte, p.end_byte) == (1, 2)


def test_a_rewrite_must_leave_the_file_better_and_stay_close():
    text = "def f(a):\n    x = g(a\n    return x\n"
    assert check_fix("python", text, 1, 1, "    x = g(a)", True).ok
    assert "no better" in check_fix("python", text, 1, 1, "    x = g(a))", True).reason
    assert check_fix("python", text, 1, 1, "    x = g(a", True).reason == "the model did not change the code"
    assert check_fix("python", text, 1, 1, "    import os, sys, json, re, typing", True).reason == "the rewrite changes more than the error"
    # tree-sitter accepts an unparenthesized generator next to another argument; Python does not
    gen = "def f(y):\n    return g(x for x in y 1)\n"
    verdict = check_fix("python", gen, 1, 1, "    return g(x for x in y, 1)", True)
    assert verdict.reason == "the rewrite is no better: Python would report 'Generator expression must be parenthesized' in the code it changes"
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
