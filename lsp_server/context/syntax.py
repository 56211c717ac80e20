"""Syntax-tree questions about the cursor: is a completion worth asking for here, and does a
completion parse where it would be inserted."""

from __future__ import annotations

from collections.abc import Callable

import tree_sitter

from ..structs import Cursor, Snapshot, utf8
from .languages import new_parser

COMMENT_TYPES = {"comment", "line_comment", "block_comment"}
STRING_TYPES = {"string", "string_literal", "raw_string_literal", "interpreted_string_literal",
                "template_string", "string_content", "char_literal", "heredoc_body"}


def _errors(node: tree_sitter.Node) -> int:
    if not node.has_error:
        return 0
    own = 1 if node.is_error or node.is_missing else 0
    return own + sum(_errors(child) for child in node.children)


def error_counter(snap: Snapshot, cursor: Cursor) -> Callable[[str], int] | None:
    """`count(text)`: syntax errors in the document with `text` inserted at the cursor."""
    parser = new_parser(snap.language)
    if parser is None:
        return None
    before, after = snap.source[: cursor.byte], snap.source[cursor.byte :]

    def count(text: str) -> int:
        return _errors(parser.parse(before + utf8(text) + after).root_node)

    return count


def _is_docstring(node: tree_sitter.Node) -> bool:
    """A Python string that is the first statement of a module, class or function body."""
    stmt = node.parent
    if stmt is None or stmt.type != "expression_statement":
        return False
    block = stmt.parent
    return block is not None and block.type in ("block", "module") and block.named_children[:1] == [stmt]


def completion_mode(snap: Snapshot, cursor: Cursor) -> str | None:
    """"skip" where a completion makes no sense, else None (decide by the line)."""
    line_before = cursor.before
    closing = line_before.rstrip().endswith((")", "]", "}")) and line_before == line_before.rstrip()
    if closing and not snap.text[cursor.offset :].strip():
        return "skip"  # right after a closing bracket at the end of the file
    if snap.tree is None:
        return None
    byte = cursor.byte
    node = snap.tree.root_node.descendant_for_byte_range(byte, byte)
    while node is not None:
        if node.type in COMMENT_TYPES:
            at_line_end = not cursor.after.strip()
            return None if at_line_end else "skip"  # typing on at the end of a comment is fine
        if node.type in STRING_TYPES and node.start_byte < byte < node.end_byte:
            top = node if node.type != "string_content" else node.parent
            return None if top is not None and _is_docstring(top) else "skip"
        node = node.parent
    return None
