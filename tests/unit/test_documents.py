"""Incremental tree-sitter parsing stays equal to a fresh parse after every edit."""

import random

import pytest
import tree_sitter

from lsp_server.context.languages import grammar_names, language_for, ts_language
from lsp_server.documents import UTF8, UTF16, Document, index_to_col

SOURCES = {
    "python": 'import os\n\n\ndef greet(name: str) -> str:\n    """Say hi 😀."""\n    return f"hi {name} 漢字"\n\n\nclass A:\n    x = [1, 2, (3, 4)]\n',
    "javascript": "const a = [1, 2, 3];\nfunction f(x) {\n  return x.map((y) => y * 2); // 😀\n}\n",
    "rust": 'fn main() {\n    let s = "漢字";\n    println!("{}", s);\n}\n',
}
SNIPPETS = ["x", "(", ")", "\n", "    ", "😀", "漢", "def g():\n    pass\n", "{", "}", '"', "", "return 1\n"]


def fresh_tree(language: str, text: str) -> tree_sitter.Node:
    return tree_sitter.Parser(ts_language(language)).parse(text.encode()).root_node


def lsp_position(text: str, offset: int, encoding: str) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return line, index_to_col(text[start:], offset - start, encoding)


@pytest.mark.parametrize("encoding", [UTF16, UTF8])
@pytest.mark.parametrize("language", sorted(SOURCES))
def test_incremental_parse_equals_fresh_parse(language, encoding):
    rng = random.Random(f"{language}-{encoding}")
    text = SOURCES[language]
    doc = Document(f"file:///t.{language}", language, 1, text, encoding)
    for _ in range(150):
        a = rng.randrange(len(text) + 1)
        b = min(len(text), a + rng.choice([0, 0, 1, 2, 5, 20]))
        new = rng.choice(SNIPPETS)
        doc.apply_change(new, lsp_position(text, a, encoding), lsp_position(text, b, encoding))
        text = text[:a] + new + text[b:]
        assert doc.text == text
        fresh = fresh_tree(language, text)
        assert str(doc.tree.root_node) == str(fresh)
        assert (doc.tree.root_node.start_byte, doc.tree.root_node.end_byte) == (fresh.start_byte, fresh.end_byte)


def test_whole_text_change_and_snapshot_isolation():
    doc = Document("file:///t.py", "python", 1, "x = 1\n", UTF16)
    snap = doc.snapshot()
    doc.apply_change("def f(:\n")
    assert doc.tree.root_node.has_error
    assert snap.text == "x = 1\n" and not snap.tree.root_node.has_error  # the snapshot did not move


def test_unknown_language_is_plain_text():
    doc = Document("file:///notes.txt", "plaintext", 1, "hello", UTF16)
    doc.apply_change(" world", (0, 5), (0, 5))
    assert doc.tree is None and doc.text == "hello world"


def test_every_grammar_loads_offline():
    assert all(ts_language(name) is not None for name in grammar_names())
    assert language_for("typescriptreact") == "tsx"
    assert language_for(None, "/x/main.rs") == "rust"
