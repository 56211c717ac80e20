"""Next edits on the event loop. Once a client has asked for them, each time edits pause the
proposals the newest hunk implies are computed (the rules on a thread of their own, the
model's on the engine thread), so the client's pull (after its own pause) finds them ready;
a pull for a state not computed yet computes it then. A newer edit makes a new state:
proposals are always of the buffers as they are, and one for a version gone is dropped.
Once one proposal of an answer is applied, the rest of that answer is carried on (series.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..config import Settings
from ..documents import Documents
from ..edits.history import EditHistory
from ..engines import Engines
from ..pause import Background, Debounce
from . import rules
from .model import model_proposals
from .proposal import Proposal
from .series import NOTHING, Served, carried

log = logging.getLogger("sokuji")
ALL = "*"  # the pause is the workspace's: the newest hunk may be in any file


class NextEdits:
    def __init__(self, docs: Documents, engines: Engines, history: EditHistory, settings: Callable[[], Settings]) -> None:
        self.docs, self.engines, self.history = docs, engines, history
        self._settings = settings
        self._pause = Debounce()
        self._rules = ThreadPoolExecutor(1, "sokuji-nextedit")  # never the loop, never behind the model
        self._background = Background()
        self._state: tuple | None = None
        self._task: asyncio.Future | None = None
        self._cursor: tuple[str, int] = ("", 0)  # the last edit's uri and code-point offset
        self._asked = False  # a client pulls next edits: from then on they are made ahead, at each pause
        self._served = NOTHING  # the last answer: once one of it is applied, the rest is carried on
        self.counts: Counter[str] = Counter()  # proposals made per rule, accepted, computed states

    def edited(self, uri: str, cursor: int) -> None:
        self._cursor = (uri, cursor)
        if self._asked:  # a client that never asks costs nothing
            self._pause.after_pause(ALL, self._start)

    async def proposals(self, uri: str, offset: int) -> list[Proposal]:
        """The proposals for the buffers as they are now (none while no edit was made): those
        in `uri` first, nearest to `offset` first, then the other files'."""
        self._asked = True
        self._pause.cancel(ALL)
        task = self._start()
        found = await asyncio.shield(task) if task is not None else []
        current = {p.uri: doc for p in found if (doc := self.docs.get(p.uri)) is not None and doc.version == p.version}
        found = sorted((p for p in found if p.uri in current), key=lambda p: (p.uri != uri, p.uri, abs(p.start - offset)))
        self._served = Served(tuple(found), {u: doc.text for u, doc in current.items()})
        return found

    def accepted(self, rule: str) -> None:
        self.counts[f"accepted.{rule}"] += 1

    def stats(self) -> dict:
        return dict(self.counts)

    def _start(self) -> asyncio.Future | None:
        hunks = self.history.recent(time.monotonic())
        if not hunks:
            return None
        state = (hunks[-1], tuple((d.uri, d.version) for d in self.docs.all()))
        if state == self._state and self._task is not None:
            return self._task
        buffers = {d.uri: d.snapshot() for d in self.docs.all()}
        self._state, self._task = state, self._background.spawn(self._compute(hunks, buffers, self._served))
        return self._task

    async def _compute(self, hunks: tuple, buffers: dict, served: Served) -> list[Proposal]:
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(self._rules, rules.propose, hunks, buffers)
        except Exception:  # a rule's bug: no proposals, the request still gets its answer
            log.exception("next-edit rules failed")
            found = []
        self.counts["computed"] += 1
        settings = self._settings()
        uri, cursor = self._cursor
        if settings.next_edit_model and uri in buffers:
            await self.engines.next_edit_ready.wait()
            # one key for every file: a newer state's model job cancels the older one's, wherever it was
            outcome = await self.engines.run("nextedit", model_proposals, self.engines.session, buffers[uri],
                                             cursor, hunks, settings)
            found += outcome.value or []
        for p in found:
            self.counts[p.rule] += 1
        rest = carried(served, buffers)  # counted when first proposed
        if rest:
            self.counts["carried"] += len(rest)
        known = {(p.uri, p.start, p.end, p.text) for p in rest}
        return rest + [p for p in found if (p.uri, p.start, p.end, p.text) not in known]

    def close(self) -> None:
        self._pause.cancel(ALL)
        self._rules.shutdown(wait=False, cancel_futures=True)
