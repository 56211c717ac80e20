"""Fix suggestions through the real server and model: diagnostics, code actions, resolve."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from lsp_server.fixes.syntax import errors_of

from ..helpers.e2e import capabilities, open_doc, session, wait_stat

BROKEN = "def total(values, factor):\n    result = sum(values\n    return result * factor\n"
FIXED = "def total(values, factor):\n    result = sum(values)\n    return result * factor\n"


def errors(text: str) -> int:
    """Syntax errors tree-sitter and Python's own parser find in `text`."""
    return errors_of("python", text.encode()).count


def apply(text: str, edit: types.WorkspaceEdit, uri: str, version: int) -> str:
    """Apply a versioned WorkspaceEdit the way an editor does (edits from the end)."""
    (change,) = edit.document_changes
    assert change.text_document.uri == uri and change.text_document.version == version
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)  # ASCII test files: characters = code units
    for e in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a = starts[e.range.start.line] + e.range.start.character
        b = starts[e.range.end.line] + e.range.end.character
        text = text[:a] + e.new_text + text[b:]
    return text


def caps_versioned(**changes) -> types.ClientCapabilities:
    """VS Code's capabilities with versioned diagnostics (what VS Code sends nowadays)."""
    caps = capabilities(inline=True)
    caps.text_document.publish_diagnostics.version_support = True
    for key, value in changes.items():
        setattr(caps.text_document.code_action, key, value)
    return caps


def recorder(client) -> list[types.PublishDiagnosticsParams]:
    """Every publishDiagnostics the client receives, in order."""
    published: list[types.PublishDiagnosticsParams] = []
    features = client.protocol.fm.features
    original = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(*args):
        published.append(args[-1])
        return original(*args)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    return published


async def diagnostics_for(published, uri: str, version: int, timeout: float = 10) -> list[types.Diagnostic]:
    for _ in range(int(timeout / 0.05)):
        for p in published:
            if p.uri == uri and p.version == version:
                return list(p.diagnostics)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no diagnostics for version {version}: {published}")


async def code_actions(client, uri: str, diagnostics: list[types.Diagnostic], rng: types.Range | None = None):
    rng = rng or (diagnostics[0].range if diagnostics else types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)))
    return await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=diagnostics),
            )
        ),
        60,
    )


async def resolve(client, action: types.CodeAction) -> types.CodeAction:
    return await asyncio.wait_for(client.code_action_resolve_async(action), 120)


async def test_missing_paren_gets_a_diagnostic_and_a_fix_that_parses(tmp_path: Path):
    uri = (tmp_path / "calc.py").as_uri()
    async with session(caps_versioned()) as client:
        published = recorder(client)
        open_doc(client, uri, BROKEN)
        (diag,) = await diagnostics_for(published, uri, 1)
        assert diag.source == "sokuji" and diag.severity == types.DiagnosticSeverity.Error
        assert diag.range.start.line == 1 and diag.message.startswith(("unexpected", "missing"))

        actions = await code_actions(client, uri, [diag])  # listed with what it will do; no edit yet
        (action,) = actions
        assert action.title == "Fix with sokuji: insert ')' (line 2)" and action.kind == types.CodeActionKind.QuickFix
        assert action.edit is None

        resolved = await resolve(client, action)
        fixed = apply(BROKEN, resolved.edit, uri, 1)
        assert errors(fixed) == 0
        assert fixed == FIXED  # the one-character repair, not a rewrite
        (change,) = resolved.edit.document_changes
        assert [e.range.start.line for e in change.edits] == [1]  # only the changed line


async def test_a_checked_repair_needs_no_model_and_a_rewrite_is_offered_only_with_one(tmp_path: Path):
    """`def broken(x:`: the ')' goes before the ':' (resolving once said "no safe fix
    found"). With no model at all the checked repair is still listed and applied; a
    problem only the model could rewrite is not listed."""
    uri, other = (tmp_path / "broken.py").as_uri(), (tmp_path / "mess.py").as_uri()
    text, mess = "def broken(x:\n    return x\n", "def f(a):\n    return a +* 2\n"
    async with session(caps_versioned(), {"model": str(tmp_path / "missing.gguf")}) as client:
        published = recorder(client)
        await wait_stat(client, "modelError", bool)
        open_doc(client, uri, text)
        open_doc(client, other, mess)
        (diag,) = await diagnostics_for(published, uri, 1)
        assert (diag.range.start.line, diag.message) == (0, "missing ')'")
        (action,) = await code_actions(client, uri, [diag])
        assert action.title == "Fix with sokuji: insert ')' (line 1)"
        resolved = await resolve(client, action)
        assert apply(text, resolved.edit, uri, 1) == "def broken(x):\n    return x\n"
        (diag,) = await diagnostics_for(published, other, 1)
        assert not await code_actions(client, other, [diag])


