"""`sokuji models` and `sokuji pull`, run as a user runs them.

The hub is tests/helpers/fake_hub.py, a local HTTP server answering as huggingface.co does for file
downloads: a fake only because the hub cannot be reached from here. The downloads, the cache,
HF_ENDPOINT / HF_TOKEN / HF_HUB_OFFLINE, the resume and the checks are the real ones
(huggingface_hub, llama.cpp), on real GGUF files built with the `gguf` package.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lsp_server.engine.fim import FAMILIES
from lsp_server.models import BY_NAME, CATALOG, catalog_markdown

from ..helpers.fake_hub import FakeHub
from ..helpers.tiny_gguf import FAMILY_TOKENS, write_tiny_model, write_vocab_gguf

ROOT = Path(__file__).resolve().parents[2]
QWEN = BY_NAME["qwen2.5-coder-0.5b"]  # the entry the fake hub serves a tiny model for


def sokuji(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True,
                          timeout=300, env=env, **kwargs)


def hub_env(tmp_path: Path, hub: FakeHub, **extra: str) -> dict[str, str]:
    """The environment of a user whose Hugging Face home is empty, pointed at the fake hub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    return {**env, "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": hub.url, "XDG_CACHE_HOME": str(tmp_path / "xdg"),
            "HF_HUB_DISABLE_TELEMETRY": "1", **extra}


def snapshot(tmp_path: Path, repo: str, file: str) -> Path:
    return tmp_path / "hf" / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123456789abcdef0123456789abcdef01234567" / file


def blobs(tmp_path: Path, repo: str) -> Path:
    return tmp_path / "hf" / "hub" / f"models--{repo.replace('/', '--')}" / "blobs"


def incomplete(tmp_path: Path, repo: str) -> list[Path]:
    """What huggingface_hub kept of an unfinished download, to resume from."""
    return list(blobs(tmp_path, repo).glob("*.incomplete"))


@pytest.fixture
def hub(tmp_path):
    with FakeHub() as fake:
        yield fake


@pytest.fixture
def tiny_qwen(tmp_path) -> bytes:
    return write_tiny_model(tmp_path / "tiny-qwen.gguf", FAMILY_TOKENS["qwen2.5-coder"], name="tiny-qwen").read_bytes()


def test_the_catalog_names_real_fim_code_models():
    names = {m.name for m in CATALOG}
    for size in ("0.5b", "1.5b", "3b", "7b", "14b"):
        assert f"qwen2.5-coder-{size}" in names
    assert {"starcoder2-3b", "deepseek-coder-6.7b", "codestral-22b"} <= names
    families = {f.name for f in FAMILIES}
    for m in CATALOG:
        assert m.fim in families and m.file.endswith(".gguf") and m.repo.count("/") == 1
        assert m.memory_gb() > m.size_gb  # the KV cache and buffers come on top of the file


def test_the_readme_catalog_is_what_sokuji_models_prints():
    run = subprocess.run([sys.executable, "-m", "lsp_server", "models", "--markdown"], capture_output=True, text=True,
                         timeout=120, check=True)
    page = (ROOT / "docs" / "models-and-gpu.md").read_text()  # "Choosing a model", linked from the README
    section = re.search(r"<!-- models-catalog -->\n(.*?)\n<!-- /models-catalog -->", page, re.S)
    assert section, "docs/models-and-gpu.md has no catalog section"
    assert section.group(1).strip() == run.stdout.strip() == catalog_markdown()


def test_pull_downloads_with_progress_checks_the_file_and_prints_the_setting(tmp_path, hub, tiny_qwen):
    hub.add(QWEN.repo, QWEN.file, tiny_qwen)
    hub.token = "hf_secret"  # a gated or private repository: HF_TOKEN is what lets it through
    env = hub_env(tmp_path, hub)
    refused = sokuji(env, "pull", QWEN.name)
    assert refused.returncode == 1 and "HF_TOKEN" in refused.stderr, refused.stderr

    env["HF_TOKEN"] = "hf_secret"
    run = sokuji(env, "pull", QWEN.name)
    assert run.returncode == 0, run.stderr
    assert QWEN.file in run.stderr and "100%" in run.stderr and "12.3k/12.3k" in run.stderr  # the progress bar
    assert "FIM: qwen2.5-coder" in run.stdout and "architecture: llama" in run.stdout
    assert '"sokuji": {"model": "qwen2.5-coder-0.5b"}' in run.stdout
    path = Path(run.stdout.splitlines()[0].split(": ", 1)[1])
    assert path == snapshot(tmp_path, QWEN.repo, QWEN.file) and path.read_bytes() == tiny_qwen

    listing = sokuji(env, "models")
    (row,) = [line for line in listing.stdout.splitlines() if QWEN.name in line]
    assert row.startswith("*")  # downloaded
    assert not any(line.startswith("*") for line in listing.stdout.splitlines() if "qwen2.5-coder-1.5b" in line)
    doctor = sokuji(env, "doctor", "--fixes-model", QWEN.name)
    assert f"fixes model: {QWEN.name}\n{path.resolve()}" in doctor.stdout, doctor.stdout
    assert "pulled models (" in doctor.stdout and f"  {QWEN.name}  " in doctor.stdout

    again = sokuji(env, "pull", QWEN.name)  # already there: nothing downloaded again
    assert again.returncode == 0 and len(hub.gets()) == 1


