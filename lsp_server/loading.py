"""The engine the settings name: the in-process model (a GGUF file: a path, a catalog name
or REPO/FILE found in the local Hugging Face cache, never downloaded; or the embedded
default), or a remote server. Here, not in engine/, which knows engines but not the catalog."""

from __future__ import annotations

import threading

from . import models
from .config import Settings
from .engine.base import Engine
from .engine.embedded import cache_dir
from .engine.model import Model
from .engine.remote import RemoteEngine

# llama-cpp-python's load swaps the process-wide sys.stderr (model.py catches its chatter):
# two at once, on the engine and the loader threads, could leave it swapped. One local load at a time.
_LOADING = threading.Lock()


def model_path(settings: Settings, override: str | None = None) -> str:
    """The GGUF file to load: settings, then the command line, then the embedded default."""
    return models.resolve(settings.model or override)


def load_engine(settings: Settings, override: str | None = None) -> Engine:
    if settings.engine != "local":
        return RemoteEngine(settings.engine, settings.url, settings.api_key_env, settings.timeout_ms / 1000, settings.context_size)
    with _LOADING:
        return Model(
            model_path(settings, override),
            -1 if settings.gpu_layers is None else settings.gpu_layers,
            settings.context_size,
            kv_mode=settings.kv_cache,
            kv_budget_bytes=settings.kv_cache_mb << 20,
            kv_persist_dir=cache_dir() / "kv" if settings.kv_cache_persist else None,
        )
