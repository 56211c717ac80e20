"""HumanEval-Infilling through sokuji's real completion pipeline: raw model output against
post-processed output, measured in the same run.

    .venv/bin/python benchmarks/humaneval_infill.py [--sets single,random-light,multi]
        [--limit N] [--model PATH] [--data DIR]

For each record the document is prompt + suffix with the cursor between them; the pipeline
runs as the server runs it (mode decision, context, engine); the model's raw text is scored,
then the same text after post-processing. A completion passes when
prompt + completion + suffix + test + check(entry_point) exits cleanly in a subprocess within
the timeout (never exec'd here). Prints pass@1, exact match and latency p50/p95 per set.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsp_server.completion.pipeline import finish, make_prompt
from lsp_server.config import Settings
from lsp_server.context.syntax import completion_mode, error_counter
from lsp_server.documents import UTF32, Document
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.model import Model
from lsp_server.structs import CancelToken, GenParams

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "humaneval-infilling"
SETS = {
    "single": ("HumanEval-SingleLineInfilling.jsonl.gz", 48),
    "multi": ("HumanEval-MultiLineInfilling.jsonl.gz", 128),
    "random-light": ("HumanEval-RandomSpanInfillingLight.jsonl.gz", 64),
    "random": ("HumanEval-RandomSpanInfilling.jsonl.gz", 64),
}
CONTEXT = 2048


def load(path: Path, limit: int | None) -> list[dict]:
    with gzip.open(path, "rt") as fh:
        records = [json.loads(line) for line in fh]
    if limit and limit < len(records):
        step = len(records) / limit  # spread over every problem, not the first few
        records = [records[int(i * step)] for i in range(limit)]
    return records


def passes(record: dict, completion: str, timeout: float = 10.0) -> bool:
    program = (record["prompt"] + completion + record["suffix"] + "\n" + record["test"]
               + f"\ncheck({record['entry_point']})\n")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(program)
    try:
        run = subprocess.run([sys.executable, fh.name], capture_output=True, timeout=timeout)
        return run.returncode == 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        Path(fh.name).unlink(missing_ok=True)


def exact(record: dict, completion: str) -> bool:
    return completion.strip() == record["canonical_solution"].strip()


def run_set(model: Model, records: list[dict], max_tokens: int) -> dict[str, float]:
    settings = Settings(context_size=CONTEXT, max_tokens=max_tokens)
    raw_pass = post_pass = raw_em = post_em = skipped = 0
    latencies = []
    for record in records:
        doc = Document("file:///humaneval.py", "python", 1, record["prompt"] + record["suffix"], UTF32)
        snap = doc.snapshot()
        cursor = doc.cursor(record["prompt"].count("\n"), len(record["prompt"].rsplit("\n", 1)[-1]))
        assert cursor.offset == len(record["prompt"])
        prompt = make_prompt(model, snap, cursor, settings)
        t0 = time.perf_counter()
        gen = model.complete(prompt, GenParams(max_tokens=max_tokens, time_budget_ms=60_000), CancelToken(),
                             key="humaneval")
        latencies.append(time.perf_counter() - t0)
        raw = gen.text
        if completion_mode(snap, cursor) == "skip":
            skipped += 1
            post = ""
        else:
            post = finish(raw, prompt, error_counter(snap, cursor))
        raw_pass += passes(record, raw)
        post_pass += passes(record, post)
        raw_em += exact(record, raw)
        post_em += exact(record, post)
    n = len(records)
    return {
        "n": n,
        "pass@1 raw": 100 * raw_pass / n,
        "pass@1 post": 100 * post_pass / n,
        "EM raw": 100 * raw_em / n,
        "EM post": 100 * post_em / n,
        "skipped": skipped,
        "p50 s": statistics.median(latencies),
        "p95 s": statistics.quantiles(latencies, n=20)[18] if n >= 2 else latencies[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="single,random-light,multi")
    parser.add_argument("--limit", type=int, default=None, help="records per set, spread over the problems")
    parser.add_argument("--model", help="any GGUF file (FIM models get their FIM template)")
    parser.add_argument("--data", default=str(DATA))
    args = parser.parse_args()
    model = Model(args.model or embedded_model_path(), context_size=CONTEXT, kv_persist_dir=None)
    print(f"model: {model.info.name}, FIM: {model.info.fim or 'none (prefix-only)'}")
    head = ["n", "pass@1 raw", "pass@1 post", "EM raw", "EM post", "skipped", "p50 s", "p95 s"]
    print(f"{'set':>14} | " + " | ".join(f"{h:>11}" for h in head))
    for name in args.sets.split(","):
        filename, max_tokens = SETS[name]
        row = run_set(model, load(Path(args.data) / filename, args.limit), max_tokens)
        print(f"{name:>14} | " + " | ".join(f"{row[h]:11.2f}" if isinstance(row[h], float) else f"{row[h]:>11}"
                                            for h in head), flush=True)
    model.close()  # before the interpreter tears down (lsp_server/engine/lifetime.py)


if __name__ == "__main__":
    main()
