"""ggml's AMX path, checked at run time: a llama.cpp built elsewhere (a wheel from another
machine, `make cuda`, an old pip cache) may still have it, and on a CPU with AMX it
segfaults in ggml_backend_amx_mul_mat (llama.cpp#20824). Such a build loads its models
without extra buffer types (`use_extra_bufts = false`): no weight goes to the AMX buffer, so
no AMX kernel runs. `make setup` builds without AMX on x86 (lsp_server/buildflags.py).

`python -m lsp_server.engine.amx --check-build ARGS`: exit 1 when the Makefile passed the
no-AMX flags (ARGS non-empty) but the installed build has AMX anyway (a cached wheel).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

_lock = threading.Lock()
_plain = False  # models load without extra buffer types from now on


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has AMX (int8 tiles: what ggml's path uses). Linux only: no Mac has AMX."""
    try:
        with cpuinfo.open() as f:
            return any(line.startswith("flags") and "amx_int8" in line.split() for line in f)
    except OSError:
        return False


def system_info() -> str:
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode(errors="replace").strip()


def build_has_amx(info: str) -> bool:
    """Whether llama.cpp's system info says its CPU backend was built with AMX."""
    return "AMX_INT8 = 1" in info


def at_risk() -> bool:
    """This build would run ggml's AMX kernels on this CPU."""
    return cpu_has_amx() and build_has_amx(system_info())


def load_plain() -> None:
    """From now on every model in this process loads without extra buffer types.

    llama-cpp-python 0.3.36 builds llama_model_params inside Llama.__init__ from
    llama_model_default_params() and takes no argument for the flag, so the defaults it
    reads are wrapped, once, process-wide (a decision for the whole process anyway)."""
    global _plain
    import llama_cpp.llama_cpp as lib

    with _lock:
        if _plain:
            return
        defaults = lib.llama_model_default_params

        def plain_defaults():
            params = defaults()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = plain_defaults
        _plain = True


def plain() -> bool:
    return _plain


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--check-build":
        if argv[1].strip() and build_has_amx(system_info()):
            print("sokuji: the installed llama-cpp-python has AMX although the build left it out: "
                  "a wheel from pip's cache; rebuilding it", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m lsp_server.engine.amx --check-build CMAKE_ARGS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