async def test_the_model_picks_among_checked_repairs(tmp_path: Path):
    """A ')' dropped from the end of a call line can go in five places that all parse (one
    makes `base` a tuple); the model ranks them, it does not write the fix."""
    uri = (tmp_path / "paths.py").as_uri()
    text = ('import os\n\n\ndef config_path(name):\n    """Where the named config file lives."""\n'
            '    base = os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")\n'
            '    return os.path.join(base, name)\n')
    async with session(caps_versioned()) as client:
        published = recorder(client)
        open_doc(client, uri, text)
        (diag,) = await diagnostics_for(published, uri, 1)
        assert diag.range.start.line == 5
        (action,) = await code_actions(client, uri, [diag])
        assert action.title == "Fix with sokuji: insert ')' (line 6; the model picks among 5 checked repairs)"
        resolved = await resolve(client, action)
        assert apply(text, resolved.edit, uri, 1) == text.replace('"~/.config")', '"~/.config"))')


async def test_a_dropped_bracket_far_from_where_tree_sitter_notices_it(tmp_path: Path):
    """tree-sitter reports `npa(pkg` at the function's end; the diagnostic is on its line."""
    uri = (tmp_path / "deprecate.js").as_uri()
    text = "async function exec(pkg) {\n  const p = npa(pkg\n  const spec = p.rawSpec\n  return spec\n}\n"
    async with session(caps_versioned()) as client:
        published = recorder(client)
        open_doc(client, uri, text, "javascript")
        (diag,) = await diagnostics_for(published, uri, 1)
        assert (diag.range.start.line, diag.message) == (1, "missing ')'")
        (action,) = await code_actions(client, uri, [diag])
        resolved = await resolve(client, action)
        assert apply(text, resolved.edit, uri, 1) == text.replace("npa(pkg", "npa(pkg)")


async def test_diagnostics_follow_the_latest_version_only(tmp_path: Path):
    uri = (tmp_path / "calc.py").as_uri()
    async with session(caps_versioned()) as client:
        published = recorder(client)
        open_doc(client, uri, BROKEN)
        client.text_document_did_change(  # fixed before the debounce ran out
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=FIXED)],
            )
        )
        assert await diagnostics_for(published, uri, 2) == []
        await asyncio.sleep(0.5)
        assert [p.version for p in published if p.uri == uri] == [2]  # version 1 was never published


async def test_another_servers_diagnostic_is_offered_a_fix(tmp_path: Path):
    uri = (tmp_path / "calc.py").as_uri()
    text = "def total(values, factor):\n    result = sum(values)\n    return reslt * factor\n"
    async with session(capabilities(inline=True)) as client:
        open_doc(client, uri, text)
        diag = types.Diagnostic(
            range=types.Range(start=types.Position(line=2, character=11), end=types.Position(line=2, character=16)),
            message="undefined name 'reslt'",
            source="pyflakes",
        )
        (action,) = await code_actions(client, uri, [diag])
        assert action.title == "Fix with sokuji: 'reslt' → 'result' (line 3)"
        resolved = await resolve(client, action)
        assert apply(text, resolved.edit, uri, 1) == text.replace("reslt", "result")


async def test_an_offered_fix_always_parses_and_eager_clients_get_the_edit_at_once(tmp_path: Path):
    """A client without codeAction/resolve gets edits computed while listing (time-boxed);
    whatever the model writes, only a rewrite that parses is offered."""
    uri = (tmp_path / "mess.py").as_uri()
    text = "def f(a:\n    return g(h(a, [1, 2\n\nprint(f(1))\n"
    async with session(caps_versioned(resolve_support=None), {"fixTimeBudgetMs": 3000}) as client:
        published = recorder(client)
        open_doc(client, uri, text)
        diags = await diagnostics_for(published, uri, 1)
        assert diags
        actions = await code_actions(client, uri, diags)
        assert actions
        for action in actions:
            if action.edit is None:  # refused: said so, with the reason
                assert action.title.startswith("sokuji: no safe fix found (") or action.disabled is not None
            else:
                assert errors(apply(text, action.edit, uri, 1)) < errors(text)


async def test_selection_rewrite_is_listed_lazily(tmp_path: Path):
    uri = (tmp_path / "calc.py").as_uri()
    async with session(capabilities(inline=True)) as client:
        open_doc(client, uri, FIXED)
        selection = types.Range(start=types.Position(line=1, character=0), end=types.Position(line=2, character=0))
        (action,) = await code_actions(client, uri, [], selection)
        assert action.title == "Rewrite selection with sokuji" and action.edit is None
        assert action.kind == types.CodeActionKind.RefactorRewrite
        empty = types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=0))
        assert not await code_actions(client, uri, [], empty)
        resolved = await resolve(client, action)
        if resolved.edit is not None:  # what the model rewrote must parse
            assert errors(apply(FIXED, resolved.edit, uri, 1)) == 0
