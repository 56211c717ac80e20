"""sokuji's answers as LSP types, and LSP's ranges as plain tuples for the features."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ..completion.flow import Suggestion
from ..fixes.flow import Resolution

SECTION = "sokuji"


def range_of(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(start=types.Position(line=start[0], character=start[1]),
                       end=types.Position(line=end[0], character=end[1]))


def span(rng: types.Range) -> tuple[int, int, int, int]:
    return rng.start.line, rng.start.character, rng.end.line, rng.end.character


def field(obj: Any, key: str) -> Any:
    """A key of a custom method's params: pygls gives them as a dict or an object."""
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def settings_section(raw: Any) -> Any:
    """Accept {"sokuji": {...}} (VS Code, eglot) and the bare section."""
    if isinstance(raw, dict) and SECTION in raw:
        return raw[SECTION]
    return raw


ACCEPTED = "sokuji.accepted"  # the command a client runs after accepting an item whole


def accepted_command(suggestion: Suggestion) -> types.Command:
    return types.Command(title="sokuji: accepted", command=ACCEPTED, arguments=[suggestion.id])


def inline_items(suggestion: Suggestion, texts: list[str]) -> types.InlineCompletionList:
    """The suggestion (its accept command attached: the ledger follows it), then alternatives."""
    at = types.Position(line=suggestion.line, character=suggestion.character)
    return types.InlineCompletionList(items=[
        types.InlineCompletionItem(insert_text=t, range=types.Range(start=at, end=at),
                                   command=accepted_command(suggestion) if n == 0 else None)
        for n, t in enumerate(texts)])


def completion_list(suggestion: Suggestion | None) -> types.CompletionList:
    """One item (the fallback for clients without inline completion), or none."""
    if suggestion is None:
        return types.CompletionList(is_incomplete=True, items=[])
    at = types.Position(line=suggestion.line, character=suggestion.character)
    text = suggestion.text
    item = types.CompletionItem(
        label=text.strip().split("\n", 1)[0][:80],
        kind=types.CompletionItemKind.Text,
        detail="sokuji",
        documentation=types.MarkupContent(kind=types.MarkupKind.PlainText, value=text),
        text_edit=types.TextEdit(range=types.Range(start=at, end=at), new_text=text),
        insert_text_format=types.InsertTextFormat.PlainText,
        sort_text="0",
        preselect=True,
        command=accepted_command(suggestion),
    )
    return types.CompletionList(is_incomplete=True, items=[item])


def with_resolution(action: types.CodeAction, done: Resolution, disabled_support: bool) -> types.CodeAction:
    """The action with its edit, or marked as having no safe fix (disabled where the client
    shows that, else said in its title)."""
    if done.refused is not None:
        action.edit = None
        reason = f"sokuji: no safe fix found ({done.refused})"
        if disabled_support:
            action.disabled = types.CodeActionDisabled(reason=reason)
        else:
            action.title = reason
        return action
    edits = [types.TextEdit(range=range_of(c.start, c.end), new_text=c.text) for c in done.changes]
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri=done.uri, version=done.version)
    action.edit = types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=identifier, edits=edits)])
    return action
