"""Tree-sitter grammars, from the per-language wheels that ship them compiled (no downloads)."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import tree_sitter

# grammar name -> (module, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "rust": ("tree_sitter_rust", "language"),
    "go": ("tree_sitter_go", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "java": ("tree_sitter_java", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "bash": ("tree_sitter_bash", "language"),
    "lua": ("tree_sitter_lua", "language"),
}

# LSP languageId -> grammar name (ids as VS Code, Neovim and eglot send them)
_LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "tsx": "tsx",
    "rust": "rust",
    "go": "go",
    "c": "c",
    "cpp": "cpp",
    "java": "java",
    "ruby": "ruby",
    "shellscript": "bash",
    "bash": "bash",
    "sh": "bash",
    "lua": "lua",
}

_EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".rs": "rust", ".go": "go",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".java": "java", ".rb": "ruby",
    ".sh": "bash", ".bash": "bash", ".zsh": "bash",
    ".lua": "lua",
}


_LINE_COMMENTS = {"python": "#", "ruby": "#", "bash": "#", "lua": "--"}


def line_comment(language: str | None) -> str:
    """How the language starts a line comment (prompt headers are written as comments)."""
    return _LINE_COMMENTS.get(language or "", "//")


def grammar_names() -> list[str]:
    return list(_GRAMMARS)


def language_for(language_id: str | None, path: str = "") -> str | None:
    """Grammar name for an LSP languageId, falling back to the file extension."""
    if language_id and language_id.lower() in _LANGUAGE_IDS:
        return _LANGUAGE_IDS[language_id.lower()]
    return _EXTENSIONS.get(Path(path).suffix.lower())


@functools.cache
def ts_language(name: str) -> tree_sitter.Language | None:
    """The compiled grammar, or None when its package is missing or broken."""
    module_name, func = _GRAMMARS[name]
    try:
        return tree_sitter.Language(getattr(importlib.import_module(module_name), func)())
    except Exception:  # a missing or ABI-incompatible grammar wheel must not stop the server
        return None


def new_parser(name: str | None) -> tree_sitter.Parser | None:
    language = ts_language(name) if name else None
    return tree_sitter.Parser(language) if language else None
