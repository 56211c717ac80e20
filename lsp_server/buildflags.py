"""The CMake arguments `make setup` adds to llama-cpp-python's build: AMX left out on x86.

pip builds llama.cpp with GGML_NATIVE (-march=native), which turns on ggml's AMX matrix path
wherever the CPU has AMX (Sapphire Rapids and later Xeons) — and that path segfaults
(llama.cpp#20824, ollama#17205). gcc and clang let an explicit `-mno-amx-*` win over
-march=native whatever the order, so adding them to the C and C++ flags keeps the rest of the
native build (AVX-512, VNNI, ggml's CPU repacking) and drops only AMX.

The flags are x86 flags: ARM (Linux, Apple silicon) and Intel Macs (none has AMX) get none,
and neither does a compiler too old to know them (it cannot emit AMX either).

Run as a script (the Makefile does, before the package is installed): prints the arguments.
Standard library only for that reason.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

NO_AMX = ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16")
X86 = {"x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"}


def is_x86(machine: str) -> bool:
    return machine.lower() in X86


def cmake_args(machine: str, system: str, accepts: Callable[[str], bool]) -> list[str]:
    """CMake -D arguments for this platform; `accepts(flag)` says whether the C compiler takes it."""
    if not is_x86(machine) or system == "Darwin":
        return []
    flags = [f for f in NO_AMX if accepts(f)]
    if not flags:
        return []
    joined = " ".join(flags)
    return [f"-DCMAKE_C_FLAGS={joined}", f"-DCMAKE_CXX_FLAGS={joined}"]


def compiler_accepts(flag: str, compiler: str | None = None) -> bool:
    """Whether the C compiler CMake will pick (CC, else cc) compiles an empty file with `flag`."""
    cc = compiler or os.environ.get("CC") or "cc"
    if not shutil.which(shlex.split(cc)[0]):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        run = subprocess.run([*shlex.split(cc), flag, "-Werror", "-c", src, "-o", os.path.join(tmp, "t.o")],
                             capture_output=True)
    return run.returncode == 0


def main() -> int:
    args = cmake_args(platform.machine(), platform.system(), compiler_accepts)
    print(" ".join(shlex.quote(a) for a in args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
