"""Line starts for the typing benchmark (typing_quality.py runs them on its servers): Enter
pressed at the end of a line of real code inside a function, the suggestion's first line
scored against the real next line. Cases from the files held apart from the gates'
calibration (gate_data.py's test split)."""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import gate_data


@dataclass(frozen=True)
class Case:
    path: Path
    language: str
    row: int
    above: str  # the line Enter is pressed at the end of
    line: str  # the real next line, indentation included


@dataclass
class Enter:
    language: str
    outcome: str  # "right" | "short" | "wrong" | "empty"
    saved: int  # characters of the real line the shown first line gives
    latency: float
    model: bool  # the model was called (not served from a block or result already written)


def cases(per_file: int) -> list[Case]:
    rng = random.Random(2712)  # not gate_data's seed: other lines of the same test files
    out = []
    for path, language in gate_data.files("test"):
        lines = path.read_text().split("\n")
        out += [Case(path, language, row, lines[row - 1], lines[row]) for row in gate_data.picks(path, language, per_file, rng)]
    return out


def score(shown: str, line: str) -> tuple[str, int]:
    first, real = shown.split("\n", 1)[0].strip(), line.strip()
    if not first:
        return "empty", 0
    if not real.startswith(first):
        return "wrong", 0
    return ("right" if 2 * len(first) >= len(real) else "short"), len(first)


async def press_enters(servers: list, todo: list[Case]) -> None:
    """Each case on every server, in an order that rotates; the other servers idle first."""
    opened: set[Path] = set()
    for n, case in enumerate(todo):
        uri = case.path.as_uri()
        if case.path not in opened:
            opened.add(case.path)
            for s in servers:
                s.open(uri, case.language, case.path.read_text())
        indent = case.line[: len(case.line) - len(case.line.lstrip())]
        end_above = (case.row - 1, len(case.above))
        for s in servers:
            s.change(uri, end_above, (case.row, len(case.line)), "")  # the real line is not there yet
        for s in servers:  # the line above was just typed: its prompt prefix is in the KV cache (not scored)
            await s.complete(uri, *end_above)
        await asyncio.gather(*(s.idle() for s in servers))
        for s in servers:
            s.change(uri, end_above, end_above, "\n" + indent)  # Enter, auto-indented
        order = servers[n % len(servers):] + servers[: n % len(servers)]
        for s in order:
            await asyncio.gather(*(o.idle() for o in servers if o is not s))
            text, latency, model = await s.complete(uri, case.row, len(indent))
            outcome, saved = score(text, case.line)
            s.config.enters.append(Enter(case.language, outcome, saved, latency, model))
        for s in servers:
            s.change(uri, (case.row, 0), (case.row, len(indent)), case.line)
        print(f"  enter {n + 1}/{len(todo)} {case.path.name}:{case.row + 1} {case.line.strip()!r}", file=sys.stderr)
    for path in opened:
        for s in servers:
            s.close(path.as_uri())


def rates(enters: list[Enter]) -> dict[str, float]:
    n = len(enters) or 1
    shown = [e.latency for e in enters if e.outcome != "empty"]
    called = [e.latency for e in enters if e.outcome != "empty" and e.model]
    return {"n": len(enters), **{k: sum(e.outcome == k for e in enters) / n for k in ("right", "short", "wrong", "empty")},
            "saved": sum(e.saved for e in enters) / n,
            "p50": statistics.median(shown) if shown else float("nan"),
            "p50_called": statistics.median(called) if called else float("nan"),
            "called": len(called) / n,
            "p95": statistics.quantiles(shown, n=20)[18] if len(shown) > 1 else float("nan")}


def print_tables(configs: list) -> None:
    print("\n#### Line starts (Enter pressed at the end of a line)\n")
    print("| configuration | language | Enter presses | right | short | wrong shown | empty | chars saved / Enter "
          "| p50 ms, shown | p95 ms, shown |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        for language in ("", "python", "javascript"):
            r = rates([e for e in c.enters if not language or e.language == language])
            print(f"| {c.name} | {language or 'both'} | {r['n']} | {r['right']:.0%} | {r['short']:.0%} | {r['wrong']:.0%} "
                  f"| {r['empty']:.0%} | {r['saved']:.2f} | {r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} |")
    raw = configs[0]
    print("\nAgainst the raw call (targets: wrong <= 0.5x, right >= 0.75x, chars saved >= 0.75x, p50 shown <= 0.35x). "
          "The raw server also answers some Enter presses from the block it wrote at the end of the line above; "
          "the last column is against its answers that called the model, as a plain plugin always does:\n")
    print("| configuration | language | right | wrong shown | chars saved | p50, shown | raw shown from the model "
          "| p50, shown, against raw's model calls |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for c in configs[1:]:
        for language in ("", "python", "javascript"):
            r = rates([e for e in c.enters if not language or e.language == language])
            b = rates([e for e in raw.enters if not language or e.language == language])
            print(f"| {c.name} / {raw.name} | {language or 'both'} | {ratio(r['right'], b['right'])} "
                  f"| {ratio(r['wrong'], b['wrong'])} | {ratio(r['saved'], b['saved'])} | {ratio(r['p50'], b['p50'])} "
                  f"| {b['called']:.0%} | {ratio(r['p50'], b['p50_called'])} |")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else ("inf" if a else "-")
