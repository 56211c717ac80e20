"""Data flows one way: each layer imports only what DESIGN.md allows, and no two of
lsp_server's units (its packages and top-level modules) import each other."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PROTOCOL = "lsp_server.protocol"
LSP = ["pygls", "lsprotocol"]
FEATURES = ["lsp_server.completion", "lsp_server.fixes"]  # one package each: its flow, jobs and pipeline
LOOP_SIDE = ["lsp_server.completion.flow", "lsp_server.fixes.flow", "lsp_server.fixes.diagnostics",
             "lsp_server.engines", "lsp_server.session", "lsp_server.workspace"]
RULES = {
    "lsp_server.structs": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter"],
    "lsp_server.config": ["lsp_server.", "pygls", "llama_cpp"],
    "lsp_server.positions": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter"],
    "lsp_server.supervised": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter"],
    "lsp_server.buildflags": ["lsp_server.", "pygls", "llama_cpp", "tree_sitter", "msgspec"],  # run before the install
    # the relay in front of the server: small and light, no LSP library, no model, no parser
    "lsp_server.supervisor": [PROTOCOL, *LSP, "llama_cpp", "tree_sitter", *FEATURES, "lsp_server.engines",
                              "lsp_server.session", "lsp_server.documents", "lsp_server.context",
                              "lsp_server.engine.model", "numpy"],
    # the context builder works on structs' Snapshot and Cursor, not on the documents that make them
    "lsp_server.context.prompt": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.scope": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.symbols": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.syntax": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.workspace": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.languages": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.queries": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.recent": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.bindings": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.context.memo": ["lsp_server.engine", "lsp_server.documents", PROTOCOL, *LSP, "llama_cpp"],
    # the edit history: text in, hunks out, on the loop; nothing of the model, the parser or LSP
    "lsp_server.edits": ["lsp_server.engine", "lsp_server.context", "lsp_server.documents", "lsp_server.session",
                         *FEATURES, PROTOCOL, *LSP, "llama_cpp", "tree_sitter"],
    # next edits: the rules are pure (snapshots and the history in, proposals out), the flow speaks no LSP
    "lsp_server.nextedit.rules": ["lsp_server.engine", "lsp_server.documents", "lsp_server.session", *FEATURES[:1],
                                  PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.nextedit.flow": [PROTOCOL, *LSP, "lsp_server.completion"],
    "lsp_server.engine.base": ["lsp_server.context", PROTOCOL, *LSP, "tree_sitter", "llama_cpp"],
    "lsp_server.engine.model": ["lsp_server.context", "lsp_server.documents", PROTOCOL, *LSP, "tree_sitter"],
    "lsp_server.engine.remote": ["lsp_server.context", "lsp_server.documents", PROTOCOL, *LSP, "tree_sitter", "llama_cpp"],
    "lsp_server.loading": ["lsp_server.context", "lsp_server.documents", PROTOCOL, *LSP, "tree_sitter"],
    "lsp_server.client": ["lsp_server.", *LSP],  # what features tell the editor: a leaf
    "lsp_server.pause": ["lsp_server.", *LSP],
    "lsp_server.results": ["lsp_server.context", "lsp_server.engine", "lsp_server.session", "lsp_server.completion",
                           "lsp_server.fixes", "lsp_server.protocol", *LSP, "llama_cpp", "tree_sitter"],
    "lsp_server.engine.worker": ["lsp_server.context", PROTOCOL, *LSP],
    "lsp_server.engine.healing": ["lsp_server.", *LSP, "llama_cpp", "tree_sitter"],  # pure: literal vocabularies
    "lsp_server.engine.confidence": ["lsp_server.", *LSP, "llama_cpp", "tree_sitter"],
    # each feature's pipeline: below the engine thread's session, never the flows above it
    "lsp_server.completion.postprocess": ["lsp_server.", *LSP, "llama_cpp"],
    "lsp_server.completion.pipeline": [PROTOCOL, *LOOP_SIDE, *LSP],
    "lsp_server.completion.alternatives": [PROTOCOL, *LOOP_SIDE, *LSP],
    "lsp_server.fixes.plan": [PROTOCOL, *LOOP_SIDE, "lsp_server.completion", *LSP],
    # what is published and repaired is decided without the model
    "lsp_server.fixes.lexer": ["lsp_server.", *LSP, "llama_cpp"],
    "lsp_server.fixes.syntax": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.fixes.repairs": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    "lsp_server.fixes.problems": ["lsp_server.engine", PROTOCOL, *LSP, "llama_cpp"],
    # the catalog and the cache: no LSP, no context; the download stack only inside `pull`
    "lsp_server.models": [PROTOCOL, "lsp_server.context", *LSP, "tree_sitter",
                          "huggingface_hub.file_download", "httpx", "filelock"],
    # the engine thread's state: no LSP, no feature (their jobs take the session)
    "lsp_server.session": [PROTOCOL, *FEATURES, "lsp_server.engines", "lsp_server.workspace", *LSP],
    # the jobs: the engine thread's, no loop-side flow
    "lsp_server.completion.jobs": [PROTOCOL, *LSP, "lsp_server.completion.flow", "lsp_server.engines", "lsp_server.fixes"],
    "lsp_server.fixes.jobs": [PROTOCOL, *LSP, "lsp_server.fixes.flow", "lsp_server.engines", "lsp_server.completion"],
    # the flows: no LSP (the protocol layer speaks it), each its own
    "lsp_server.completion.flow": [PROTOCOL, *LSP, "lsp_server.fixes"],
    "lsp_server.fixes.flow": [PROTOCOL, *LSP, "lsp_server.completion", "lsp_server.fixes.diagnostics", "lsp_server.workspace"],
    "lsp_server.fixes.diagnostics": [PROTOCOL, *LSP, "lsp_server.engine", "lsp_server.session", "lsp_server.engines",
                                     "lsp_server.completion", "lsp_server.fixes.flow", "llama_cpp"],
    "lsp_server.engines": [PROTOCOL, *LSP, *FEATURES],
    "lsp_server.workspace": [PROTOCOL, *LSP, "lsp_server.engine", "lsp_server.session", "llama_cpp"],
    "lsp_server.protocol": ["huggingface_hub.file_download", "httpx", "filelock"],  # serve never downloads
    # a buffer needs its grammar (context.languages), nothing else of the context builder
    "lsp_server.documents": ["lsp_server.engine", "lsp_server.session", *FEATURES, "lsp_server.engines",
                             "lsp_server.context", PROTOCOL, *LSP, "llama_cpp"],
}
ALLOWED = {"lsp_server.documents": ["lsp_server.context", "lsp_server.context.languages"]}  # exceptions to RULES


@pytest.mark.parametrize("module", sorted(RULES))
def test_imports_stay_in_their_layer(module):
    code = (
        f"import sys, {module}\n"
        f"own = {module!r}\n"
        "print('\\n'.join(m for m in sys.modules if m != own and not own.startswith(m + '.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    for forbidden in RULES[module]:
        leaked = [m for m in loaded if m.startswith(forbidden) and m != "lsp_server" and m not in ALLOWED.get(module, ())]
        assert not leaked, f"{module} pulls in {leaked}"


PACKAGE = Path(__file__).resolve().parents[2] / "lsp_server"


def _unit(module: str) -> str | None:
    """The unit under lsp_server a dotted module belongs to: a package (context, engine,
    completion, fixes, protocol, supervisor) or a top-level module (documents, structs, ...); None for the
    package itself (its __init__: the version) or anything outside it."""
    parts = module.split(".")
    if parts[0] != "lsp_server" or len(parts) < 2:
        return None
    return parts[1] if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file() else None


def _imported(path: Path) -> list[tuple[str, int]]:
    """(dotted module, line) of every import in the file, inside functions too; a name
    imported from a package (`from .. import fixes`) counts as its submodule."""
    package = list(path.relative_to(PACKAGE.parent).parts[:-1])  # what `.` names there
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def unit_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> {unit it imports: ["module:line", ...]}."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        source = _unit(module)
        for target, line in _imported(path):
            unit = _unit(target)
            if source is not None and unit is not None and unit != source:
                graph.setdefault(source, {}).setdefault(unit, []).append(f"{module}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


KNOWN_CYCLES: list[list[str]] = []  # none: any cycle between units fails the test


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert _unit("lsp_server.context.prompt") == "context" and _unit("lsp_server.documents") == "documents"
    assert _unit("lsp_server.__version__") is None and _unit("tree_sitter") is None


def test_no_import_cycle_between_units():
    graph = unit_graph()
    assert "structs" in graph["context"] and "documents" not in graph["context"]  # the graph is read
    found = cycles(graph)
    detail = {" <-> ".join(c): {a: {b: graph[a][b] for b in c if b in graph.get(a, {})} for a in c} for c in found}
    assert found == KNOWN_CYCLES, f"import cycles between lsp_server's units: {detail}"
