"""The context builder (pure): syntax-boundary windows, definitions, imports, the index.
A stand-in tokenizer (one token per word) keeps the expected outputs literal."""

from __future__ import annotations

import os
import re
import sysconfig
from dataclasses import replace
from pathlib import Path

from lsp_server.context.languages import new_parser
from lsp_server.context.memo import ChoiceMemo
from lsp_server.context.prompt import Budget, build_prompt
from lsp_server.context.scope import LineCosts, local_window
from lsp_server.context.symbols import SymbolIndex, SymbolSources, extract_definitions
from lsp_server.context.workspace import MAX_FILE_BYTES, read_definitions, workspace_files
from lsp_server.documents import UTF16, UTF32, Document
from lsp_server.structs import Chunk


def words(text: str) -> int:
    return len(text.split())


SOURCE = """import os
import sys


def first():
    a = 1
    b = 2
    return a + b


def second(x):
    y = x * 2
    z = y + 1
    return z


def third():
    return 3
"""


def window(source: str, row: int, col: int, before: int, after: int, language: str = "python") -> tuple[int, int]:
    tree = new_parser(language).parse(source.encode())
    lines = source.split("\n")
    byte = len("\n".join(lines[:row]).encode()) + 1 + col
    return local_window(tree, byte, row, LineCosts(lines, words), before, after)


def test_window_is_the_enclosing_function_then_whole_siblings():
    # cursor on "z = y + 1" (row 12): second() is rows 10..13
    assert window(SOURCE, 12, 4, 10, 4) == (10, 14)  # the function, not a line more
    assert window(SOURCE, 12, 4, 20, 4) == (4, 14)  # then first() whole; third() does not fit below
    assert window(SOURCE, 12, 4, 20, 10) == (4, 18)
    assert window(SOURCE, 12, 4, 30, 10) == (0, 19)  # the whole module: the line being typed costs nothing
    assert window(SOURCE, 12, 4, 5, 4) == (11, 14)  # too small for the function: its statements
    assert window(SOURCE, 12, 4, 4, 4) == (12, 14)  # "y = x * 2" is 5 words: not a piece of it


def test_window_in_a_long_function_takes_statements_nearest_first():
    body = "\n".join(f"    v{i} = compute(v{i - 1}, {i})" for i in range(1, 21))
    source = f"def long():\n{body}\n    return v20\n"
    first, last = window(source, 11, 4, 15, 5)  # each statement: 5 words
    assert (first, last) == (8, 13)  # three statements above (15 words), the cursor's (free), one below


DEFS = '''def helper(a, b):
    return a + b


class Store:
    """Keeps things."""

    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        self.items.sort()
        self.items.reverse()
        self.items.reverse()
        return len(self.items)

    def clear(self):
        self.items = []
'''


def test_definitions_render_signature_and_first_lines_or_whole_when_short():
    tree = new_parser("python").parse(DEFS.encode())
    defs = {d.name: d for d in extract_definitions("python", tree, DEFS.encode(), "file:///w/lib/util.py")}
    assert [(d.kind, d.name) for d in defs.values()] == [
        ("function", "helper"), ("class", "Store"), ("method", "__init__"), ("method", "add"), ("method", "clear")]
    assert defs["helper"].snippet == "def helper(a, b):\n    return a + b"
    assert defs["helper"].signature == "def helper(a, b):"
    assert defs["add"].container == "class Store:" and defs["helper"].container == ""
    # a class longer than WHOLE_LINES: its first lines, then its members' signatures
    assert defs["Store"].snippet == (
        'class Store:\n    """Keeps things."""\n\n    def __init__(self):\n    def add(self, item):\n'
        "    def clear(self):\n    ..."
    )


def test_long_function_in_a_brace_language_keeps_its_closing_brace():
    source = "function run(a) {\n" + "".join(f"  step{i}(a);\n" for i in range(12)) + "}\n"
    tree = new_parser("javascript").parse(source.encode())
    (d,) = extract_definitions("javascript", tree, source.encode(), "file:///w/a.js")
    assert d.snippet == "function run(a) {\n  step0(a);\n  step1(a);\n  step2(a);\n  step3(a);\n  // ...\n}"


MAIN = """import os
from lib.util import helper


def total(values):
    acc = 0
    for v in values:
        acc = helper(acc, v)
    
    return acc
"""


