"""Code models by name: the catalog, `sokuji pull`, and the `model` setting resolved from the
local Hugging Face cache.

Downloads go through huggingface_hub: its cache (shared with other tools), HF_ENDPOINT,
HF_TOKEN, HF_HUB_OFFLINE, and its transfer, which keeps what it received in the cache's
`blobs/<etag>.incomplete` and asks only for the rest next time (see `_download`). Only `pull`
touches the network; `resolve` (what `sokuji serve` uses) reads the cache and nothing else.
Runs off the event loop: the server resolves on its engine thread.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .engine.embedded import embedded_model_path
from .engine.base import EngineError, EngineInfo
from .engine.model import Model

DEFAULT_CONTEXT = 4096  # config.Settings.context_size; the catalog's memory column assumes it
BUFFERS_BYTES = 500_000_000  # llama.cpp's compute buffers and sokuji's own, roughly, at that context
TRIES_WITHOUT_PROGRESS = 5  # a broken transfer is tried again until this many tries in a row add nothing


@dataclass(frozen=True)
class CatalogModel:
    """A GGUF file on the Hugging Face hub that sokuji knows to work: FIM tokens, one file."""

    name: str
    repo: str
    file: str
    quant: str
    size_gb: float  # as the repository's file listing shows it (10^9 bytes)
    fim: str  # the family engine/fim.py detects in its vocabulary
    licence: str
    # for the KV cache's size: layers x KV heads x head size (the model's config.json)
    layers: int
    kv_heads: int
    head_dim: int
    purpose: str = "completion"  # "next-edit": trained for next edits, set as `nextEditModel`, not `model`

    def memory_gb(self, context: int = DEFAULT_CONTEXT) -> float:
        """RAM (CPU) or VRAM (all layers on the GPU) to run it: the weights, an f16 KV cache of
        `context` tokens, and the compute buffers. Per-file KV states (kvCacheMb) come on top."""
        kv = 2 * self.layers * self.kv_heads * self.head_dim * 2 * context
        return math.ceil((self.size_gb * 1e9 + kv + BUFFERS_BYTES) / 1e8) / 10

    @property
    def spec(self) -> str:
        return f"{self.repo}/{self.file}"


# Each repository and file name was read from the repository's file listing on the hub (see
# docs/models-and-gpu.md, "Choosing a model"). Base models, not instruct ones: FIM is what they were
# trained for. Small models in Q8_0 (4-bit costs them more), large ones in Q4_K_M.
CATALOG: tuple[CatalogModel, ...] = (
    CatalogModel("qwen2.5-coder-0.5b", "lmstudio-community/Qwen2.5-Coder-0.5B-GGUF", "Qwen2.5-Coder-0.5B-Q8_0.gguf",
                 "Q8_0", 0.531, "qwen2.5-coder", "Apache-2.0", 24, 2, 64),
    CatalogModel("qwen2.5-coder-1.5b", "ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF", "qwen2.5-coder-1.5b-q8_0.gguf",
                 "Q8_0", 1.65, "qwen2.5-coder", "Apache-2.0", 28, 2, 128),
    CatalogModel("qwen2.5-coder-3b", "ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF", "qwen2.5-coder-3b-q8_0.gguf",
                 "Q8_0", 3.29, "qwen2.5-coder", "Qwen Research (non-commercial)", 36, 2, 128),
    CatalogModel("qwen2.5-coder-7b", "ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF", "qwen2.5-coder-7b-q8_0.gguf",
                 "Q8_0", 8.1, "qwen2.5-coder", "Apache-2.0", 28, 4, 128),
    CatalogModel("qwen2.5-coder-14b", "lmstudio-community/Qwen2.5-Coder-14B-GGUF", "Qwen2.5-Coder-14B-Q4_K_M.gguf",
                 "Q4_K_M", 8.99, "qwen2.5-coder", "Apache-2.0", 48, 8, 128),
    CatalogModel("starcoder2-3b", "QuantFactory/starcoder2-3b-GGUF", "starcoder2-3b.Q4_K_M.gguf",
                 "Q4_K_M", 1.89, "starcoder", "BigCode OpenRAIL-M", 30, 2, 128),
    CatalogModel("deepseek-coder-6.7b", "TheBloke/deepseek-coder-6.7B-base-GGUF", "deepseek-coder-6.7b-base.Q4_K_M.gguf",
                 "Q4_K_M", 4.08, "deepseek-coder", "DeepSeek License", 32, 32, 128),
    CatalogModel("codestral-22b", "lmstudio-community/Codestral-22B-v0.1-GGUF", "Codestral-22B-v0.1-Q4_K_M.gguf",
                 "Q4_K_M", 13.3, "codestral", "MNPL-0.1 (non-production)", 56, 8, 128),
    # Sweep's next-edit model (Qwen2.5-Coder-1.5B fine-tuned; its GGUF is 1,537,269,856 bytes)
    CatalogModel("sweep-next-edit-1.5b", "sweepai/sweep-next-edit-1.5B", "sweep-next-edit-1.5b.q8_0.v2.gguf",
                 "Q8_0", 1.54, "qwen2.5-coder", "Apache-2.0", 28, 2, 128, purpose="next-edit"),
)
BY_NAME = {m.name: m for m in CATALOG}


class NotPulled(EngineError):
    """The model is named (catalog name or REPO/FILE) but not in the local cache."""


class PullError(Exception):
    """A download failed or its file is not a GGUF sokuji can load."""


def parse(spec: str) -> tuple[str, str, CatalogModel | None] | None:
    """(repo, file, catalog entry) for a catalog name or `owner/repo/file.gguf`; None for
    anything else (a path)."""
    entry = BY_NAME.get(spec.strip().lower())
    if entry is not None:
        return entry.repo, entry.file, entry
    parts = spec.split("/")
    if spec.startswith(("/", ".", "~")) or len(parts) < 3 or not all(parts) or not spec.lower().endswith(".gguf"):
        return None
    repo, file = "/".join(parts[:2]), "/".join(parts[2:])
    known = next((m for m in CATALOG if m.repo == repo and m.file == file), None)
    return repo, file, known


def cached(repo: str, file: str) -> str | None:
    """The file's path in the Hugging Face cache (the `main` revision), or None. Read here, with
    huggingface_hub's constants for where the cache is (HF_HOME, HF_HUB_CACHE): its
    try_to_load_from_cache would load the download stack (an HTTP client, file locks reading
    /proc) into `sokuji serve`, which never downloads. tests/e2e/test_models_e2e.py checks that
    what `pull` writes is found here."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    try:
        commit = (folder / "refs" / "main").read_text().strip()
    except OSError:
        return None
    path = folder / "snapshots" / commit / file
    return str(path) if commit and path.is_file() else None


