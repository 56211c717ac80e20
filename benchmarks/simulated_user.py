"""The typing benchmark's simulated user: real code typed at a set pace over LSP with the real
server, suggestions taken when they are right, and what that saves.

    .venv/bin/python benchmarks/simulated_user.py [--regions 6] [--paces 100,250]

Regions of consecutive lines inside functions, in the files held apart from the gates'
calibration (gate_data.py's test split), are deleted and typed again: Enter at the end of
the line above, then each line character by character, Enter at each line's end. Enter
indents as an editor does (the line above's indentation, a level more after one that opens a
block); where the real line is indented otherwise, Backspace (a level each) or Space come
next, keystrokes like any other. After every keystroke the user
asks for an inline completion (Automatic) and sees it only if it arrives before their next
keystroke, one pace later; every keystroke (an accept too) comes on the pace, so a line taken
to its end is followed by Enter a pace after the accept, which came a pace after the
request. A suggestion seen is reported shown (didShowCompletion) and taken
when right: its first line whole when it is the rest of the real line (Tab: the item's accept
command, or a partial accept by line for a block), else its longest word-by-word prefix that
is (a partial accept); then the user types on. Each accept is one keystroke.

Per configuration and pace, a fresh `sokuji serve` run alone (pace-bound: servers side by side
would slow each other): the acceptance rate (taken / shown), characters accepted per 100
typed, keystrokes saved, the time from Enter after an accepted line to the next suggestion,
and whether `sokuji.stats`' acceptance counts equal the user's own tally. Configurations: the
defaults, and the same with `prefetch` off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types

import gate_data
from typing_quality import Config, Server

WORD_END = re.compile(r"\w\b|\W")
UNITS = {"python": "    ", "javascript": "  "}  # an indentation level: PEP 8's, npm's
VERBOSE = bool(os.environ.get("SOKUJI_BENCH_VERBOSE"))


@dataclass
class Tally:
    returned: int = 0
    shown: int = 0
    accepted: int = 0
    partly: int = 0
    chars_accepted: int = 0
    typed: int = 0  # keystrokes that typed a character (Enter included)
    accepts: int = 0  # keystrokes that accepted something
    after_line: list[float] = field(default_factory=list)  # Enter after an accepted line -> next suggestion (s)
    after_line_empty: int = 0  # ... that answered with nothing
    items: set[str] = field(default_factory=set)  # ids partly taken (each counted once)
    requests: list = field(default_factory=list)  # every request, answered in time or not


def regions(count: int, size: int = 4) -> list[tuple[Path, str, int, list[str]]]:
    """`count` runs of `size` consecutive code lines inside functions (the first row, its lines)."""
    rng = random.Random(2813)
    out = []
    files = gate_data.files("test")
    for path, language in files:
        lines = path.read_text().split("\n")
        starts = [r for r in gate_data.picks(path, language, 40, rng)
                  if all(4 <= len(ln.strip()) <= 70 and ln.isascii() for ln in lines[r : r + size])]
        out += [(path, language, r, lines[r : r + size]) for r in rng.sample(starts, min(len(starts), max(1, count // len(files) + 1)))]
    rng.shuffle(out)
    return out[:count]


async def ask(server: Server, uri: str, row: int, col: int, tally: Tally) -> asyncio.Future:
    """An inline completion request; its answer is tallied whenever it comes."""
    request = asyncio.ensure_future(server.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(row, col),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))))

    def count(done: asyncio.Future) -> None:
        if not done.cancelled() and done.exception() is None and done.result() and done.result().items:
            tally.returned += 1
    request.add_done_callback(count)
    tally.requests.append(request)
    return request


def take(item: types.InlineCompletionItem, rest: str) -> tuple[int, bool]:
    """How much of the item the user takes against the real rest of the line: (characters,
    whole first line)."""
    first = item.insert_text.split("\n", 1)[0]
    if first and rest.startswith(first) and (len(first) == len(rest) or "\n" not in item.insert_text):
        return len(first), True
    ends = [m.end() for m in WORD_END.finditer(first)]
    good = [e for e in ends if rest.startswith(first[:e])]
    return (max(good), False) if good else (0, False)


def auto_indent(previous: str, language: str) -> str:
    """The indentation an editor gives the line after `previous` on Enter (VS Code's default
    rules): the same, one level more after a line that opens a block."""
    indent = previous[: len(previous) - len(previous.lstrip())]
    opens = (":",) if language == "python" else ("{", "(", "[")
    return indent + (UNITS[language] if previous.rstrip().endswith(opens) else "")


async def indent_to(server: Server, uri: str, r: int, have: str, want: str, unit: str, pace: float,
                    tally: Tally) -> None:
    """From the editor's indentation to the line's own, a keystroke each on the pace: Backspace
    takes one level off (a partial one at most down to `want`), Space adds one; asking after
    each, a suggestion at the wrong indentation taken by nobody."""
    while have != want:
        started = time.perf_counter()
        request = await ask(server, uri, r, len(have), tally)
        await asyncio.wait({request}, timeout=pace)
        await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))
        if not (have.startswith(want) or want.startswith(have)):  # tabs against spaces: retyped at once
            server.change(uri, (r, 0), (r, len(have)), want)
            have = want
        elif len(have) > len(want):
            cut = max(len(want), len(have) - len(unit))
            server.change(uri, (r, cut), (r, len(have)), "")
            have = have[:cut]
        else:
            server.change(uri, (r, len(have)), (r, len(have)), " ")
            have += " "
        tally.typed += 1


async def type_region(server: Server, uri: str, language: str, row: int, lines: list[str], pace: float,
                      tally: Tally) -> None:
    above = row - 1
    previous = server.texts[uri][above]
    line_accepted = False
    for n, line in enumerate(lines):
        indent = line[: len(line) - len(line.lstrip())]
        given = auto_indent(previous, language)
        server.change(uri, (above + n, len(previous)), (above + n, len(previous)), "\n" + given)  # Enter
        tally.typed += 1
        enter_at, k, content, r, c = time.perf_counter(), 0, line.strip(), row + n, len(indent)
        if given != indent and line_accepted:  # the first request after Enter is timed
            request = await ask(server, uri, r, len(given), tally)
            request.add_done_callback(lambda done, t=enter_at: _next_after_line(done, t, tally))
            line_accepted = False
            await asyncio.sleep(pace)
        await indent_to(server, uri, r, given, indent, UNITS[language], pace, tally)
        previous = line
        while True:
            started = time.perf_counter()
            request = await ask(server, uri, r, c + k, tally)
            try:
                reply = await asyncio.wait_for(asyncio.shield(request), pace)
            except asyncio.TimeoutError:
                reply = None
            items = reply.items if reply is not None else []
            if line_accepted:  # timed whenever it comes, seen in time or not
                if VERBOSE:
                    print(f"    after an accepted line: request at {r}:{c + k}", file=sys.stderr)
                request.add_done_callback(lambda done, t=enter_at: _next_after_line(done, t, tally))
            line_accepted = False
            if k >= len(content):  # typed to its end: Enter on the pace
                await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))
                break
            got, whole = take(items[0], content[k:]) if items else (0, False)
            if VERBOSE:
                print(f"    {content[:k]!r:>40} -> {items[0].insert_text if items else None!r} take {got}", file=sys.stderr)
            if items:
                tally.shown += 1
                server.client.protocol.notify("textDocument/didShowCompletion", {"item": _item(items[0])})
            await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))  # the next keystroke's moment
            if got:
                server.change(uri, (r, c + k), (r, c + k), content[k : k + got])
                tally.accepts += 1
                tally.chars_accepted += got
                if whole and items[0].insert_text == content[k : k + got]:
                    tally.accepted += 1
                    await server.client.workspace_execute_command_async(types.ExecuteCommandParams(
                        command="sokuji.accepted", arguments=items[0].command.arguments))
                else:
                    tally.items.add(items[0].command.arguments[0])
                    server.client.protocol.notify("textDocument/didPartiallyAcceptCompletion",
                                                  {"item": _item(items[0]), "acceptedLength": got})
                k += got
                if k >= len(content):  # the line taken to its end: Enter a keystroke later, no request here
                    line_accepted = True
                    await asyncio.sleep(pace)
                    break
            else:
                server.change(uri, (r, c + k), (r, c + k), content[k])
                tally.typed += 1
                k += 1
    tally.partly = len(tally.items)


def _next_after_line(done: asyncio.Future, enter_at: float, tally: Tally) -> None:
    """The first request after Enter that followed an accepted line: how long to a suggestion."""
    if not done.cancelled() and done.exception() is None and done.result() and done.result().items:
        tally.after_line.append(time.perf_counter() - enter_at)
        if VERBOSE:
            print(f"    after an accepted line: {done.result().items[0].insert_text!r} in "
                  f"{tally.after_line[-1] * 1000:.0f} ms", file=sys.stderr)
    else:
        tally.after_line_empty += 1


def _item(item: types.InlineCompletionItem) -> dict:
    return {"insertText": item.insert_text, "command": {"title": "", "command": "sokuji.accepted",
                                                        "arguments": item.command.arguments}}


async def run(config: Config, todo: list, pace: float) -> tuple[Tally, dict]:
    server = Server(config)
    server.texts = {}
    await server.start()
    tally = Tally()
    for path, language, row, lines in todo:
        uri = path.as_uri()
        text = path.read_text()
        original = text.split("\n")
        cut = original[: row] + original[row + len(lines):]  # the region deleted
        server.texts[uri] = cut
        server.open(uri, language, "\n".join(cut))
        await type_region(server, uri, language, row, lines, pace, tally)
        await asyncio.gather(*tally.requests, return_exceptions=True)  # late answers are returned too
        server.close(uri)  # settles the last item
        await server.idle()
    await asyncio.sleep(1)
    stats = (await server.client.workspace_execute_command_async(types.ExecuteCommandParams(command="sokuji.stats")))["acceptance"]
    if VERBOSE:  # the server's log, for what happened after each Enter
        Path(f"/tmp/sokuji-sim-{config.name.replace(' ', '-')}-{int(pace * 1000)}.log").write_text(
            "\n".join(m.message for m in server.client.log_messages))
    await server.stop()
    return tally, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regions", type=int, default=6, help="regions of 4 consecutive lines")
    ap.add_argument("--paces", default="250,500", help="milliseconds per keystroke")
    ap.add_argument("--configs", default="sokuji,prefetch off")
    args = ap.parse_args()
    todo = regions(args.regions)
    configs = [(n, o) for n, o in (("sokuji", {}), ("prefetch off", {"prefetch": False})) if n in args.configs.split(",")]
    print(f"{len(todo)} regions of 4 lines ({sum(len(r[3]) for r in todo)} lines), typed at "
          f"{args.paces} ms per keystroke\n")
    print("| configuration | pace ms | shown | taken (whole / partly) | acceptance rate | chars accepted / 100 typed "
          "| keystrokes saved | Enter after an accepted line -> next suggestion, p50 ms (n) | stats = user's tally |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for pace in [int(p) for p in args.paces.split(",")]:
        for name, options in configs:
            tally, stats = asyncio.run(run(Config(name, {"lineStartConfidence": None, **options}), todo, pace / 1000))
            taken = tally.accepted + tally.partly
            tally.shown = tally.shown or 0
            mine = (tally.returned, tally.shown, tally.accepted, tally.partly, tally.chars_accepted)
            theirs = (stats["returned"], stats["shown"], stats["accepted"], stats["partlyAccepted"], stats["charsAccepted"])
            p50 = statistics.median(tally.after_line) * 1000 if tally.after_line else float("nan")
            after = f"{p50:.0f} ({len(tally.after_line)} of {len(tally.after_line) + tally.after_line_empty})"
            print(f"| {name} | {pace} | {tally.shown} | {tally.accepted} / {tally.partly} "
                  f"| {taken / max(1, tally.shown):.0%} | {100 * tally.chars_accepted / max(1, tally.typed):.1f} "
                  f"| {tally.chars_accepted - tally.accepts} | {after} "
                  f"| {'yes' if mine == theirs else f'no: user {mine}, stats {theirs}'} |", flush=True)
            print(f"  {name} @ {pace} ms done", file=sys.stderr)


if __name__ == "__main__":
    main()
