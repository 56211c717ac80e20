"""Tree-sitter queries from grammars/<lang>/<kind>.scm (shipped as the lsp_server.grammars
package). Capture names are fixed; grammars/README.md lists them."""

from __future__ import annotations

import functools
import importlib.resources
import logging

import tree_sitter

from .languages import ts_language

log = logging.getLogger("sokuji.queries")
KINDS = ("tags", "locals", "imports")


def query_source(language: str, kind: str) -> str | None:
    """Text of grammars/<language>/<kind>.scm, following `; inherits: a,b` lines."""
    path = importlib.resources.files("lsp_server.grammars") / language / f"{kind}.scm"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    parts = []
    for line in text.splitlines():
        if line.startswith("; inherits:"):
            for parent in line.split(":", 1)[1].split(","):
                if (inherited := query_source(parent.strip(), kind)) is not None:
                    parts.append(inherited)
    parts.append(text)
    return "\n".join(parts)


@functools.cache
def query(language: str | None, kind: str) -> tree_sitter.Query | None:
    """The compiled query, or None when the language has none (or it does not compile:
    logged once, and that feature is skipped for the language)."""
    if language is None or kind not in KINDS:
        return None
    grammar = ts_language(language)
    source = query_source(language, kind)
    if grammar is None or source is None:
        return None
    try:
        return tree_sitter.Query(grammar, source)
    except Exception as exc:  # a query the grammar rejects must not take the server down
        log.warning("grammars/%s/%s.scm does not compile: %s", language, kind, exc)
        return None


def captures(language: str | None, kind: str, node: tree_sitter.Node) -> list[tuple[int, dict[str, list[tree_sitter.Node]]]]:
    """Matches of the query over `node`: (pattern index, capture name -> nodes)."""
    q = query(language, kind)
    if q is None:
        return []
    return tree_sitter.QueryCursor(q).matches(node)