def pull_command(spec: str) -> str:
    return f"sokuji pull {spec}"


def resolve(spec: str | None) -> str:
    """The GGUF file the `model` setting (or --model) names: None = the embedded model, then
    an existing file, then a catalog name or REPO/FILE from the local cache. Anything else
    is taken as a path (and reported as not found when it is loaded)."""
    if not spec:
        return embedded_model_path()
    if Path(spec).expanduser().is_file():
        return spec
    named = parse(spec)
    if named is None:
        return spec
    repo, file, _ = named
    path = cached(repo, file)
    if path is None:
        raise NotPulled(f"model '{spec}' is not downloaded ({repo}/{file}): run `{pull_command(spec)}` "
                        "(the server itself never downloads)")
    return path


def check(path: str) -> EngineInfo:
    """What `pull` checks before a file is used: a GGUF whose header, metadata and tensor
    table read whole (a truncated or corrupt download fails here), an architecture and
    vocabulary llama.cpp loads, and the FIM template (engine/fim.py) found in it."""
    import gguf

    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise EngineError(f"not a GGUF file: {path}")
    size = os.path.getsize(path)
    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:  # GGUFReader raises ValueError, struct and numpy errors alike
        raise EngineError(f"{path} is truncated or corrupt: its metadata or tensors do not read ({exc})") from exc
    end = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
    if not reader.tensors:
        raise EngineError(f"{path} holds no weights (a vocabulary-only GGUF file)")
    if end > size:
        raise EngineError(f"{path} is truncated or corrupt: its tensors end at byte {end}, the file has {size}")
    del reader  # its memory map
    model = Model(path, vocab_only=True, context_size=256)
    try:
        return model.info
    finally:
        model.close()