def test_a_cut_connection_resumes_where_it_stopped(tmp_path, hub):
    """huggingface_hub writes what it received in 10 MiB chunks and, when the connection
    breaks, the same pull asks for the rest from the end of the last one: the model here is
    padded to 24 MB and the connection cut at 15 MB."""
    data = write_tiny_model(tmp_path / "big.gguf", FAMILY_TOKENS["qwen2.5-coder"], padding=24_000_000).read_bytes()
    hub.add(QWEN.repo, QWEN.file, data)
    hub.cut_after = 15_000_000
    run = sokuji(hub_env(tmp_path, hub), "pull", QWEN.name)
    assert run.returncode == 0, run.stderr
    first, second = hub.gets()
    assert first[2] is None
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", second[2]).group(1))  # the second request asked for the rest only
    assert 0 < resumed_at <= 15_000_000
    assert snapshot(tmp_path, QWEN.repo, QWEN.file).read_bytes() == data


def test_a_failed_download_leaves_nothing_in_use_and_the_next_pull_completes(tmp_path, hub, tiny_qwen):
    hub.add(QWEN.repo, QWEN.file, tiny_qwen)
    hub.cut_after, hub.down_after_cut = 5000, True  # cut, and the resume fails too
    env = hub_env(tmp_path, hub)
    run = sokuji(env, "pull", QWEN.name)
    assert run.returncode == 1 and "Run the same command again" in run.stderr, run.stderr
    assert not snapshot(tmp_path, QWEN.repo, QWEN.file).exists()
    assert all(p.name.endswith(".incomplete") for p in blobs(tmp_path, QWEN.repo).iterdir())  # no blob in use
    use = sokuji(env, "complete", str(ROOT / "examples" / "fibonacci.py"), "--line", "1", "--col", "1", "--model", QWEN.name)
    assert use.returncode == 1 and f"run `sokuji pull {QWEN.name}`" in use.stderr, use.stderr

    hub.down_after_cut = False
    assert sokuji(env, "pull", QWEN.name).returncode == 0
    assert snapshot(tmp_path, QWEN.repo, QWEN.file).read_bytes() == tiny_qwen


