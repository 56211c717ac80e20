"""Latency of one completion through the real pipeline (context -> engine -> postprocess),
for the embedded model and any other GGUF files given, as ratios against the embedded model
measured in the same run.

    .venv/bin/python benchmarks/complete_latency.py [--model other.gguf ...] [--repeat 3]

Per model: load time; a cold completion (the whole prompt evaluated); a keystroke (one
character typed at the cursor: the KV cache keeps the prompt's prefix); prompt and
generation speed in tokens per second.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from lsp_server.completion.pipeline import complete
from lsp_server.config import Settings
from lsp_server.documents import UTF32, Document
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.model import Model
from lsp_server.structs import CancelToken, GenParams, Prompt

SOURCE = (Path(__file__).resolve().parents[1] / "lsp_server" / "documents.py").read_text()
CURSOR_LINE = SOURCE.count("\n", 0, SOURCE.index("    def snapshot"))  # a blank-ish spot mid-file


def measure(path: str, repeat: int) -> dict[str, float]:
    settings = Settings(max_tokens=32, time_budget_ms=60_000)
    t0 = time.perf_counter()
    model = Model(path, context_size=4096)
    load = time.perf_counter() - t0
    cold, keystroke, prompt_tps, gen_tps = [], [], [], []
    for _ in range(repeat):
        model.llm.reset()  # forget the KV cache: a cold start
        doc = Document("file:///bench.py", "python", 1, SOURCE, UTF32)
        cursor = doc.cursor(CURSOR_LINE, 0)
        t0 = time.perf_counter()
        first = complete(model, doc.snapshot(), cursor, settings, CancelToken())
        cold.append(time.perf_counter() - t0)
        doc.apply_change("    d", (CURSOR_LINE, 0), (CURSOR_LINE, 0))  # the user types
        t0 = time.perf_counter()
        complete(model, doc.snapshot(), doc.cursor(CURSOR_LINE, 5), settings, CancelToken())
        keystroke.append(time.perf_counter() - t0)
        # raw speeds: a prompt with no cache, then generation only
        model.llm.reset()
        prompt = Prompt(prefix=SOURCE[:6000], suffix="", multiline=True)
        t0 = time.perf_counter()
        gen = model.complete(prompt, GenParams(max_tokens=1, time_budget_ms=60_000), CancelToken())
        prompt_tps.append(gen.prompt_tokens / (time.perf_counter() - t0))
        gen = model.complete(prompt, GenParams(max_tokens=64, time_budget_ms=60_000), CancelToken())
        gen_tps.append(gen.generated_tokens / gen.seconds)
    model.close()
    return {
        "load s": load,
        "cold completion s": statistics.median(cold),
        "keystroke s": statistics.median(keystroke),
        "prompt tok/s": statistics.median(prompt_tps),
        "generated tok/s": statistics.median(gen_tps),
        "prompt tokens": first.generation.prompt_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", default=[], help="another GGUF file to compare")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = [embedded_model_path(), *args.model]
    rows = {Path(p).name: measure(p, args.repeat) for p in paths}
    base = rows[Path(paths[0]).name]
    metrics = list(base)
    print(f"{'model':40} " + " ".join(f"{m:>18}" for m in metrics))
    for name, row in rows.items():
        print(f"{name[:40]:40} " + " ".join(f"{row[m]:18.2f}" for m in metrics))
        if row is not base:
            print(f"{'  ratio to ' + Path(paths[0]).name[:28]:40} " + " ".join(f"{row[m] / base[m]:17.2f}x" for m in metrics))
    print(f"\nkeystroke / cold (embedded model): {base['keystroke s'] / base['cold completion s']:.2f}x")


if __name__ == "__main__":
    main()
