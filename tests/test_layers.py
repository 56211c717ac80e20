"""Data flows one way: each layer imports only what DESIGN.md allows."""

import subprocess
import sys

import pytest

RULES = {
    "lsp_server.structs": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter"],
    "lsp_server.config": ["lsp_server.", "pygls", "llama_cpp"],
    "lsp_server.context.prompt": ["lsp_server.engine", "lsp_server.server", "pygls", "llama_cpp"],
    "lsp_server.context.scope": ["lsp_server.engine", "lsp_server.server", "pygls", "llama_cpp"],
    "lsp_server.context.symbols": ["lsp_server.engine", "lsp_server.server", "pygls", "llama_cpp"],
    "lsp_server.context.workspace": ["lsp_server.engine", "lsp_server.server", "pygls", "llama_cpp"],
    "lsp_server.engine.model": ["lsp_server.context", "lsp_server.server", "pygls", "tree_sitter"],
    "lsp_server.engine.worker": ["lsp_server.context", "lsp_server.server", "pygls"],
    "lsp_server.engine.healing": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter"],  # pure: literal vocabularies
    "lsp_server.engine.confidence": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter"],
    "lsp_server.postprocess": ["lsp_server.", "pygls", "llama_cpp"],
    "lsp_server.completion": ["lsp_server.server", "pygls"],
    # the catalog and the cache: no LSP, no context; the download stack only inside `pull`
    "lsp_server.models": ["lsp_server.server", "lsp_server.context", "pygls", "tree_sitter",
                          "huggingface_hub.file_download", "httpx", "filelock"],
    "lsp_server.fixes": ["lsp_server.server", "pygls"],
    "lsp_server.server": ["huggingface_hub.file_download", "httpx", "filelock"],  # serve never downloads
    # what is published and repaired is decided without the model
    "lsp_server.lexer": ["lsp_server.", "pygls", "llama_cpp"],
    "lsp_server.syntax_errors": ["lsp_server.engine", "lsp_server.server", "pygls", "llama_cpp"],
    "lsp_server.repairs": ["lsp_server.engine", "lsp_server.server", "pygls", "llama_cpp"],
    "lsp_server.diagnostics": ["lsp_server.engine", "lsp_server.server", "pygls", "llama_cpp"],
}


@pytest.mark.parametrize("module", sorted(RULES))
def test_imports_stay_in_their_layer(module):
    code = (
        f"import sys, {module}\n"
        f"own = {module!r}\n"
        "print('\\n'.join(m for m in sys.modules if m != own and not own.startswith(m + '.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    for forbidden in RULES[module]:
        leaked = [m for m in loaded if m.startswith(forbidden) and m not in ("lsp_server",)]
        assert not leaked, f"{module} pulls in {leaked}"
