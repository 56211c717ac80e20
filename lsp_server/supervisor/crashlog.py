"""The supervisor's record of crashes, for `sokuji doctor`: one JSON line per crash in the
user's cache folder (the signal, inside the model or not, the mode restarted in). No user
text, nothing sent anywhere; the newest KEEP lines are kept. SOKUJI_CRASH_LOG names another
file (the tests' own)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..engine.embedded import cache_dir

KEEP = 50


def path() -> Path:
    return Path(os.environ.get("SOKUJI_CRASH_LOG") or cache_dir() / "crashes.jsonl")


def record(signal: str, in_model: bool, mode: str, stepped: bool) -> None:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "signal": signal, "inModel": in_model,
             "mode": mode, "steppedDown": stepped}
    try:
        lines = recent(KEEP - 1, raw=True) + [json.dumps(entry)]
        path().parent.mkdir(parents=True, exist_ok=True)
        path().write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only cache: the editor's log has the crash anyway


def recent(n: int = 5, raw: bool = False) -> list:
    """The newest n crashes, oldest first: dicts (or their JSON lines)."""
    try:
        lines = [line for line in path().read_text(encoding="utf-8").splitlines() if line.strip()][-n:]
    except OSError:
        return []
    if raw:
        return lines
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
