"""The command line, run as a user runs it, on the embedded model."""

import subprocess
import sys
from pathlib import Path

from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.model import Model
import pytest

from lsp_server.structs import CancelledError, CancelToken, GenParams, Prompt

ROOT = Path(__file__).resolve().parents[2]


def sokuji(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True, timeout=300)


def test_complete_prints_the_completion_and_its_costs():
    run = sokuji("complete", str(ROOT / "examples" / "fibonacci.py"), "--line", "8", "--col", "5",
                 "--time-budget-ms", "60000")  # a loaded machine must not change the answer
    assert run.returncode == 0, run.stderr
    assert "fibonacci(n - 1)" in run.stdout  # the real model's greedy completion of the body
    assert "prompt tokens: " in run.stderr and "generated tokens: " in run.stderr
    assert "model load: " in run.stderr and "completion: " in run.stderr


def test_complete_inside_a_word_after_emoji_completes_the_word(tmp_path):
    """The cursor inside `text.expa`, after a line's emoji, in a copy of the standard library's
    textwrap.py: with the partial word as the prompt's last token the model stopped at once."""
    import textwrap

    lines = Path(textwrap.__file__).read_text().split("\n")
    row = lines.index("            text = text.expandtabs(self.tabsize)")
    lines[row] = "            label = '🙂🙂'; text = text.expa"
    (tmp_path / "textwrap.py").write_text("\n".join(lines))
    args = ("complete", str(tmp_path / "textwrap.py"), "--line", str(row + 1), "--col", str(len(lines[row]) + 1),
            "--time-budget-ms", "60000", "--workspace", str(tmp_path))
    healed, raw = sokuji(*args), sokuji(*args, "--no-token-healing")
    assert healed.returncode == raw.returncode == 0, (healed.stderr, raw.stderr)
    assert healed.stdout.startswith("nd"), healed.stdout  # text.expand...
    assert not raw.stdout.startswith("nd"), raw.stdout


def test_complete_reports_a_missing_model_clearly(tmp_path):
    run = sokuji("complete", str(ROOT / "examples" / "fibonacci.py"), "--line", "1", "--col", "1",
                 "--model", str(tmp_path / "none.gguf"))
    assert run.returncode == 1
    assert "model file not found" in run.stderr and "none.gguf" in run.stderr


def test_context_prints_each_part_with_its_tokens_and_the_exact_prompt(tmp_path):
    (tmp_path / "shapes.py").write_text("def circle_area(radius, precision=2):\n    return round(3.14159 * radius ** 2, precision)\n")
    (tmp_path / "report.py").write_text("from shapes import circle_area\n\n\ndef describe(radius):\n    area = circle_\n")
    run = sokuji("context", str(tmp_path / "report.py"), "--line", "4", "--col", "18", "--workspace", str(tmp_path))
    assert run.returncode == 0, run.stderr
    out = run.stdout
    head = "===== definitions from shapes.py: "
    assert head in out and "def circle_area(radius, precision=2):" in out.split(head, 1)[1]
    assert "===== file prefix (up to the cursor): " in out and " tokens =====" in out
    prompt = out.split("===== the prompt as the model sees it: ", 1)[1]
    n = int(prompt.split(" tokens", 1)[0])
    assert 20 < n < 200
    # prefix-only model: the definitions, a header naming the file, then the file up to the cursor
    assert "# shapes.py\ndef circle_area(radius, precision=2):" in prompt
    assert prompt.rstrip().endswith("# report.py\nfrom shapes import circle_area\n\n\ndef describe(radius):\n    area = circle_")
    assert "2 files, 2 definitions indexed" in run.stderr


def test_context_before_shows_the_edits_since_as_the_recent_edits_block(tmp_path):
    helpers = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(60))  # the edit: far above
    tail = "def run(items):\n    return scale_all(items, 2)\n"
    (tmp_path / "old.py").write_text("def scale_all(items, factor):\n    return items\n\n\n" + helpers + tail)
    (tmp_path / "new.py").write_text("def scale_all(items, factor, clip):\n    return items\n\n\n" + helpers + tail)
    line = (tmp_path / "new.py").read_text().count("\n") - 1
    (tmp_path / "ws").mkdir()  # nothing indexed: the block alone shows the old signature
    run = sokuji("context", str(tmp_path / "new.py"), "--line", str(line), "--col", "4", "--workspace", str(tmp_path / "ws"),
                 "--before", str(tmp_path / "old.py"))
    assert run.returncode == 0, run.stderr
    part = run.stdout.split("===== recent edits: ", 1)[1]
    assert int(part.split(" tokens", 1)[0]) > 10
    assert "-def scale_all(items, factor):\n+def scale_all(items, factor, clip):" in part
    prompt = run.stdout.split("===== the prompt as the model sees it: ", 1)[1]
    assert "# recent-edits.diff\n--- a/new.py" in prompt  # in the prompt, before the file's own lines


def test_doctor_reports_build_model_and_grammars():
    run = sokuji("doctor")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("llama.cpp build: ") for line in lines)
    assert any(line.startswith("GPU offload: ") for line in lines)
    path = lines[lines.index("model:") + 1]  # the model's absolute path, on its own line
    assert Path(path).is_absolute() and Path(path).is_file()
    assert "architecture: gemma3" in run.stdout
    assert "FIM template: none" in run.stdout
    assert "grammars: python, javascript, typescript, tsx, rust, go, c, cpp, java, ruby, bash, lua" in run.stdout


def test_time_budget_and_max_tokens_stop_decoding():
    model = Model(embedded_model_path(), context_size=1024)
    prompt = Prompt(prefix="# The fifty states of the USA, one per line\nSTATES = [\n", suffix="", multiline=True)
    capped = model.complete(prompt, GenParams(max_tokens=5, time_budget_ms=60_000), CancelToken())
    assert capped.stop_reason == "max_tokens" and capped.generated_tokens == 5
    timed = model.complete(prompt, GenParams(max_tokens=500, time_budget_ms=0), CancelToken())
    assert timed.stop_reason == "time" and timed.generated_tokens == 1  # the budget is checked after every token
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):  # cancelled before decoding: prompt evaluation stops too
        model.complete(Prompt(prefix="x" * 500, suffix=""), GenParams(max_tokens=64, time_budget_ms=3000), cancel)
    model.close()