def _progress_class(file: str):
    from tqdm import tqdm

    class Progress(tqdm):
        """huggingface_hub's own bar shows only on a terminal; `sokuji pull` shows its
        progress in a log or an editor's task output too (HF_HUB_DISABLE_PROGRESS_BARS
        still turns it off)."""

        def __init__(self, *args, **kwargs):
            from huggingface_hub.utils import are_progress_bars_disabled

            kwargs.pop("name", None)
            kwargs["desc"] = file.rsplit("/", 1)[-1]  # huggingface_hub would show the URL's tail
            kwargs["disable"] = are_progress_bars_disabled()
            kwargs.setdefault("file", sys.stderr)
            kwargs.setdefault("mininterval", 0.5)
            super().__init__(*args, **kwargs)

    return Progress


def _forget(path: str) -> None:
    """Take a rejected file out of the cache: the snapshot's link and the blob it points at."""
    target = Path(path).resolve()
    Path(path).unlink(missing_ok=True)
    target.unlink(missing_ok=True)


def _partial_bytes(repo: str) -> int:
    """Bytes huggingface_hub has kept of unfinished downloads from `repo`: the cache's
    `blobs/<etag>.incomplete` files, which nothing loads (only `snapshots/` links are models)."""
    from huggingface_hub import constants

    blobs = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "blobs"
    try:
        return sum(p.stat().st_size for p in blobs.glob("*.incomplete"))
    except OSError:
        return 0


def _download(repo: str, file: str) -> str:
    """hf_hub_download, resumable within a run and across runs.

    The resume is huggingface_hub's own: up to 1.17 it downloads into the shared
    `blobs/<etag>.incomplete` (under its file lock), keeps it when a transfer fails or the
    process is killed, and the next call asks for the rest (`Range: bytes=N-`), then renames
    the finished file into the cache. From 1.18 (huggingface/huggingface_hub#4228) each call
    writes a file of its own name and deletes it on failure, so nothing resumes across runs;
    hence the `<1.18` pin in pyproject.toml rather than a downloader of our own. What 1.17
    does not do is retry a body cut short (httpx's RemoteProtocolError) or a reset connection
    (its own retries cover refused connections and timeouts): that is this loop, each try
    resuming from what the one before kept, until TRIES_WITHOUT_PROGRESS tries in a row add
    nothing. Files the hub stores with Xet go through hf_xet instead (its own transfer and
    retries; HF_HUB_DISABLE_XET=1 makes them plain HTTP, resumable as above)."""
    import httpx  # huggingface_hub's HTTP client
    from huggingface_hub import hf_hub_download

    kept, idle = _partial_bytes(repo), 0
    while True:
        try:
            return hf_hub_download(repo, file, tqdm_class=_progress_class(file))
        except httpx.TransportError as exc:
            if isinstance(exc, (httpx.ConnectError, httpx.TimeoutException)):
                raise  # huggingface_hub has tried those again itself
            now = _partial_bytes(repo)
            idle = 0 if now > kept else idle + 1
            kept = now
            if idle >= TRIES_WITHOUT_PROGRESS:
                raise
            if idle:
                time.sleep(1)  # as huggingface_hub waits between its own tries


