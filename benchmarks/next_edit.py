"""Next-edit suggestions, measured on real commits replayed hunk by hunk over LSP.

    .venv/bin/python benchmarks/next_edit.py [--commits 150] [--pause 0.25] [--verbose]
        [--skip 0] [--repo /work/.mirror/pallets+click/repo:python --repo /work/.mirror/expressjs+express/repo:javascript]
        [--model embedded --model-hunks 40]

A smoke run: `.venv/bin/python benchmarks/next_edit.py --commits 20` (under a minute; the default
150 per repository, ~900 asked hunks, takes ~5 minutes on 2 cores).

Commits: the newest `--commits` per repository (no merges) that modify files of its language
(.py, .js; files added, deleted or renamed are not replayed, nor other languages' files) with
2 to 12 hunks in those files in all, no hunk over 40 rows removed or added, no file over 80 KB
and each ending with a newline. They are picked by these sizes only, never by what the server
proposes. A hunk is one hunk of `git diff -U0 --no-renames` (each contiguous run of changed
rows, no context rows: rows 3-4 removed and 2 rows added there are one hunk).

Replay, into one fresh `sokuji serve` (default settings, recentEdits on; completions are never
requested; the replay starts once its completions model has loaded): each commit's files are opened as they were before it (didOpen), then its hunks
are made in order (file by file, top to bottom), each as one didChange that replaces its
removed rows by its added rows, narrowed as a user's edit is: what the two have in common at
both ends is left as it is (renaming `width` to `w` in a row sends the 5 characters replaced
by 1, not the whole row). After every hunk but the commit's last, the client
pauses `--pause` seconds (the client's own pause, as an editor waits before it asks) and sends
`sokuji.nextEdit` [uri, line, character] at the end of the hunk's last added row (its first
row when it only removes); the latency is the time from that request to its answer. The
proposals are never applied to the server's buffers: the replay goes on with the commit's real
next hunk. Files are closed after their commit.

Scoring. A proposal is applied to the client's copy of its buffer (any open file of the commit)
and compared with the commit's version of that file. The distance of a buffer to that version
is the characters that differ: rows aligned with difflib (SequenceMatcher, no autojunk), then,
in each region of unaligned rows, characters (newlines included) not in the matching blocks of
the region's two texts. A proposal is right when it lowers that distance, wrong otherwise
(one that changes nothing is wrong). The "precision by rows" column is the coarser test the
issue names: right when it lowers the count of unaligned rows of both sides. The character
distance is the primary one: a rename at a row that the commit also changes otherwise leaves
the row unequal, yet it is the commit's own edit.

Found. A later hunk (every hunk of a commit but its first) is found when a right proposal
returned after one of the hunks before it (not necessarily the one just before), in its file,
touches the rows that hunk replaces, in the buffer the proposal was made for: the hunk's old
rows [a0, a1) moved by the rows the hunks already made above it in that file added or removed.
A proposal's rows are those its range spans (an end at character 0 of a later row leaves that
row out); a hunk that only inserts counts the row above the insertion point and the row at it.

Rates are per asked hunk (every hunk but each commit's last): proposals and wrong ones per 100,
hunks with one or more proposals of the rule, precision (right / proposals), found (later hunks
found / later hunks), and the latency p50 / p95 of the requests (the "all" rows: every request;
a rule's rows: the requests that returned one of its proposals). With `--model SPEC` ("embedded"
for the embedded default model, or a catalog name, REPO/FILE or GGUF path), a second server with
`nextEditModel` set replays the first commits up to `--model-hunks` asked hunks after the first
one is done (the model is slow on a CPU); its rows are reported apart, a row per model (named
from the proposals' `source`) and per rule. A row per rule the server names (`rule`), whatever
the rules are. `--verbose` prints every proposal, the wrong ones first
(commit, file, hunk, the text it replaces, 1-based line, and its text) on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from edit_replay import DEFAULT_REPOS, EXTENSIONS, MAX_FILE_BYTES, Commit, Hunk, git, uri
from typing_quality import Config, Server

MAX_HUNKS = 12  # per commit, in its files of the language
MAX_HUNK_ROWS = 40  # removed or added, per hunk
HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Proposed:
    rule: str  # the item's `rule` ("rename", "signature", "siblings", ...), or "model: <its source>"
    language: str
    right: bool
    right_rows: bool  # by the coarser test: fewer unaligned rows
    asked: int  # the request it came in (an index into Run.latencies)


@dataclass
class Run:
    config: Config
    server: Server | None = None
    asked: list[str] = field(default_factory=list)  # per request: its language
    latencies: list[float] = field(default_factory=list)
    proposed: list[Proposed] = field(default_factory=list)
    later: list[tuple[str, set[str]]] = field(default_factory=list)  # per later hunk: language, rules that found it
    stale: int = 0  # proposals for a version not the buffer's
    shown: list[str] = field(default_factory=list)  # what --verbose prints: every proposal, scored
    errors: list[str] = field(default_factory=list)  # requests answered with an error or not in time


def parse_diff(diff: str) -> dict[str, list[tuple[int, int, int, int, list[str], list[str]]]]:
    """`git diff -U0` as {path: [(a0, a1, b0, b1, removed, added)]}, rows 0-based, [a0, a1) old."""
    out: dict[str, list] = {}
    path, current, left = None, None, 0
    for line in diff.split("\n"):
        if left:  # a row of the hunk (its header says how many); "\ No newline" rows are not
            if line[:1] in ("-", "+"):
                current[4 if line[0] == "-" else 5].append(line[1:])
                left -= 1
        elif line.startswith("diff --git "):
            path = None
        elif line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@ ") and path is not None:
            a, b, c, d = HEADER.match(line).groups()
            a, b, c, d = int(a), 1 if b is None else int(b), int(c), 1 if d is None else int(d)
            a0, b0 = (a - 1 if b else a), (c - 1 if d else c)
            current, left = [a0, a0 + b, b0, b0 + d, [], []], b + d
            out.setdefault(path, []).append(current)
    return {p: [tuple(h) for h in hunks] for p, hunks in out.items()}


def mined(repo: Path, language: str, wanted: int) -> list[Commit]:
    """The newest `wanted` commits that fit (see the module's docstring), by size alone."""
    globs = [f"*{ext}" for ext in EXTENSIONS[language]]
    name = repo.name if repo.name != "repo" else repo.parent.name
    found = []
    for sha in git(repo, "log", "--no-merges", "--format=%H", "-n", "6000", "--", *globs).split():
        if len(found) >= wanted:
            break
        if len(git(repo, "rev-list", "--parents", "-n", "1", sha).split()) != 2:
            continue  # the root commit
        diff = git(repo, "diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames", "--diff-filter=M",
                   f"{sha}^", sha, "--", *globs)
        per_file = parse_diff(diff)
        count = sum(len(h) for h in per_file.values())
        if not 2 <= count <= MAX_HUNKS or any(max(len(h[4]), len(h[5])) > MAX_HUNK_ROWS for hs in per_file.values()
                                              for h in hs):
            continue
        olds = {p: git(repo, "show", f"{sha}^:{p}") for p in per_file}
        news = {p: git(repo, "show", f"{sha}:{p}") for p in per_file}
        texts = [*olds.values(), *news.values()]
        if any(len(t.encode()) > MAX_FILE_BYTES or not t.endswith("\n") for t in texts):
            continue
        hunks = tuple(Hunk(p, a0, a1, b0, b1, tuple(rem), tuple(add)) for p, hs in per_file.items()
                      for a0, a1, b0, b1, rem, add in hs)
        commit = Commit(name, sha, language, olds, hunks)
        if replayed(commit) != news:
            sys.exit(f"{name} {sha[:8]}: its hunks do not make the commit (a bug of this benchmark)")
        found.append(commit)
    return found


def replayed(commit: Commit) -> dict[str, str]:
    files = {p: t.split("\n") for p, t in commit.files.items()}
    for h in commit.hunks:
        files[h.path][h.b0 : h.b0 + len(h.removed)] = h.added
    return {p: "\n".join(rows) for p, rows in files.items()}


def narrowest(hunk: Hunk) -> tuple[tuple[int, int], tuple[int, int], str]:
    """The hunk as the edit a user makes: its rows' text (with their newlines) with what the
    removed and added rows have in common at both ends left as it is; (start, end, text)."""
    old, new = "".join(r + "\n" for r in hunk.removed), "".join(r + "\n" for r in hunk.added)
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1

    def position(at: int) -> tuple[int, int]:
        above = old[:at].split("\n")
        return hunk.b0 + len(above) - 1, units(above[-1])

    return position(head), position(len(old) - tail), new[head : len(new) - tail]


def distance(rows: list[str], final: list[str]) -> tuple[int, int]:
    """(characters, rows) of `rows` and `final` that differ (see the module's docstring)."""
    chars = unaligned = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, rows, final, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        x, y = "".join(r + "\n" for r in rows[i1:i2]), "".join(r + "\n" for r in final[j1:j2])
        same = sum(b.size for b in difflib.SequenceMatcher(None, x, y, autojunk=False).get_matching_blocks())
        chars += len(x) + len(y) - 2 * same
        unaligned += i2 - i1 + j2 - j1
    return chars, unaligned


def units(line: str) -> int:
    """The line's length in UTF-16 code units (the positions' encoding)."""
    return len(line) if line.isascii() else len(line.encode("utf-16-le")) // 2


def offset(rows: list[str], line: int, character: int) -> int:
    """A UTF-16 position as a code-point offset into "\\n".join(rows)."""
    start = sum(len(r) + 1 for r in rows[:line])
    text = rows[line] if line < len(rows) else ""
    if text.isascii():
        return start + min(character, len(text))
    n = 0
    for i, ch in enumerate(text):
        if n >= character:
            return start + i
        n += 2 if ord(ch) > 0xFFFF else 1
    return start + len(text)


def plain(obj):
    """A command's result as pygls hands it back (named tuples, maybe) as dicts and lists."""
    if hasattr(obj, "_asdict"):
        obj = obj._asdict()
    if isinstance(obj, dict):
        return {key: plain(value) for key, value in obj.items()}
    return [plain(value) for value in obj] if isinstance(obj, (list, tuple)) else obj


def touched(item: dict) -> tuple[int, int]:
    """The rows [first, last] a proposal's range spans."""
    start, end = item["range"]["start"], item["range"]["end"]
    last = end["line"] - 1 if end["character"] == 0 and end["line"] > start["line"] else end["line"]
    return start["line"], last


def region(hunk: Hunk, moved: int) -> tuple[int, int]:
    """The rows [first, last] of the current buffer that a hunk not made yet replaces."""
    a0, a1 = hunk.a0 + moved, hunk.a1 + moved
    return (a0, a1 - 1) if a1 > a0 else (a0 - 1, a0)


def rows_of(hunk: Hunk) -> str:
    return f"rows {hunk.a0 + 1}-{hunk.a1}" if hunk.a1 > hunk.a0 else f"before row {hunk.a0 + 1}"


async def ask(run: Run, where: str, row: int, col: int, timeout: float) -> list[dict]:
    t0 = time.perf_counter()
    try:
        reply = await asyncio.wait_for(run.server.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.nextEdit", arguments=[where, row, col])), timeout)
    except (JsonRpcException, asyncio.TimeoutError) as e:
        run.errors.append(f"{where} {row}:{col}: {type(e).__name__} {e}")
        reply = None
    run.latencies.append(time.perf_counter() - t0)
    return (plain(reply) or {}).get("edits") or []


async def replay_commit(run: Run, commit: Commit, finals: dict[str, list[str]], pause: float, timeout: float,
                        verbose: bool) -> int:
    """Its hunks made, a request after each but the last, its proposals scored; requests made."""
    server, by_uri = run.server, {uri(commit, p): p for p in commit.files}
    rows = {p: t.split("\n") for p, t in commit.files.items()}
    for path, text in commit.files.items():
        server.open(uri(commit, path), commit.language, text)
    base: dict[str, tuple[int, int]] = {}  # path -> the distance of its buffer now
    found: dict[int, set[str]] = defaultdict(set)  # later hunk -> the rules that found it
    moved: Counter[str] = Counter()  # path -> rows added by the hunks made in it
    for k, hunk in enumerate(commit.hunks):
        where = uri(commit, hunk.path)
        server.change(where, *narrowest(hunk))
        rows[hunk.path][hunk.b0 : hunk.b0 + len(hunk.removed)] = hunk.added
        moved[hunk.path] += len(hunk.added) - len(hunk.removed)
        base.pop(hunk.path, None)
        if k == len(commit.hunks) - 1:
            break
        await asyncio.sleep(pause)  # the client's own pause before it asks
        end = (hunk.b0 + len(hunk.added) - 1, units(hunk.added[-1])) if hunk.added else (hunk.b0, 0)
        items = await ask(run, where, *end, timeout)
        run.asked.append(commit.language)
        for item in items:
            path = by_uri.get(item["textDocument"]["uri"])
            if path is None or item["textDocument"]["version"] != server.versions[uri(commit, path)]:
                run.stale += 1
                continue
            if path not in base:
                base[path] = distance(rows[path], finals[path])
            text = "\n".join(rows[path])
            (s, e) = (offset(rows[path], **item["range"]["start"]), offset(rows[path], **item["range"]["end"]))
            after = distance((text[:s] + item["text"] + text[e:]).split("\n"), finals[path])
            rule = f"model: {item.get('source') or '?'}" if item["rule"] == "model" else item["rule"]
            right, right_rows = after[0] < base[path][0], after[1] < base[path][1]
            run.proposed.append(Proposed(rule, commit.language, right, right_rows, len(run.latencies) - 1))
            if right:
                first, last = touched(item)
                for j in range(k + 1, len(commit.hunks)):
                    later = commit.hunks[j]
                    lo, hi = region(later, moved[later.path])
                    if later.path == path and first <= hi and last >= lo:
                        found[j].add(rule)
            if verbose:
                r = item["range"]
                run.shown.append(f"{'right' if right else 'WRONG'}: {commit.repo} {commit.sha[:8]} {path} hunk {k + 1}/"
                                 f"{len(commit.hunks)} (old {rows_of(hunk)}: {list(hunk.removed)[:3]} -> "
                                 f"{list(hunk.added)[:3]}): {rule} [{item.get('source', '')}] at line "
                                 f"{r['start']['line'] + 1}:{r['start']['character']}-{r['end']['line'] + 1}:"
                                 f"{r['end']['character']} {text[s:e]!r} -> {item['text']!r}")
    run.later += [(commit.language, found.get(j, set())) for j in range(1, len(commit.hunks))]
    for path in commit.files:
        server.close(uri(commit, path))
    return len(commit.hunks) - 1


def quantile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def counts(wanted: str, rule: str) -> bool:
    """Whether a row for `wanted` ("": everything, "rules": every rule but the models') counts `rule`."""
    return wanted in ("", rule) or wanted == "rules" and not rule.startswith("model")


def row(run: Run, wanted: str, language: str) -> dict:
    asked = [i for i, lang in enumerate(run.asked) if language in ("", lang)]
    n = len(asked) or 1
    mine = [p for p in run.proposed if counts(wanted, p.rule) and language in ("", p.language)]
    requests = asked if wanted == "" else sorted({p.asked for p in mine})
    later = [rules for lang, rules in run.later if language in ("", lang)]
    hit = [rules for rules in later if any(counts(wanted, r) for r in rules)]
    latencies = [run.latencies[i] * 1000 for i in requests]
    return {"asked": len(asked), "proposals": len(mine), "per100": 100 * len(mine) / n,
            "hunks": len({p.asked for p in mine}) / n,
            "precision": sum(p.right for p in mine) / len(mine) if mine else float("nan"),
            "precision_rows": sum(p.right_rows for p in mine) / len(mine) if mine else float("nan"),
            "wrong100": 100 * sum(not p.right for p in mine) / n, "later": len(later),
            "found": len(hit) / len(later) if later else float("nan"),
            "p50": quantile(latencies, 50), "p95": quantile(latencies, 95)}


def pct(x: float, digits: int = 0) -> str:
    return "-" if x != x else f"{x:.{digits}%}"


def ms(x: float) -> str:
    return "-" if x != x else f"{x:.0f}"


def print_table(run: Run, title: str) -> None:
    print(f"\n#### {title}\n")
    print("| rule | language | asked hunks | proposals | / 100 hunks | hunks with one | precision | precision by rows "
          "| wrong / 100 hunks | later hunks | found | p50 ms | p95 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rules = sorted({p.rule for p in run.proposed}, key=lambda r: (r.startswith("model"), r))
    for rule in ["", "rules", *rules]:
        for language in ("python", "javascript", ""):
            r = row(run, rule, language)
            if not r["asked"]:
                continue
            print(f"| {rule or 'all'} | {language or 'total'} | {r['asked']} | {r['proposals']} | {r['per100']:.1f} "
                  f"| {pct(r['hunks'], 1)} | {pct(r['precision'])} | {pct(r['precision_rows'])} | {r['wrong100']:.1f} "
                  f"| {r['later']} | {pct(r['found'], 1)} | {ms(r['p50'])} | {ms(r['p95'])} |")
    if run.stale:
        print(f"\n{run.stale} proposals were for a version not the buffer's (not scored)")
    if run.errors:
        print(f"\n{len(run.errors)} requests failed (no proposals counted), the first: {run.errors[0]}")


def print_targets(run: Run) -> None:
    rules, every = row(run, "rules", ""), row(run, "", "")
    checks = [("rule proposals for >= 5% of hunks", pct(rules["hunks"], 1), rules["hunks"] >= 0.05),
              ("precision >= 90%", pct(rules["precision"], 1), rules["precision"] >= 0.9),
              ("<= 2 wrong per 100 hunks", f"{rules['wrong100']:.2f}", rules["wrong100"] <= 2),
              ("p50 <= 30 ms after the pause", f"{every['p50']:.1f} ms", every["p50"] <= 30)]
    print("\nAgainst the targets (the rules, every language):\n")
    print("| target | got | met |")
    print("|---|---:|---|")
    for name, got, ok in checks:
        print(f"| {name} | {got} | {'yes' if ok else 'NO'} |")


async def replay(run: Run, todo: list[Commit], pause: float, timeout: float, verbose: bool, limit: int | None) -> None:
    run.server = Server(run.config)
    await run.server.start()
    for _ in range(1200):  # the completions model loads in the background: not while requests are timed
        stats = plain(await run.server.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.stats")))
        if stats.get("modelReady") or stats.get("modelError"):
            break
        await asyncio.sleep(0.1)
    asked = 0
    for i, commit in enumerate(todo):
        if limit is not None and asked >= limit:
            break
        finals = {p: t.split("\n") for p, t in replayed(commit).items()}
        asked += await replay_commit(run, commit, finals, pause, timeout, verbose)
        print(f"  {run.config.name}: commit {i + 1}/{len(todo)} {commit.repo} {commit.sha[:8]}: {len(commit.hunks)} hunks, "
              f"{len(run.proposed)} proposals so far ({sum(p.right for p in run.proposed)} right)", file=sys.stderr)
    await run.server.stop()
    print(f"{run.config.name}: sokuji.stats nextEdits: {plain(run.config.stats).get('nextEdits')}", file=sys.stderr)
    for line in sorted(run.shown, key=lambda line: not line.startswith("WRONG")):
        print("  " + line, file=sys.stderr)


def model_spec(spec: str) -> str:
    if spec == "embedded":
        from lsp_server.engine.embedded import embedded_model_path

        return embedded_model_path()
    return spec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", action="append", help="PATH:LANGUAGE (python, javascript); default: click and express")
    ap.add_argument("--commits", type=int, default=150, help="commits per repository")
    ap.add_argument("--skip", type=int, default=0, help="leave out the newest SKIP fitting commits per repository "
                                                         "(held out: older commits than the ones the rules were tuned on)")
    ap.add_argument("--pause", type=float, default=0.25, help="the client's pause after a hunk before it asks (s)")
    ap.add_argument("--model", help='also a server with nextEditModel set to this ("embedded": the default model)')
    ap.add_argument("--model-hunks", type=int, default=40, help="asked hunks replayed into the model's server")
    ap.add_argument("--verbose", action="store_true", help="print the wrong proposals (stderr)")
    args = ap.parse_args()
    todo: list[Commit] = []
    for spec in args.repo or DEFAULT_REPOS:
        path, language = spec.rsplit(":", 1)
        if not Path(path).is_dir():
            sys.exit(f"{path}: no such repository (clone it, or name another with --repo PATH:LANGUAGE)")
        todo += mined(Path(path), language, args.skip + args.commits)[args.skip :]
    hunks = sum(len(c.hunks) for c in todo)
    print(f"{len(todo)} commits, {hunks} hunks ({hunks - len(todo)} asked after)", file=sys.stderr)
    rules = Run(Config("rules", {"recentEdits": True}))
    asyncio.run(replay(rules, todo, args.pause, 30, args.verbose, None))
    print(f"{len(todo)} commits replayed ({', '.join(sorted({c.repo for c in todo}))}), {hunks} hunks, "
          f"a request {args.pause * 1000:.0f} ms after each but a commit's last")
    print_table(rules, "Rules (nextEditModel unset)")
    print_targets(rules)
    if args.model:
        model = Run(Config("model", {"recentEdits": True, "nextEditModel": model_spec(args.model)}))
        asyncio.run(replay(model, todo, args.pause, 600, args.verbose, args.model_hunks))
        print_table(model, f"With nextEditModel = {args.model} (its first {len(model.asked)} asked hunks; "
                           "its own server, the rules too)")


if __name__ == "__main__":
    main()