def _prompt(text: str, row: int, col: int, budget: Budget, index: SymbolIndex):
    doc = Document("file:///w/main.py", "python", 1, text, UTF32)
    snap = doc.snapshot()
    own = extract_definitions("python", snap.tree, text.encode(), snap.uri)
    sources = SymbolSources(index, {}, ["file:///w"])
    return build_prompt(snap, doc.cursor(row, col), words, budget, sources, lambda _view: own)


def _index() -> SymbolIndex:
    index = SymbolIndex()
    tree = new_parser("python").parse(DEFS.encode())
    index.update("file:///w/lib/util.py", extract_definitions("python", tree, DEFS.encode(), "file:///w/lib/util.py"))
    return index


def test_prompt_shows_the_definition_of_a_helper_used_in_scope_from_another_file():
    p = _prompt(MAIN, 8, 4, Budget(400, 50), _index())
    assert p.extra == (Chunk("lib/util.py", "def helper(a, b):\n    return a + b"),)  # not Store: unused
    assert p.prefix.startswith("import os\n") and p.prefix.endswith("acc = helper(acc, v)\n    ")
    assert p.imports == ""  # the window reaches the top of the file
    assert p.suffix == "\n    return acc\n" and p.file_label == "main.py" and p.comment == "#"


def test_imports_are_shown_above_a_window_that_does_not_reach_them():
    filler = "".join(f"\n\ndef f{i}(p):\n    return p + {i}\n" for i in range(30))
    text = MAIN.replace("\n\ndef total", filler + "\n\ndef total")
    row = text.split("\n").index("    ") if "    " in text.split("\n") else 0
    p = _prompt(text, row, 4, Budget(120, 20), _index())
    assert p.imports == "import os\nfrom lib.util import helper\n# ...\n"
    # the window: the enclosing function whole, then what fits above, statement by statement
    # (the end of the function above when it does not fit whole)
    assert "\ndef total(values):" in p.prefix
    assert re.fullmatch(r"def f\d+\(p\):|    return p \+ \d+", p.prefix.split("\n")[0])
    assert "def helper(a, b):" in "\n".join(c.text for c in p.extra)


def test_typing_along_the_cursor_line_keeps_everything_above_it():
    before = _prompt(MAIN, 8, 4, Budget(150, 20), _index())
    for typed in ("r", "re", "ret", "retu", "return acc + helper("):
        text = MAIN.replace("\n    \n", f"\n    {typed}\n")
        p = _prompt(text, 8, 4 + len(typed), Budget(150, 20), _index())
        assert (p.extra, p.imports) == (before.extra, before.imports)
        assert p.prefix.rsplit("\n", 1)[0] == before.prefix.rsplit("\n", 1)[0]


def test_budget_is_respected_and_definitions_shrink_to_signatures():
    index = _index()
    many = "".join(f"def tool{i}(a, b, c):\n" + "".join(f"    a = b + c + {j}\n" for j in range(12)) for i in range(8))
    index.update("file:///w/lib/tools.py", extract_definitions("python", new_parser("python").parse(many.encode()),
                                                              many.encode(), "file:///w/lib/tools.py"))
    uses = "".join(f"    tool{i}(1, 2, 3)\n" for i in range(8))
    text = f"def main():\n{uses}    \n"
    p = _prompt(text, 9, 4, Budget(150, 10), index)
    shown = "\n".join(f"# {c.path}\n{c.text}\n" for c in p.extra)
    assert words(shown) + words(p.imports) + words(p.prefix) + words(p.suffix) <= 150
    tools = next(c.text for c in p.extra if c.path == "lib/tools.py")
    assert "def tool7(a, b, c):\n    a = b + c + 0" in tools  # the nearest use: signature + first lines
    assert "def tool0(a, b, c): ..." in tools  # further ones: one line each


def test_index_updates_and_lookups():
    index = _index()
    assert [d.path for d in index.lookup("helper")] == ["file:///w/lib/util.py"]
    index.update("file:///w/other/util.py", [replace(d, path="file:///w/other/util.py") for d in index.lookup("helper")])
    sources = SymbolSources(index, {}, ["file:///w"])
    assert sources.lookup("helper", "file:///w/lib/main.py")[0].path == "file:///w/lib/util.py"  # nearest folder first
    assert sources.label("file:///w/lib/util.py") == "lib/util.py"
    assert index.names_starting("he") == ["helper"]
    index.remove_under("file:///w/lib")
    assert [d.path for d in index.lookup("helper")] == ["file:///w/other/util.py"]
    assert index.lookup("Store") == []
    index.remove("file:///w/other/util.py")
    assert index.file_count == 0 and index.lookup("helper") == []


