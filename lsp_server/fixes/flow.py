"""Fixes' flow on the event loop: which code actions to list for a document's problems
(plan.py: checked repairs, or a model rewrite worth trying, found off the
loop with no model call), and a listed action's edit when the client resolves it: the one
checked repair, or the fixes' engine's pick or rewrite, run by the session on the engine
thread. The request travels in the action's `data` as a FixRequest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Literal, NamedTuple

import msgspec

from ..config import Settings
from ..documents import Document, Documents
from ..engines import Engines
from ..session import EngineSession
from . import jobs
from .plan import Fix, Plan, Target, plan_fix, repair

log = logging.getLogger("sokuji")
Position = tuple[int, int]  # (line, character in the client's encoding)
REWRITE_MESSAGE = "rewrite this code"


class FixRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A listed fix, as its code action's data: decoded once when it is resolved."""

    uri: str
    range: tuple[int, int, int, int]  # start line, character, end line, character
    message: str = ""
    own: bool = False  # one of sokuji's own diagnostics
    selection: bool = False  # a rewrite of the selected rows, not a problem's fix


class Offer(NamedTuple):
    title: str
    kind: Literal["quickfix", "rewrite"]
    request: FixRequest
    problem: int | None  # which of the asked problems it fixes


class TextChange(NamedTuple):
    start: Position
    end: Position
    text: str


class Resolution(NamedTuple):
    """A fix's edit for one version of the document, or why there is none."""

    uri: str
    version: int
    changes: list[TextChange]
    refused: str | None = None


def decode_request(data: object) -> FixRequest | str:
    """The action's data as a FixRequest, or why it is not one."""
    try:
        return msgspec.convert(data, FixRequest, strict=False)
    except msgspec.ValidationError as exc:
        return f"the action's data is not a fix request ({exc})"


class Fixes:
    def __init__(self, docs: Documents, engines: Engines, settings: Callable[[], Settings]) -> None:
        self.docs = docs
        self.engines = engines
        self.session: EngineSession = engines.session
        self._settings = settings
        self.offered = 0
        self.refused = 0

    async def offers(self, uri: str, problems: list[tuple[tuple[int, int, int, int], str, bool]],
                     selection: tuple[int, int, int, int] | None) -> list[Offer]:
        """The fixes worth listing for `problems` (range, message, own), and a rewrite of the
        `selection` when one is given: a checked repair exists, or a model rewrite may work."""
        doc = self.docs.get(uri)
        if doc is None:
            return []
        found = []
        for i, (rng, message, own) in enumerate(problems):
            request = FixRequest(uri, rng, message, own)
            _, _, plan = await self._plan(doc, request)
            if plan.candidates or (plan.rewrite and self.engines.fix_error() is None):
                found.append(Offer(plan.title, "quickfix", request, i))
        if selection is not None:
            request = FixRequest(uri, selection, REWRITE_MESSAGE, selection=True)
            found.append(Offer("Rewrite selection with sokuji", "rewrite", request, None))
        return found

    async def resolve(self, data: object) -> Resolution:
        """The edit of a listed fix: the one checked repair, the model's pick among several,
        or its rewrite, checked before it is offered."""
        request = decode_request(data)
        if isinstance(request, str):
            return self._refuse("", request)
        doc = self.docs.get(request.uri)
        if doc is None:
            return self._refuse(request.uri, "the document is not open")
        snap, start, plan = await self._plan(doc, request)
        if len(plan.candidates) == 1:  # nothing to rank: no model needed
            return self._offer(doc, snap.version, repair(plan))
        if not plan.candidates and not plan.rewrite:
            return self._refuse(request.uri, plan.reason)
        target = Target(snap, plan, start, request.message, request.own)
        outcome = await self.engines.run(f"fix:{request.uri}", jobs.fix, self.session, target, self._settings(), fixes=True)
        if outcome.failure is not None:
            return self._refuse(request.uri, outcome.failure)
        if outcome.value is None:
            return self._refuse(request.uri, self.engines.fix_error() or "no model loaded")
        return self._offer(doc, snap.version, outcome.value)

    async def _plan(self, doc: Document, request: FixRequest):
        """The fix's plan for the document's current version (plan_fix), found off the
        loop. `doc` as the caller found it: it may close meanwhile, its snapshot stays valid."""
        snap = doc.snapshot()
        l1, c1, l2, c2 = request.range
        start, end = doc.cursor(l1, c1).byte, doc.cursor(l2, c2).byte
        rows = (l1, max(l1, l2 - 1 if c2 == 0 and l2 > l1 else l2)) if request.selection else None
        try:
            plan = await asyncio.get_running_loop().run_in_executor(
                None, plan_fix, snap, start, end, request.message, request.own, rows)
        except Exception as exc:  # a bug in a repair must not take the listing down with it
            log.exception("planning a fix failed for %s", request.uri)
            plan = Plan((), (0, 0), False, "", f"error: {exc}")
        return snap, start, plan

    def _offer(self, doc: Document, version: int, fix: Fix) -> Resolution:
        if not fix.edits:
            return self._refuse(doc.uri, fix.reason)
        self.offered += 1
        return Resolution(doc.uri, version, [_line_change(doc, *edit) for edit in fix.edits])

    def _refuse(self, uri: str, reason: str) -> Resolution:
        self.refused += 1
        return Resolution(uri, 0, [], reason)


def _line_change(doc: Document, first: int, end_row: int, new_lines: list[str]) -> TextChange:
    """Replace rows [first, end_row) with `new_lines` (whole lines)."""
    n_rows = doc.text.count("\n") + 1
    if end_row < n_rows:
        return TextChange((first, 0), (end_row, 0), "".join(line + "\n" for line in new_lines))
    # up to the end of the file, which has no newline after its last row
    end = doc.position(len(doc.text))
    if first >= n_rows:  # appended rows
        return TextChange(end, end, "".join("\n" + line for line in new_lines))
    start = (first, 0)
    if not new_lines and first > 0:  # deleting the last rows: and the newline before them
        start = doc.position(doc.cursor(first, 0).offset - 1)
    return TextChange(start, end, "\n".join(new_lines))
