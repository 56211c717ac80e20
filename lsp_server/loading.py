"""The engine the settings name: the in-process model (a GGUF file: a path, a catalog name
or REPO/FILE found in the local Hugging Face cache, never downloaded; or the embedded
default), or a remote server. Here, not in engine/, which knows engines but not the catalog."""

from __future__ import annotations

import threading
from pathlib import Path

from . import models, supervised
from .config import Settings
from .engine import amx
from .engine.base import Engine, EngineError
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
    mode = supervised.mode()  # the supervisor's step-down after repeated crashes in llama.cpp
    if mode == "noModel":
        raise ModelOff("sokuji runs without a model: llama.cpp crashed repeatedly in every safer mode. "
                       "Diagnostics and checked fixes go on; restart the editor's server to try the model again.")
    gpu_layers = -1 if settings.gpu_layers is None else settings.gpu_layers
    with _LOADING:
        if mode in ("plainBuffers", "cpu"):
            amx.load_plain()
        engine = Model(
            model_path(settings, override),
            0 if mode == "cpu" else gpu_layers,
            settings.context_size,
            kv_mode=settings.kv_cache,
            kv_budget_bytes=settings.kv_cache_mb << 20,
            kv_persist_dir=cache_dir() / "kv" if settings.kv_cache_persist else None,
        )
    supervised.activity.caps(gpu=engine.info.gpu_offload, plain=amx.plain())
    return engine


def same_model(settings: Settings, other: Settings, override: str | None = None) -> bool:
    """Whether two engines' settings name the same engine: one remote server, or one model
    file (one loaded engine then serves both). A name that does not resolve is not the same."""
    if settings.engine != "local" or other.engine != "local":
        return (settings.engine, settings.url) == (other.engine, other.url)
    try:
        return Path(model_path(settings, override)).resolve() == Path(model_path(other, override)).resolve()
    except (EngineError, OSError):
        return False


class ModelOff(EngineError):
    """The supervisor started this server without a model (supervised.MODES)."""
