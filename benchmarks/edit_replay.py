"""Recent edits, measured on real edit sequences from git history (issue 29).

    .venv/bin/python benchmarks/edit_replay.py [--commits 40] [--budget 1024]
        [--repo /work/.mirror/pallets+click/repo:python --repo /work/.mirror/expressjs+express/repo:javascript]

Commits (no merges) that change 1-3 files of the repository's language with two or more
hunks, each small enough to be typed (at most 6 lines removed and 6 added), are replayed
over LSP into two fresh `sokuji serve`s side by side, `recentEdits` on and off, sent every
request in an order that rotates. Each commit's files are opened as they were before it,
and its hunks are made in order, as a user would: the removed lines deleted, the added ones
typed in pieces of 8 characters. At each hunk after the first, once its removed lines are
gone, Enter gives it a line at its first added line's indentation, and the suggestion there
is scored against that line (a line start); then a third of the line is typed and the
suggestion scored against the rest of it:
  right: the suggestion's first line, trimmed, is a prefix of the real rest and covers at
         least half of it;  short: a shorter prefix;  wrong: not a prefix;  empty: nothing.
A later hunk is related to an earlier one of its commit when they share an identifier of 4+
characters (keywords and self/this left out). Prompt tokens evaluated per request come from
the server's log. Files are closed after their commit (their hunks stay in the history, as
a user's earlier work would).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types

import line_starts
from line_starts import ratio
from typing_quality import Config, Server

from lsp_server.context.recent import names

DEFAULT_REPOS = ["/work/.mirror/pallets+click/repo:python", "/work/.mirror/expressjs+express/repo:javascript"]
EXTENSIONS = {"python": (".py",), "javascript": (".js",)}
PIECE = 8  # characters typed per didChange
MAX_LINES = 6  # removed or added per hunk
MAX_FILE_BYTES = 80_000


@dataclass(frozen=True)
class Hunk:
    path: str
    a0: int  # old rows [a0, a1) became new rows [b0, b1)
    a1: int
    b0: int
    b1: int
    removed: tuple[str, ...]
    added: tuple[str, ...]


@dataclass(frozen=True)
class Commit:
    repo: str
    sha: str
    language: str
    files: dict[str, str]  # path -> its text before the commit
    hunks: tuple[Hunk, ...]  # in the order they are made: file by file, top to bottom


@dataclass
class Score:
    related: bool
    position: str  # "start" | "third"
    outcome: str
    evaluated: int | None


@dataclass
class Replay:
    config: Config
    server: Server = None
    scores: list[Score] = field(default_factory=list)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def file_hunks(path: str, old: str, new: str) -> list[Hunk]:
    a, b = old.split("\n"), new.split("\n")
    return [Hunk(path, a0, a1, b0, b1, tuple(a[a0:a1]), tuple(b[b0:b1]))
            for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if tag != "equal"]


def commits(repo: Path, language: str, wanted: int) -> list[Commit]:
    """The newest `wanted` commits that fit (see the module's docstring)."""
    found = []
    for sha in git(repo, "log", "--no-merges", "--format=%H", "-n", "4000").split():
        if len(found) >= wanted:
            break
        changed = [line.split("\t") for line in git(repo, "diff-tree", "--no-commit-id", "--name-status", "-r", f"{sha}^", sha).splitlines()]
        paths = [p for status, p, *_ in changed if status == "M" and p.endswith(EXTENSIONS[language])]
        if not paths or len(paths) > 3 or len(paths) != len(changed):
            continue
        try:
            olds = {p: git(repo, "show", f"{sha}^:{p}") for p in paths}
            news = {p: git(repo, "show", f"{sha}:{p}") for p in paths}
        except subprocess.CalledProcessError:
            continue
        if any(len(t) > MAX_FILE_BYTES or not t.isascii() for t in [*olds.values(), *news.values()]):
            continue
        hunks = [h for p in paths for h in file_hunks(p, olds[p], news[p])]
        if 2 <= len(hunks) <= 10 and all(len(h.removed) <= MAX_LINES and len(h.added) <= MAX_LINES for h in hunks):
            found.append(Commit(repo.name if repo.name != "repo" else repo.parent.name, sha, language, olds, tuple(hunks)))
    return found


def uri(commit: Commit, path: str) -> str:
    return f"file:///replay/{commit.repo}/{path}"


def scored_line(hunk: Hunk) -> str | None:
    """The hunk's first added line, when it is worth a suggestion (6+ characters of code)."""
    if not hunk.added or len(hunk.added[0].strip()) < 6:
        return None
    return hunk.added[0]


async def ask(replay: Replay, where: str, row: int, col: int) -> tuple[str, int | None]:
    client = replay.server.client
    n_logs = len(client.log_messages)
    reply = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=where), position=types.Position(row, col),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
    await asyncio.sleep(0.02)  # the request's log line
    items = reply.items if reply is not None else []
    evaluated = None
    for m in client.log_messages[n_logs:]:
        if "completion " in m.message and " evaluated=" in m.message:
            evaluated = int(m.message.split(" evaluated=", 1)[1].split()[0])
    text = items[0].insert_text if items else ""
    return text if isinstance(text, str) else text.value, evaluated