def pull(spec: str) -> tuple[str, EngineInfo, CatalogModel | None]:
    """Download a catalog model or REPO/FILE into the Hugging Face cache (or find it there),
    then check it. Returns (path, info, catalog entry). Raises PullError with a message for
    the user; a file that fails the check is removed from the cache."""
    import httpx
    from huggingface_hub import constants
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError)

    named = parse(spec)
    if named is None:
        names = ", ".join(BY_NAME)
        raise PullError(f"'{spec}' is neither a catalog name ({names}) nor REPO/FILE ending in .gguf "
                        "(e.g. ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF/qwen2.5-coder-1.5b-q8_0.gguf)")
    repo, file, entry = named
    where = f"{repo}/{file}"
    try:
        path = _download(repo, file)
    except GatedRepoError as exc:
        raise PullError(f"{repo} is gated: accept its terms on its page, then set HF_TOKEN ({_first_line(exc)})") from None
    except RepositoryNotFoundError as exc:
        raise PullError(f"no repository {repo} (or it is private: set HF_TOKEN) at {constants.ENDPOINT} "
                        f"({_first_line(exc)})") from None
    except (RemoteEntryNotFoundError, RevisionNotFoundError) as exc:
        raise PullError(f"{repo} has no file {file} ({_first_line(exc)})") from None
    except LocalEntryNotFoundError:
        if constants.is_offline_mode():
            raise PullError(f"HF_HUB_OFFLINE is set and {where} is not in the cache ({constants.HF_HUB_CACHE})") from None
        raise PullError(f"cannot reach {constants.ENDPOINT} to download {where}, and it is not in the cache") from None
    except (HfHubHTTPError, httpx.TransportError, OSError, ValueError) as exc:
        # a transfer that failed after its retries (each resumed from the byte reached): nothing
        # was linked into the cache, and what arrived waits in blobs/<etag>.incomplete for the
        # next pull, which asks for the rest
        raise PullError(f"downloading {where} failed: {_first_line(exc)}. Run the same command again.") from None
    try:
        info = check(path)
    except EngineError as exc:
        _forget(path)
        raise PullError(f"{where} is not a model sokuji can load, so it was removed from the cache: {exc}") from None
    return path, info, entry


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0]


def settings_line(spec: str, entry: CatalogModel | None) -> str:
    name = entry.name if entry is not None else spec
    if entry is not None and entry.purpose == "next-edit":
        return f'"sokuji": {{"nextEditModel": "{name}"}}   (next-edit suggestions; completions keep their model)'
    return (f'"sokuji": {{"model": "{name}"}}   (or for fixes only: "sokuji": {{"fixes": {{"model": "{name}"}}}}; '
            f"on the command line: --model {name})")


def pulled() -> list[tuple[str, str, str, int]]:
    """GGUF files in the Hugging Face cache: (repo, file, path, bytes). Reads the cache only."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir()
    except CacheNotFound:
        return []
    found = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for revision in repo.revisions:
            for f in revision.files:
                if f.file_name.lower().endswith(".gguf"):
                    found.append((repo.repo_id, str(f.file_path.relative_to(revision.snapshot_path)), str(f.file_path),
                                  f.size_on_disk))
    return sorted(set(found))


def label(repo: str, file: str) -> str:
    """The catalog name of a pulled file, or its REPO/FILE."""
    entry = next((m for m in CATALOG if m.repo == repo and m.file == file), None)
    return entry.name if entry is not None else f"{repo}/{file}"


COLUMNS = ("name", "Hugging Face repo / file", "quant", "size", "FIM", "RAM/VRAM", "licence", "setting")


def _row(m: CatalogModel) -> list[str]:
    setting = "nextEditModel" if m.purpose == "next-edit" else "model"
    return [m.name, f"{m.repo} / {m.file}", m.quant, f"{m.size_gb:.2f} GB", m.fim, f"{m.memory_gb():.1f} GB", m.licence,
            setting]


def catalog_markdown() -> str:
    """The catalog as docs/models-and-gpu.md shows it (`sokuji models --markdown`)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(f"`{c}`" if i == 0 else c for i, c in enumerate(_row(m))) + " |" for m in CATALOG]
    return "\n".join(lines)


def catalog_table() -> str:
    """The catalog for a terminal, downloaded ones marked."""
    rows = [["", *COLUMNS]] + [["*" if cached(m.repo, m.file) else "", *_row(m)] for m in CATALOG]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