def test_open_buffers_shadow_the_index():
    index = _index()
    fresh = extract_definitions("python", new_parser("python").parse(b"def helper(x):\n    pass\n"),
                                b"def helper(x):\n    pass\n", "file:///w/lib/util.py")
    sources = SymbolSources(index, {"file:///w/lib/util.py": fresh}, ["file:///w"])
    assert [d.signature for d in sources.lookup("helper", "file:///w/main.py")] == ["def helper(x):"]


def test_workspace_files_skip_ignored_binary_large_and_symlinks(tmp_path: Path):
    (tmp_path / ".gitignore").write_text("gen/\n*.tmp.py\n")
    for rel in ["a.py", "pkg/b.ts", "gen/c.py", "x.tmp.py", "node_modules/m/index.js", "notes.txt", "pkg/.gitignore"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("def f():\n    pass\n" if rel != "pkg/.gitignore" else "skip_*.ts\n")
    (tmp_path / "pkg" / "skip_me.ts").write_text("export function g() {}\n")
    (tmp_path / "bin.py").write_bytes(b"def f():\0\n")
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_FILE_BYTES // 6 + 10))
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path)  # a symlink loop
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    outside.write_text("def secret():\n    pass\n")
    (tmp_path / "escape.py").symlink_to(outside)  # a file outside the workspace
    files = sorted(p.relative_to(tmp_path).as_posix() for p in workspace_files(tmp_path))
    assert files == ["a.py", "big.py", "bin.py", "pkg/b.ts"]
    assert read_definitions(tmp_path / "bin.py", "u") is None  # binary
    assert read_definitions(tmp_path / "big.py", "u") is None  # too large
    assert [d.name for d in read_definitions(tmp_path / "a.py", "u")] == ["f"]
    assert read_definitions(tmp_path / "gone.py", "u") is None


def test_unparsable_file_still_yields_what_parses(tmp_path: Path):
    path = tmp_path / "broken.py"
    path.write_text("def good(a):\n    return a\n\n\ndef bad(x:\n    return x\n\n\ndef after():\n    pass\n")
    assert [d.name for d in read_definitions(path, path.as_uri())] == ["good", "after"]