def type_text(servers: list[Server], where: str, row: int, col: int, text: str) -> tuple[int, int]:
    """`text` typed at (row, col) in pieces; where the cursor ends."""
    for i in range(0, len(text), PIECE):
        piece = text[i : i + PIECE]
        for s in servers:
            s.change(where, (row, col), (row, col), piece)
        lines = piece.split("\n")
        row, col = (row + len(lines) - 1, len(lines[-1])) if len(lines) > 1 else (row, col + len(piece))
    return row, col


async def score_here(replays: list[Replay], n: int, where: str, row: int, col: int, rest: str, related: bool,
                     position: str) -> None:
    order = replays[n % len(replays):] + replays[: n % len(replays)]
    for r in order:
        await asyncio.gather(*(o.server.idle() for o in replays if o is not r))
        text, evaluated = await ask(r, where, row, col)
        outcome, _ = line_starts.score(text, rest) if rest.strip() else ("empty", 0)
        r.scores.append(Score(related, position, outcome, evaluated))


async def replay_commit(replays: list[Replay], commit: Commit, n: int) -> int:
    """Make the commit's hunks in every server, scoring each after the first; the requests' count."""
    servers = [r.server for r in replays]
    for path, text in commit.files.items():
        for s in servers:
            s.versions[uri(commit, path)] = 0
            s.open(uri(commit, path), commit.language, text)
    earlier: set[str] = set()
    for k, hunk in enumerate(commit.hunks):
        where, row = uri(commit, hunk.path), hunk.b0  # the hunks above it in its file are made
        if hunk.removed:
            for s in servers:
                s.change(where, (row, 0), (row + len(hunk.removed), 0), "")
        line = scored_line(hunk) if k else None
        if line is None:
            type_text(servers, where, row, 0, "".join(added + "\n" for added in hunk.added))
        else:
            related = bool(names(hunk.removed + hunk.added) & earlier)
            indent = line[: len(line) - len(line.lstrip())]
            code, third = line[len(indent) :], (len(line) - len(indent)) // 3
            for s in servers:
                s.change(where, (row, 0), (row, 0), indent + "\n")  # Enter, auto-indented
            await score_here(replays, n, where, row, len(indent), code, related, "start")
            type_text(servers, where, row, len(indent), code[:third])
            await score_here(replays, n + 1, where, row, len(indent) + third, code[third:], related, "third")
            type_text(servers, where, row, len(indent) + third, code[third:])  # the Enter's newline ends it
            type_text(servers, where, row + 1, 0, "".join(added + "\n" for added in hunk.added[1:]))
            n += 2
        earlier |= names(hunk.removed + hunk.added)
    for path in commit.files:
        for s in servers:
            s.close(uri(commit, path))
    return n


