"""Data flows one way: each layer imports only what DESIGN.md allows."""

import subprocess
import sys

import pytest

PROTOCOL = "lsp_server.protocol"
LSP = ["pygls", "lsprotocol"]
RULES = {
    "lsp_server.structs": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter"],
    "lsp_server.config": ["lsp_server.", "pygls", "llama_cpp"],
    "lsp_server.context.prompt": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.scope": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.symbols": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.workspace": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.engine.base": ["lsp_server.context", PROTOCOL, *LSP, "tree_sitter", "llama_cpp"],
    "lsp_server.engine.model": ["lsp_server.context", "lsp_server.documents", PROTOCOL, *LSP, "tree_sitter"],
    "lsp_server.engine.remote": ["lsp_server.context", "lsp_server.documents", PROTOCOL, *LSP, "tree_sitter", "llama_cpp"],
    "lsp_server.engine.loader": ["lsp_server.context", "lsp_server.documents", PROTOCOL, *LSP, "tree_sitter"],
    "lsp_server.engine.worker": ["lsp_server.context", PROTOCOL, *LSP],
    "lsp_server.engine.healing": ["lsp_server.", *LSP, "llama_cpp", "tree_sitter"],  # pure: literal vocabularies
    "lsp_server.engine.confidence": ["lsp_server.", *LSP, "llama_cpp", "tree_sitter"],
    "lsp_server.postprocess": ["lsp_server.", *LSP, "llama_cpp"],
    "lsp_server.completion": [PROTOCOL, "lsp_server.features", "lsp_server.session", *LSP],
    "lsp_server.alternatives": [PROTOCOL, "lsp_server.features", "lsp_server.session", *LSP],
    # the catalog and the cache: no LSP, no context; the download stack only inside `pull`
    "lsp_server.models": [PROTOCOL, "lsp_server.context", *LSP, "tree_sitter",
                          "huggingface_hub.file_download", "httpx", "filelock"],
    "lsp_server.fixes": [PROTOCOL, "lsp_server.features", "lsp_server.session", *LSP],
    # the engine thread's state: no LSP, no loop-side feature
    "lsp_server.session": [PROTOCOL, "lsp_server.features", "lsp_server.workspace", *LSP],
    # the features: no LSP (the protocol layer speaks it), each its own flow
    "lsp_server.features.completion": [PROTOCOL, *LSP, "lsp_server.features.fixes", "lsp_server.features.diagnostics"],
    "lsp_server.features.fixes": [PROTOCOL, *LSP, "lsp_server.features.completion", "lsp_server.features.diagnostics",
                                  "lsp_server.workspace"],
    "lsp_server.features.diagnostics": [PROTOCOL, *LSP, "lsp_server.engine", "lsp_server.session",
                                        "lsp_server.features.completion", "lsp_server.features.fixes", "llama_cpp"],
    "lsp_server.features.engines": [PROTOCOL, *LSP, "lsp_server.features.completion", "lsp_server.features.fixes"],
    "lsp_server.workspace": [PROTOCOL, *LSP, "lsp_server.engine", "lsp_server.session", "llama_cpp"],
    "lsp_server.protocol": ["huggingface_hub.file_download", "httpx", "filelock"],  # serve never downloads
    # what is published and repaired is decided without the model
    "lsp_server.lexer": ["lsp_server.", *LSP, "llama_cpp"],
    "lsp_server.syntax_errors": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.repairs": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.diagnostics": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.documents": ["lsp_server.engine", "lsp_server.session", "lsp_server.features", PROTOCOL, *LSP, "llama_cpp"],
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
