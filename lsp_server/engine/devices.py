"""Which compute devices this llama.cpp build sees (ggml's backend registry), for `doctor`
and for warning when the settings ask for a GPU the build cannot use.

llama-cpp-python does not bind the registry, so its few C functions are declared here
against the ggml libraries that ship inside the llama_cpp package.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

KINDS = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}  # enum ggml_backend_dev_type


@dataclass(frozen=True)
class Device:
    name: str
    description: str
    kind: str
    free_bytes: int
    total_bytes: int


def _libs() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    import llama_cpp  # loads the libraries first, with their own search paths

    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    ggml = ctypes.CDLL(str(lib_dir / "libggml.so"))
    base = ctypes.CDLL(str(lib_dir / "libggml-base.so"))
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(base, name).argtypes = [ctypes.c_void_p]
        getattr(base, name).restype = ctypes.c_char_p
    base.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    base.ggml_backend_dev_type.restype = ctypes.c_int
    size_p = ctypes.POINTER(ctypes.c_size_t)
    base.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, size_p, size_p]
    base.ggml_backend_dev_memory.restype = None
    return ggml, base


def devices() -> list[Device]:
    """Every device the build can run on; [] when the registry cannot be read."""
    try:
        ggml, base = _libs()
    except (OSError, AttributeError):
        return []
    found = []
    for i in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        base.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(
            Device(
                name=base.ggml_backend_dev_name(dev).decode(errors="replace"),
                description=base.ggml_backend_dev_description(dev).decode(errors="replace"),
                kind=KINDS.get(base.ggml_backend_dev_type(dev), "other"),
                free_bytes=free.value,
                total_bytes=total.value,
            )
        )
    return found


def gpu_warning(gpu_layers: int | None, offload_supported: bool) -> str | None:
    """A warning when the user asked for GPU layers this build cannot offload.

    None (the default) means "every layer on the GPU when there is one": no warning on a
    CPU build. 0 asks for the CPU explicitly.
    """
    if gpu_layers is None or gpu_layers == 0 or offload_supported:
        return None
    wanted = "all layers" if gpu_layers < 0 else f"{gpu_layers} layers"
    return (
        f"sokuji: gpuLayers asks for {wanted} on a GPU, but this llama-cpp-python build has no GPU "
        "offload; running on the CPU. Rebuild it with CMAKE_ARGS=\"-DGGML_CUDA=on\" (see docs/models-and-gpu.md, GPU)."
    )