def rates(scores: list[Score]) -> dict:
    n = len(scores) or 1
    evaluated = [s.evaluated for s in scores if s.evaluated is not None]
    return {"n": len(scores), **{k: sum(s.outcome == k for s in scores) / n for k in ("right", "short", "wrong", "empty")},
            "evaluated": statistics.mean(evaluated) if evaluated else float("nan"),
            "evaluated_p50": statistics.median(evaluated) if evaluated else float("nan")}


def print_tables(replays: list[Replay], commit_count: int) -> None:
    print(f"\n{commit_count} commits replayed\n")
    print("| configuration | later hunks | position | requests | right | short | wrong | empty "
          "| prompt tokens evaluated / request (mean, p50) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in replays:
        for group in ("related", "elsewhere"):
            for position in ("start", "third", "both"):
                got = rates([s for s in r.scores if s.related == (group == "related") and position in (s.position, "both")])
                print(f"| {r.config.name} | {group} | {position} | {got['n']} | {got['right']:.0%} | {got['short']:.0%} "
                      f"| {got['wrong']:.0%} | {got['empty']:.0%} | {got['evaluated']:.0f}, {got['evaluated_p50']:.0f} |")
    on, off = replays
    print("\nrecentEdits on / off (targets: related right >= 1.3x and wrong <= 1.0x; elsewhere right >= 0.9x):\n")
    print("| later hunks | position | right | wrong | prompt tokens evaluated / request |")
    print("|---|---|---:|---:|---:|")
    for group in ("related", "elsewhere"):
        for position in ("start", "third", "both"):
            pick = lambda r: rates([s for s in r.scores if s.related == (group == "related") and position in (s.position, "both")])  # noqa: E731
            a, b = pick(on), pick(off)
            print(f"| {group} | {position} | {ratio(a['right'], b['right'])} | {ratio(a['wrong'], b['wrong'])} "
                  f"| {ratio(a['evaluated'], b['evaluated'])} |")


async def run(todo: list[Commit], budget: int) -> list[Replay]:
    replays = [Replay(Config("recentEdits on", {"recentEdits": True, "contextBudget": budget})),
               Replay(Config("recentEdits off", {"recentEdits": False, "contextBudget": budget}))]
    for r in replays:
        r.server = Server(r.config)
        await r.server.start()
    n = 0
    for i, commit in enumerate(todo):
        n = await replay_commit(replays, commit, n)
        print(f"  commit {i + 1}/{len(todo)} {commit.repo} {commit.sha[:8]}: {len(commit.hunks)} hunks, "
              f"related so far {sum(s.related for s in replays[0].scores) // 2}", file=sys.stderr)
    for r in replays:
        r.config.stats = await r.server.client.workspace_execute_command_async(types.ExecuteCommandParams(command="sokuji.stats"))
        await r.server.client.shutdown_session()
    print("sokuji.stats recentEdits (on): " + str(replays[0].config.stats.get("recentEdits")), file=sys.stderr)
    return replays


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", action="append", help="PATH:LANGUAGE (python, javascript); default: click and express")
    ap.add_argument("--commits", type=int, default=40, help="commits per repository")
    ap.add_argument("--budget", type=int, default=1024, help="contextBudget of both servers")
    args = ap.parse_args()
    todo = []
    for spec in args.repo or DEFAULT_REPOS:
        path, language = spec.rsplit(":", 1)
        if not Path(path).is_dir():
            sys.exit(f"{path}: no such repository (clone it, or name another with --repo PATH:LANGUAGE)")
        todo += commits(Path(path), language, args.commits)
    later = sum(1 for c in todo for k, h in enumerate(c.hunks) if k and scored_line(h))
    print(f"{len(todo)} commits, {later} later hunks scored, budget {args.budget}", file=sys.stderr)
    replays = asyncio.run(run(todo, args.budget))
    print_tables(replays, len(todo))


if __name__ == "__main__":
    main()