def test_unreadable_folder_is_skipped(tmp_path: Path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text("y = 2\n")
    locked.chmod(0)
    try:
        files = [p.name for p in workspace_files(tmp_path)]
    finally:
        locked.chmod(0o755)
    assert "ok.py" in files
    if os.geteuid() != 0:  # root reads through permissions
        assert "hidden.py" not in files


def _typing_trace(text: str, rows: list[int]):
    """(text, row, col) after each keystroke: every line of `rows` emptied to its
    indentation and typed back; halfway along every other line, an edit elsewhere that
    changes the choices (the imports shown) while the cursor stays on its line, its byte
    offset too."""
    lines = text.split("\n")
    imports = next(i for i, ln in enumerate(lines) if ln.startswith("import "))
    for n, row in enumerate(rows):
        line = lines[row]
        indent = len(line) - len(line.lstrip())
        for k in range(indent, len(line) + 1):
            lines[row] = line[:k]
            if n % 2 and k == (indent + len(line)) // 2:
                lines[imports] = lines[imports][:-2] + f"m{n}"
            yield "\n".join(lines), row, k


def test_memoized_choices_equal_fresh_ones_while_typing():
    """The memo returns what choosing again would: the same prompt at every keystroke."""
    source = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text()
    index = _index()
    memo = ChoiceMemo()
    steps = 0
    for text, row, col in _typing_trace(source, [60, 61, 200, 201, 350]):
        doc = Document("file:///w/textwrap.py", "python", 1, text, UTF16)
        snap, cursor = doc.snapshot(), doc.cursor(row, col)
        sources = SymbolSources(index, {}, ["file:///w"], buffers_version=())
        own = lambda view: extract_definitions("python", view.tree, view.text.encode(), view.uri)  # noqa: E731
        fresh = build_prompt(snap, cursor, words, Budget(600, 100), sources, own)
        assert build_prompt(snap, cursor, words, Budget(600, 100), sources, own, memo=memo) == fresh
        steps += 1
    assert memo.hits > steps * 0.8  # typing along a line keeps the choices


def test_memoized_choices_follow_the_workspace_index():
    index = SymbolIndex()
    memo = ChoiceMemo()
    doc = Document("file:///w/main.py", "python", 1, MAIN, UTF32)
    snap, cursor = doc.snapshot(), doc.cursor(8, 4)

    def prompt():
        sources = SymbolSources(index, {}, ["file:///w"], buffers_version=())
        return build_prompt(snap, cursor, words, Budget(300, 50), sources, memo=memo)

    assert "def helper" not in "".join(c.text for c in prompt().extra)
    index.update("file:///w/lib/util.py", extract_definitions("python", new_parser("python").parse(DEFS.encode()),
                                                              DEFS.encode(), "file:///w/lib/util.py"))
    assert "def helper" in "".join(c.text for c in prompt().extra)  # indexed since: chosen again
    assert memo.hits == 0
    prompt()
    assert memo.hits == 1


def test_choices_stay_pinned_while_a_line_is_typed_until_a_new_line_or_an_edit_elsewhere():
    """Definitions that arrive while a line is typed (a file just opened, the index growing)
    do not change the prompt's first tokens; a new line or an edit elsewhere adopts them."""
    index = SymbolIndex()
    memo = ChoiceMemo()

    def prompt(typed: str, edits: int = 0, after: str = ""):
        text = MAIN.replace("    \n    return", f"    {typed}\n    return") + after
        doc = Document("file:///w/main.py", "python", 1, text, UTF32)
        sources = SymbolSources(index, {}, ["file:///w"], buffers_version=(), edits=edits)
        return build_prompt(doc.snapshot(), doc.cursor(8, 4 + len(typed)), words, Budget(300, 50), sources, memo=memo)

    def shown(p) -> str:
        return "".join(c.text for c in p.extra)

    first = prompt("acc = h")
    assert "def helper" not in shown(first)
    util = "file:///w/lib/util.py"
    index.update(util, extract_definitions("python", new_parser("python").parse(DEFS.encode()), DEFS.encode(), util))
    assert prompt("acc = he").extra == first.extra and memo.hits == 1  # the same line: the choices stay
    assert "def helper" in shown(prompt("acc = he", after="x = 1\n"))  # the file changed outside the line: chosen again
    index.remove(util)
    assert "def helper" in shown(prompt("acc = hel", after="x = 1\n"))  # pinned again
    assert "def helper" not in shown(prompt("acc = hel", edits=1, after="x = 1\n"))  # an edit in another file


def test_enter_keeps_the_prompt_above_the_cursor_until_the_new_lines_room_is_spent():
    """After Enter the window keeps its first line and takes in the new line, so the
    prompt's head (definitions, imports, the lines above) is the cached one; lines written
    past Budget.new_lines, or an edit above, choose again."""
    source = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text()
    lines = source.split("\n")
    row = next(i for i, ln in enumerate(lines) if ln.strip().startswith("def _munge_whitespace")) + 1
    index, memo, budget = _index(), ChoiceMemo(), Budget(600, 100)
    sources = SymbolSources(index, {}, ["file:///w"], buffers_version=(), edits=0)
    own = lambda view: extract_definitions("python", view.tree, view.text.encode(), view.uri)  # noqa: E731

    def prompt(text: str, at: int, col: int):
        doc = Document("file:///w/textwrap.py", "python", 1, text, UTF16)
        return build_prompt(doc.snapshot(), doc.cursor(at, col), words, budget, sources, own, memo=memo)

    written = "        x = 1"
    before = prompt("\n".join(lines[:row] + [written] + lines[row:]), row, len(written))  # end of a typed line
    hits = memo.hits
    for n in range(1, 4):  # Enter, a line typed, Enter...
        text = "\n".join(lines[:row] + [written] * n + ["        "] + lines[row:])
        after = prompt(text, row + n, 8)
        assert memo.hits == hits + n
        assert after.extra == before.extra and after.imports == before.imports
        assert after.prefix.startswith(before.prefix) and after.prefix.endswith(written + "\n        ")
        assert after.suffix == before.suffix  # the code below, as it was
    many = budget.new_lines // words(written) + 1
    text = "\n".join(lines[:row] + [written] * many + ["        "] + lines[row:])
    hits = memo.hits
    prompt(text, row + many, 8)
    assert memo.hits == hits  # the room for new lines spent: chosen again
    edited = "\n".join(lines[: row - 2] + ["# above"] + lines[row - 2 : row] + [written] * (many + 1) + ["        "] + lines[row:])
    prompt(edited, row + many + 2, 8)
    assert memo.hits == hits  # a line written below, and an edit above it: chosen again
