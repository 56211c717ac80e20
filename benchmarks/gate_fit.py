"""Choose the confidence gates' thresholds per language on the train files, and report them
on the test files (data: benchmarks/gate_data.py).

    .venv/bin/python benchmarks/gate_fit.py [--data DIR]

Line starts: the first line is shown when its probability (the product over its tokens,
indentation left out: gate.line_probability) is at least the threshold, else hidden. Scored
as the typing benchmark scores line starts: right (a prefix of the real line covering at
least half of it), short (a shorter prefix), wrong, empty. The chosen threshold per language
keeps the most right answers on the train files among those showing at most WRONG of the
ungated wrong ones (the highest such threshold).
Also shown: cutting the line where its probability falls under the threshold instead of
hiding it (what the mid-line gate does), which the data rejects at line starts.

Mid-line: the gate inside the decode loop (engine/confidence.py) simulated on the measured
tokens: the line is cut before the token that takes its probability under the threshold.
Scored as the typing benchmark does (correct: a non-empty prefix of the rest of the line).
Per language, among the thresholds that save at least SAVE of the most characters any
saves on the train files, the one with the fewest wrong answers.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

from lsp_server.completion.gate import line_probability

WRONG = 0.4  # of the ungated wrong answers at line starts that a threshold may show, on the train files
SAVE = 0.95  # of the best characters saved mid-line, on the train files
LINE_START_GRID = (0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01)
MID_LINE_GRID = (0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()] if path.is_file() else []


def line_start_label(shown: str, rest: str) -> str:
    first, real = shown.split("\n", 1)[0].strip(), rest.strip()
    if not first:
        return "empty"
    if real.startswith(first):
        return "right" if 2 * len(first) >= len(real) else "short"
    return "wrong"


def gated(case: dict, threshold: float) -> str:
    """What the line-start gate shows of the case at this threshold."""
    if not case["shown"].strip():
        return ""
    probability = line_probability([tuple(t) for t in case["tokens"]], case["raw"])
    return case["shown"] if probability is None or probability >= threshold else ""


def cut_short(case: dict, threshold: float) -> str:
    """The alternative rejected at line starts: the line cut where it gets unlikely."""
    raw, shown = case["raw"], case["shown"]
    lead = len(raw) - len(raw.lstrip())
    total, end = 0.0, 0
    for stop, prob in case["tokens"]:
        if stop <= lead:
            continue
        total += math.log(max(prob, 1e-12))
        if total < math.log(threshold):
            break
        end = stop
    return shown[: end - lead] if shown.strip() else ""


def mid_line_cut(case: dict, threshold: float) -> str:
    product, end = 1.0, None
    for stop, prob in case["tokens"]:
        product *= prob
        if product < threshold:
            end = end or 0
            break
        end = stop
    shown = case["shown"]
    return shown if end is None or end >= len(shown) else shown[:end].rstrip()


def mid_line_label(shown: str, rest: str) -> tuple[str, int]:
    first = shown.split("\n", 1)[0]
    if not first.strip():
        return "empty", 0
    return ("correct", len(first)) if rest.startswith(first) else ("wrong", 0)


def line_starts(train: list[dict], test: list[dict], language: str) -> float:
    tr = [c for c in train if c["kind"] == "line start" and c["language"] == language]
    te = [c for c in test if c["kind"] == "line start" and c["language"] == language]
    ungated = sum(line_start_label(c["shown"], c["rest"]) == "right" for c in tr)
    chosen = LINE_START_GRID[-1]
    print(f"\n### Line starts, {language}: {len(tr)} train cases, {len(te)} test cases\n")
    print("| threshold | train right | short | wrong | empty | precision | recall | test right | short | wrong | empty "
          "| precision | recall | train, cut short: right / short / wrong |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for t in (0.0, *LINE_START_GRID):
        row = []
        for cases in (tr, te):
            count = Counter(line_start_label(gated(c, t), c["rest"]) for c in cases)
            base = sum(line_start_label(c["shown"], c["rest"]) == "right" for c in cases)
            shown = count["right"] + count["short"] + count["wrong"]
            row += [count["right"], count["short"], count["wrong"], count["empty"],
                    f"{count['right'] / shown:.0%}" if shown else "-", f"{count['right'] / base:.0%}" if base else "-"]
        cut = Counter(line_start_label(cut_short(c, t), c["rest"]) for c in tr) if t else Counter()
        print(f"| {t} | " + " | ".join(map(str, row)) + f" | {cut['right']} / {cut['short']} / {cut['wrong']} |")
    wrong = sum(line_start_label(c["shown"], c["rest"]) == "wrong" for c in tr)
    best = -1
    for t in LINE_START_GRID:  # highest first
        count = Counter(line_start_label(gated(c, t), c["rest"]) for c in tr)
        if count["wrong"] <= WRONG * wrong and count["right"] > best:
            best, chosen = count["right"], t
    print(f"\nchosen for {language}: {chosen} (the most right lines showing <= {WRONG:.0%} of the wrong ones, train set; "
          f"{best} of {ungated} right)")
    return chosen


def mid_line(train: list[dict], test: list[dict], language: str) -> float:
    tr = [c for c in train if c["kind"] != "line start" and c["language"] == language]
    te = [c for c in test if c["kind"] != "line start" and c["language"] == language]
    print(f"\n### Mid-line, {language}: {len(tr)} train cases, {len(te)} test cases\n")
    print("| threshold | train correct | wrong | empty | chars saved / request | test correct | wrong | empty "
          "| chars saved / request |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    scored = {}
    for t in (0.0, *MID_LINE_GRID):
        row = []
        for cases in (tr, te):
            labels = [mid_line_label(mid_line_cut(c, t), c["rest"]) for c in cases]
            count = Counter(k for k, _ in labels)
            n = len(cases) or 1
            row += [f"{count['correct'] / n:.0%}", f"{count['wrong'] / n:.0%}", f"{count['empty'] / n:.0%}",
                    f"{sum(s for _, s in labels) / n:.2f}"]
            if cases is tr and t:
                scored[t] = (sum(s for _, s in labels), count["wrong"])
        print(f"| {t} | " + " | ".join(row) + " |")
    most = max(saved for saved, _ in scored.values())
    chosen = min((t for t in scored if scored[t][0] >= SAVE * most), key=lambda t: (scored[t][1], -t))
    print(f"\nchosen for {language}: {chosen} (the fewest wrong answers among those saving >= {SAVE:.0%} of the most "
          "characters, train set)")
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp")
    args = ap.parse_args()
    train, test = load(Path(args.data) / "gate_train.jsonl"), load(Path(args.data) / "gate_test.jsonl")
    starts = {lang: line_starts(train, test, lang) for lang in ("python", "javascript")}
    mids = {lang: mid_line(train, test, lang) for lang in ("python", "javascript")}
    print(f"\nLINE_START = {starts}\nMID_LINE = {mids}")


if __name__ == "__main__":
    main()