@pytest.mark.parametrize("how", ["failed", "killed"])
def test_the_next_pull_resumes_an_interrupted_download(tmp_path, hub, how):
    """A pull that failed (the connection cut, then the hub answering 500 to the resume) or was
    killed mid-transfer (SIGKILL: no clean-up runs) leaves no model, only what arrived, in
    blobs/<etag>.incomplete; the next run asks for the rest. huggingface_hub writes what it
    receives in 10 MiB chunks: the model is padded to 24 MB and the transfer broken at 15 MB."""
    data = write_tiny_model(tmp_path / "big.gguf", FAMILY_TOKENS["qwen2.5-coder"], padding=24_000_000).read_bytes()
    hub.add(QWEN.repo, QWEN.file, data)
    env = hub_env(tmp_path, hub)
    if how == "failed":
        hub.cut_after, hub.down_after_cut = 15_000_000, True
        run = sokuji(env, "pull", QWEN.name)
        assert run.returncode == 1 and "Run the same command again" in run.stderr, run.stderr
        hub.down_after_cut = False
    else:
        hub.stall_after = 15_000_000
        proc = subprocess.Popen([sys.executable, "-m", "lsp_server", "pull", QWEN.name], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert hub.stalled.wait(120), "the download never started"
            deadline = time.monotonic() + 120
            while not any(p.stat().st_size for p in incomplete(tmp_path, QWEN.repo)):  # the first chunk on disk
                assert proc.poll() is None and time.monotonic() < deadline, "nothing written to resume from"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            proc.kill()
            proc.communicate()
        hub.release.set()
    (partial,) = incomplete(tmp_path, QWEN.repo)
    kept = partial.stat().st_size
    assert 0 < kept < len(data) and data.startswith(partial.read_bytes())
    assert not snapshot(tmp_path, QWEN.repo, QWEN.file).exists()
    doctor = sokuji(env, "doctor", "--model", QWEN.name)
    assert f"model: ERROR model '{QWEN.name}' is not downloaded" in doctor.stdout, doctor.stdout

    asked = len(hub.gets())
    run = sokuji(env, "pull", QWEN.name)
    assert run.returncode == 0, run.stderr
    (resumed,) = hub.gets()[asked:]
    assert resumed[2] == f"bytes={kept}-"  # the rest only
    assert snapshot(tmp_path, QWEN.repo, QWEN.file).read_bytes() == data
    assert not incomplete(tmp_path, QWEN.repo)


@pytest.mark.parametrize("kind", ["html", "truncated", "vocabulary only"])
def test_a_download_that_is_not_a_loadable_gguf_is_rejected_and_removed(tmp_path, hub, tiny_qwen, kind):
    repo, file = "someone/broken-GGUF", "model.gguf"
    data = {
        "html": b"<!DOCTYPE html><html><body>Sign in to continue</body></html>",
        "truncated": tiny_qwen[:-300],  # served whole at this size: only the check can tell
        "vocabulary only": write_vocab_gguf(tmp_path / "vocab.gguf", FAMILY_TOKENS["qwen2.5-coder"]).read_bytes(),
    }[kind]
    hub.add(repo, file, data)
    env = hub_env(tmp_path, hub)
    run = sokuji(env, "pull", f"{repo}/{file}")
    assert run.returncode == 1, run.stdout
    assert "is not a model sokuji can load, so it was removed from the cache" in run.stderr
    reason = {"html": "not a GGUF file", "truncated": "is truncated or corrupt", "vocabulary only": "holds no weights"}[kind]
    assert reason in run.stderr, run.stderr
    repo_dir = tmp_path / "hf" / "hub" / "models--someone--broken-GGUF"
    assert not [p for d in ("blobs", "snapshots") for p in (repo_dir / d).rglob("*") if not p.is_dir()]  # no blob, no link


def test_a_gguf_without_fim_tokens_is_kept_with_a_warning(tmp_path, hub):
    hub.add("someone/chat-GGUF", "chat.gguf", write_tiny_model(tmp_path / "chat.gguf", FAMILY_TOKENS["none"]).read_bytes())
    run = sokuji(hub_env(tmp_path, hub), "pull", "someone/chat-GGUF/chat.gguf")
    assert run.returncode == 0, run.stderr
    assert "FIM: none" in run.stdout and "code before the cursor only" in run.stderr
    assert '"sokuji": {"model": "someone/chat-GGUF/chat.gguf"}' in run.stdout


def test_offline_mode_uses_the_cache_and_never_the_hub(tmp_path, hub, tiny_qwen):
    hub.add(QWEN.repo, QWEN.file, tiny_qwen)
    env = hub_env(tmp_path, hub)
    assert sokuji(env, "pull", QWEN.name).returncode == 0
    asked = len(hub.requests)
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    cached = sokuji(offline, "pull", QWEN.name)
    assert cached.returncode == 0 and "FIM: qwen2.5-coder" in cached.stdout, cached.stderr
    missing = sokuji(offline, "pull", "qwen2.5-coder-1.5b")
    assert missing.returncode == 1 and "HF_HUB_OFFLINE is set" in missing.stderr, missing.stderr
    assert len(hub.requests) == asked


def test_pull_names_what_it_accepts(tmp_path, hub):
    env = hub_env(tmp_path, hub)
    run = sokuji(env, "pull", "qwen-coder")
    assert run.returncode == 1 and "qwen2.5-coder-1.5b" in run.stderr and "REPO/FILE" in run.stderr
    hub.add("someone/models-GGUF", "a.gguf", b"GGUF")
    absent = sokuji(env, "pull", "someone/models-GGUF/b.gguf")
    assert absent.returncode == 1 and "has no file b.gguf" in absent.stderr, absent.stderr
    nobody = sokuji(env, "pull", "nobody/none-GGUF/a.gguf")
    assert nobody.returncode == 1 and "no repository nobody/none-GGUF" in nobody.stderr, nobody.stderr
    assert not (tmp_path / "hf" / "hub" / "models--someone--models-GGUF" / "snapshots").exists()
