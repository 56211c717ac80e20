"""Definitions (from grammars/<lang>/tags.scm) and the table that finds them by name.

A definition is kept as a short rendering — signature plus docstring / first lines, and for
a class its members' signatures — so a prompt can show many of them in a few tokens, and
looking one up needs no file I/O.
"""

from __future__ import annotations

import threading
from urllib.parse import unquote
from collections.abc import Iterable
from dataclasses import dataclass

import tree_sitter

from .languages import line_comment
from .queries import captures

WHOLE_LINES = 10  # a definition this short is shown whole
BODY_LINES = 4  # else: its signature and this many first lines of the body
MEMBER_LINES = 24  # a class shows at most this many member signatures
CLOSERS = ("}", "};", "end", "end;")
CONTAINER_KINDS = ("class", "interface", "type", "module")


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # function | method | class | interface | type | constant | module | macro
    path: str  # the file, as the caller names it (a URI for open buffers and the index)
    start_line: int  # 0-based, the definition node's first line
    end_line: int  # its last line
    name_line: int  # the line holding the name
    signature: str  # the name's line, stripped: how a reader recognises it in a prompt
    snippet: str  # what a prompt shows when there is room: signature + first lines
    container: str = ""  # the signature of the class / module it is a member of


def _lines(source: bytes, node: tree_sitter.Node) -> list[str]:
    start = source.rfind(b"\n", 0, node.start_byte) + 1  # from the start of its first line
    return source[start : node.end_byte].decode("utf-8", "replace").split("\n")


def _body_row(node: tree_sitter.Node) -> int | None:
    body = node.child_by_field_name("body")
    return body.start_point.row if body is not None else None


def render(source: bytes, node: tree_sitter.Node, kind: str, language: str, members: list[tree_sitter.Node]) -> str:
    """Signature + docstring / first lines, not the whole body unless it is short."""
    lines = _lines(source, node)
    if len(lines) <= WHOLE_LINES:
        return "\n".join(lines)
    first = node.start_point.row
    body = _body_row(node)
    head = max(1, body - first) if body is not None else 1  # the signature's lines (the body may share the last)
    indent = lines[min(head, len(lines) - 1)]
    indent = indent[: len(indent) - len(indent.lstrip())] or "    "
    elide = indent + ("..." if language == "python" else f"{line_comment(language)} ...")
    if kind in CONTAINER_KINDS and members:
        # the class line(s), its first lines up to the first member, then members' signatures
        first_member = members[0].start_point.row - first
        keep = lines[: max(1, min(first_member, head + BODY_LINES))]
        seen = {m.start_point.row for m in members}
        out = keep + [lines[r - first].rstrip() for r in sorted(seen)[:MEMBER_LINES] if r - first >= len(keep)]
        out.append(elide)
    else:
        out = lines[: head + BODY_LINES] + [elide]
    if lines[-1].strip() in CLOSERS:
        out.append(lines[-1])
    return "\n".join(out)


def extract_definitions(language: str | None, tree: tree_sitter.Tree | None, source: bytes, path: str) -> list[Definition]:
    """Every definition tags.scm finds in the tree, in file order."""
    if tree is None or language is None:
        return []
    found = _tagged(language, tree)
    result: list[Definition] = []
    seen: set[tuple[int, int]] = set()
    open_containers: list[tuple[int, Definition]] = []  # (end byte, definition)
    for i, (node, name_node, kind) in enumerate(found):
        if (node.start_byte, name_node.start_byte) in seen:
            continue
        seen.add((node.start_byte, name_node.start_byte))
        while open_containers and open_containers[-1][0] <= node.start_byte:
            open_containers.pop()
        container = open_containers[-1][1].signature if open_containers else ""
        members = _members(found, i) if kind in CONTAINER_KINDS else []
        result.append(_definition(language, source, path, node, name_node, kind, members, container))
        if kind in CONTAINER_KINDS:
            open_containers.append((node.end_byte, result[-1]))
    return result


def _tagged(language: str, tree: tree_sitter.Tree) -> list[tuple[tree_sitter.Node, tree_sitter.Node, str]]:
    """(definition node, name node, kind) of each tags.scm match that has both, in file
    order, an outer definition before the ones inside it."""
    found = []
    for _, caps in captures(language, "tags", tree.root_node):
        names = caps.get("name")
        defs = [(k.removeprefix("definition."), nodes[0]) for k, nodes in caps.items() if k.startswith("definition.")]
        if not names or not defs:
            continue
        kind, node = defs[0]
        found.append((node, names[0], kind))
    found.sort(key=lambda t: (t[0].start_byte, -t[0].end_byte))
    return found


def _members(found: list[tuple[tree_sitter.Node, tree_sitter.Node, str]], i: int) -> list[tree_sitter.Node]:
    """The definitions inside found[i]: `found` is in file order, so they follow it."""
    members = []
    for n, _, _ in found[i + 1 :]:
        if n.start_byte >= found[i][0].end_byte:
            break
        members.append(n)
    return members


