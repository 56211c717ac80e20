"""The wheel built from the tree holds every package: pyproject lists them by hand, and the
editable install the tests run under would hide one left out."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lsp_server"


def test_a_wheel_installed_from_the_tree_imports_every_module(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("sokuji-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = sorted(p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py"))
    assert [m for m in modules if m not in names] == []
    queries = sorted(f"lsp_server/grammars/{p.relative_to(ROOT / 'grammars').as_posix()}" for p in (ROOT / "grammars").rglob("*.scm"))
    assert queries and [q for q in queries if q not in names] == []

    # installed (not editable) and imported from outside the tree: every module loads from there
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    dotted = [m.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for m in modules]
    code = ("import importlib, sys\n"
            f"for name in {dotted!r}:\n"
            "    module = importlib.import_module(name)\n"
            f"    assert module.__file__.startswith({str(site)!r}), (name, module.__file__)\n"
            "from lsp_server.context.queries import query_source\n"
            "assert query_source('python', 'tags') and query_source('rust', 'locals')\n"
            "print('ok')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
