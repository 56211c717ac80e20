"""The rules' proposals after an edit, each checked like a fix: the file must parse no worse
with it. Pure: snapshots in, proposals out; run off the event loop (flow.py)."""

from __future__ import annotations

from ..edits.history import Hunk
from ..fixes.syntax import errors_of
from ..structs import Snapshot, utf8
from . import rename, repeat, signature, siblings
from .change import change_of
from .proposal import Proposal

RULES = ("rename", "signature", "siblings", "repeat")


def propose(hunks: tuple[Hunk, ...], buffers: dict[str, Snapshot]) -> list[Proposal]:
    """What the newest hunk implies, in its file and (signature) the other open buffers."""
    hunk = hunks[-1]
    snap = buffers.get(hunk.uri)
    change = change_of(hunk, snap) if snap is not None else None
    if change is None:
        return []
    found = rename.propose(change) or repeat.propose(change, hunks[:-1])  # a local rename: the rule that knows its scope
    found += signature.propose(change, list(buffers.values())) + siblings.propose(change)
    unique = {(p.uri, p.start, p.end, p.text): p for p in reversed(found)}  # one edit proposed twice: the first rule's
    return checked([p for p in found if unique[(p.uri, p.start, p.end, p.text)] is p], buffers)


def checked(proposals: list[Proposal], buffers: dict[str, Snapshot]) -> list[Proposal]:
    """Those after which their file has no more syntax errors than now."""
    errors: dict[str, int] = {}
    kept = []
    for p in proposals:
        snap = buffers[p.uri]
        if p.uri not in errors:
            errors[p.uri] = errors_of(snap.language, snap.source, snap.tree).count
        if errors_of(snap.language, utf8(p.apply(snap.text))).count <= errors[p.uri]:
            kept.append(p)
    return kept
