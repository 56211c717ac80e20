"""The rest of a series. Proposals are served together (a rename's other references); once
the user applies one of them, by the editor's key or by typing it, the others still stand:
they are carried onto the buffer's new version, so that applying goes on to the next. The
rules alone could not: the applied edit is a new hunk, and at a use whose name is already
renamed at its definition there is nothing left to rename."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..structs import Snapshot
from .proposal import Proposal


@dataclass(frozen=True)
class Served:
    proposals: tuple[Proposal, ...]
    texts: dict[str, str]  # uri -> the text of the version its proposals are of


NOTHING = Served((), {})


def carried(served: Served, buffers: dict[str, Snapshot]) -> list[Proposal]:
    """The served proposals left once one of them is what changed its buffer since, their
    offsets moved past it; none when no served proposal was applied."""
    for applied in served.proposals:
        snap, before = buffers.get(applied.uri), served.texts.get(applied.uri)
        if snap is None or before is None or snap.version == applied.version or snap.text != applied.apply(before):
            continue
        shift = len(applied.text) - (applied.end - applied.start)
        rest = []
        for p in served.proposals:
            if p.uri != applied.uri:
                other = buffers.get(p.uri)
                if other is not None and other.version == p.version:
                    rest.append(p)
            elif p.end <= applied.start and p is not applied:
                rest.append(replace(p, version=snap.version))
            elif p.start >= applied.end and p is not applied:
                rest.append(replace(p, version=snap.version, start=p.start + shift, end=p.end + shift))
        return rest
    return []
