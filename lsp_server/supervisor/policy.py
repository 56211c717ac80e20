"""When a crashed server restarts, and in which mode (supervised.MODES).

- One crash: restart as before, at once.
- A second crash inside the model in the same mode within WINDOW: step down to the next
  mode that changes something (extra buffer types off, unless they were off already; then
  no GPU offload, skipped on a build without it; then no model).
- Crashes elsewhere never step the model down; repeated ones back off, up to MAX_DELAY.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..supervised import MODES

WINDOW = 600.0  # seconds: a crash older than this is forgotten
MAX_DELAY = 30.0


@dataclass(frozen=True)
class Decision:
    mode: str  # the mode to restart in
    delay: float  # seconds to wait first
    stepped: bool  # the mode is safer than before


@dataclass
class Caps:
    """What the crashed server reported of its build ("caps" on the activity pipe)."""

    gpu: bool = True  # unknown: assume a GPU build, so the cpu step is not skipped
    plain: bool = False  # models loaded without extra buffer types already


@dataclass
class Policy:
    clock: Callable[[], float] = time.monotonic
    mode: str = "normal"
    _in_model: dict[str, list[float]] = field(default_factory=dict)  # mode -> times of crashes in the model
    _all: list[float] = field(default_factory=list)

    def crashed(self, in_model: bool, caps: Caps) -> Decision:
        now = self.clock()
        self._all = [t for t in self._all if now - t < WINDOW] + [now]
        stepped = False
        if in_model:
            recent = [t for t in self._in_model.get(self.mode, []) if now - t < WINDOW] + [now]
            self._in_model[self.mode] = recent
            if len(recent) >= 2:
                safer = self._safer(caps)
                stepped = safer != self.mode
                self.mode = safer
        repeats = len(self._all) - 1
        delay = 0.0 if stepped or repeats == 0 else min(MAX_DELAY, 0.25 * 2 ** (repeats - 1))
        return Decision(self.mode, delay, stepped)

    def _safer(self, caps: Caps) -> str:
        for mode in MODES[MODES.index(self.mode) + 1:]:
            if mode == "plainBuffers" and caps.plain:
                continue  # the same as the mode that crashed
            if mode == "cpu" and not caps.gpu:
                continue  # a CPU-only build: the same again
            return mode
        return self.mode  # noModel: nothing safer
