"""Which workspace files the symbol index reads, and reading one. Runs off the event loop
(an executor thread); the caller applies the results to the SymbolIndex on the loop."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

from .languages import language_for, new_parser
from .symbols import Definition, SymbolIndex, extract_definitions

log = logging.getLogger("sokuji.workspace")
MAX_FILE_BYTES = 1 << 20  # larger files are generated or vendored: not worth indexing
MAX_FILES = 50_000
SKIPPED_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
                ".pytest_cache", ".tox", "target", "build", "dist"}


class Ignore:
    """.gitignore rules of a workspace folder and the folders below it, plus SKIPPED_DIRS."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._specs: dict[Path, pathspec.GitIgnoreSpec] = {}

    def load(self, folder: Path) -> None:
        rules = folder / ".gitignore"
        if rules.is_symlink():  # it may point outside the workspace; git does not read one either
            return
        try:
            lines = rules.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(self, path: Path, is_dir: bool = False) -> bool:
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return True  # outside the workspace (a symlink escaping it included)
        if any(part in SKIPPED_DIRS for part in rel.parts):
            return True
        for folder, spec in self._specs.items():
            try:
                sub = path.relative_to(folder).as_posix()
            except ValueError:
                continue
            if spec.match_file(sub + "/" if is_dir else sub):
                return True
        return False


def workspace_files(root: Path, ignore: Ignore | None = None) -> Iterator[Path]:
    """Source files under `root` in a language sokuji knows, honouring .gitignore; symlinks
    are not followed (no loops, nothing outside the folder); unreadable folders are skipped."""
    ignore = ignore or Ignore(root)
    count = 0
    for folder, dirs, files in os.walk(root, onerror=lambda exc: log.info("skipping %s", exc)):
        here = Path(folder)
        ignore.load(here)
        dirs[:] = sorted(d for d in dirs if not ignore.ignored(here / d, is_dir=True))
        for name in sorted(files):
            path = here / name
            if language_for(None, name) is None or path.is_symlink() or ignore.ignored(path):
                continue
            yield path
            count += 1
            if count >= MAX_FILES:
                log.warning("workspace index stops at %d files under %s", MAX_FILES, root)
                return


def read_definitions(path: Path, uri: str) -> list[Definition] | None:
    """The file's definitions; None when it is gone, unreadable, binary or too large."""
    language = language_for(None, path.name)
    parser = new_parser(language)
    if parser is None:
        return None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        source = path.read_bytes()
    except OSError:
        return None
    if b"\0" in source[:8192]:
        return None  # binary
    try:
        return extract_definitions(language, parser.parse(source), source, uri)
    except Exception:  # a grammar or query fault on one file must not stop the index
        log.exception("cannot index %s", path)
        return None


def index_folder(root: Path) -> SymbolIndex:
    """The whole folder indexed at once (the command line's way; the server goes in batches)."""
    index = SymbolIndex()
    for file in workspace_files(root):
        if (defs := read_definitions(file, file.as_uri())) is not None:
            index.update(file.as_uri(), defs)
    return index