def _definition(
    language: str, source: bytes, path: str, node: tree_sitter.Node, name_node: tree_sitter.Node, kind: str,
    members: list[tree_sitter.Node], container: str,
) -> Definition:
    """A definition as a prompt shows it: its signature (the name's line) and rendering."""
    line_start = source.rfind(b"\n", 0, name_node.start_byte) + 1
    line_end = source.find(b"\n", name_node.start_byte)
    signature = source[line_start : line_end if line_end >= 0 else len(source)].decode("utf-8", "replace").strip()
    return Definition(
        name=source[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace"),
        kind=kind,
        path=path,
        start_line=node.start_point.row,
        end_line=node.end_point.row,
        name_line=name_node.start_point.row,
        signature=signature,
        snippet=render(source, node, kind, language, members),
        container=container,
    )


class SymbolIndex:
    """Definitions by file and by name. Written on the event loop, read by the worker:
    a lock keeps each update atomic for readers (it is held for microseconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[str, tuple[Definition, ...]] = {}
        self._by_name: dict[str, dict[str, tuple[Definition, ...]]] = {}
        self.generation = 0  # bumped by every change: prompts chosen before it may be stale

    def update(self, path: str, definitions: Iterable[Definition]) -> None:
        defs = tuple(definitions)
        with self._lock:
            if self._by_path.get(path) == defs:
                return  # saved again with the same definitions
            self.generation += 1
            self._drop(path)
            self._by_path[path] = defs
            grouped: dict[str, list[Definition]] = {}
            for d in defs:
                grouped.setdefault(d.name, []).append(d)
            for name, items in grouped.items():
                self._by_name.setdefault(name, {})[path] = tuple(items)

    def remove(self, path: str) -> None:
        with self._lock:
            self.generation += 1
            self._drop(path)

    def remove_under(self, prefix: str) -> None:
        """Forget every file below a folder (deleted or moved away)."""
        folder = prefix.rstrip("/") + "/"
        with self._lock:
            self.generation += 1
            for path in [p for p in self._by_path if p.startswith(folder)]:
                self._drop(path)

    def _drop(self, path: str) -> None:
        for d in self._by_path.pop(path, ()):
            files = self._by_name.get(d.name)
            if files is not None:
                files.pop(path, None)
                if not files:
                    del self._by_name[d.name]

    def lookup(self, name: str) -> list[Definition]:
        with self._lock:
            files = self._by_name.get(name)
            return [d for defs in files.values() for d in defs] if files else []

    def names_starting(self, prefix: str, limit: int = 8) -> list[str]:
        with self._lock:
            names = [n for n in self._by_name if n.startswith(prefix) and n != prefix]
        return sorted(names, key=lambda n: (len(n), n))[:limit]

    def definitions(self, path: str) -> tuple[Definition, ...]:
        with self._lock:
            return self._by_path.get(path, ())

    def paths(self) -> list[str]:
        with self._lock:
            return list(self._by_path)

    @property
    def file_count(self) -> int:
        return len(self._by_path)

    @property
    def definition_count(self) -> int:
        with self._lock:
            return sum(len(d) for d in self._by_path.values())


class SymbolSources:
    """Lookups across open buffers (fresher) and the workspace index, best candidates first:
    files the asking file shares the most folders with."""

    def __init__(
        self,
        index: SymbolIndex | None,
        buffers: dict[str, list[Definition]],
        roots: list[str],
        buffers_version: object = None,
        edits: object = None,
    ) -> None:
        """`buffers_version` names the buffers' contents (the same value: the same
        definitions); without it no two sources compare equal. `edits` names the user's
        edits outside the asking file so far (other buffers, files on disk): definitions that
        change without it moving are adopted at the next new line (see ChoiceMemo); None
        adopts them at once."""
        self.edits = edits
        self._index = index
        self._buffers = buffers
        self._buffer_names: dict[str, list[Definition]] = {}
        for defs in buffers.values():
            for d in defs:
                self._buffer_names.setdefault(d.name, []).append(d)
        self._roots = sorted((r.rstrip("/") + "/" for r in roots), key=len, reverse=True)
        # what lookups, labels and names depend on: equal generations, equal answers
        self.generation = (
            index.generation if index is not None else None,
            object() if buffers_version is None else buffers_version,
            tuple(self._roots),
        )

    def lookup(self, name: str, near: str) -> list[Definition]:
        found = list(self._buffer_names.get(name, ()))
        if self._index is not None:
            found += [d for d in self._index.lookup(name) if d.path not in self._buffers]
        return sorted(found, key=lambda d: (-_shared_folders(d.path, near), d.path, d.start_line))

    def label(self, path: str) -> str:
        """A path as the model is shown it: relative to its workspace folder."""
        for root in self._roots:
            if path.startswith(root):
                return unquote(path[len(root) :])
        return unquote(path.rsplit("/", 1)[-1])

    def repo(self, path: str) -> str:
        """The name of the workspace folder holding `path` ('' outside them)."""
        root = next((r for r in self._roots if path.startswith(r)), "")
        return unquote(root.rstrip("/").rsplit("/", 1)[-1]) if root else ""


def _shared_folders(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("/")[:-1], b.split("/")[:-1]):
        if x != y:
            break
        n += 1
    return n
