"""The build leaves ggml's AMX path out on x86 only (lsp_server/buildflags.py), and the run
time guard reads the CPU and the build (lsp_server/engine/amx.py)."""

import platform
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_server import buildflags
from lsp_server.engine import amx

ROOT = Path(__file__).resolve().parents[2]
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
everything = lambda flag: True  # noqa: E731  (a compiler that knows every flag)


@pytest.mark.parametrize(("machine", "system"), [("x86_64", "Linux"), ("AMD64", "Windows"), ("i686", "Linux")])
def test_x86_builds_leave_amx_out_of_c_and_cxx(machine, system):
    assert buildflags.cmake_args(machine, system, everything) == [f"-DCMAKE_C_FLAGS={NO_AMX}", f"-DCMAKE_CXX_FLAGS={NO_AMX}"]


@pytest.mark.parametrize(("machine", "system"), [("aarch64", "Linux"), ("arm64", "Darwin"), ("x86_64", "Darwin"),
                                                 ("ppc64le", "Linux"), ("riscv64", "Linux")])
def test_arm_macos_and_others_get_no_flag(machine, system):
    """ARM compilers reject -mno-amx-*; no Intel Mac has AMX (and Apple's clang need not know the flags)."""
    assert buildflags.cmake_args(machine, system, everything) == []


def test_a_compiler_that_does_not_know_amx_gets_no_flag():
    assert buildflags.cmake_args("x86_64", "Linux", lambda flag: False) == []
    only_tile = buildflags.cmake_args("x86_64", "Linux", lambda flag: flag == "-mno-amx-tile")
    assert only_tile == ["-DCMAKE_C_FLAGS=-mno-amx-tile", "-DCMAKE_CXX_FLAGS=-mno-amx-tile"]


def test_the_script_prints_arguments_scikit_build_splits_back():
    """The Makefile puts the output into CMAKE_ARGS, which scikit-build-core splits with shlex."""
    out = subprocess.run([sys.executable, str(ROOT / "lsp_server" / "buildflags.py")], capture_output=True, text=True,
                         check=True).stdout.strip()
    expected = buildflags.cmake_args(platform.machine(), platform.system(), buildflags.compiler_accepts)
    assert shlex.split(out) == expected


def test_this_compiler_is_asked_for_real():
    assert not buildflags.compiler_accepts("-mno-such-flag-at-all")
    if buildflags.is_x86(platform.machine()):
        assert buildflags.compiler_accepts("-mno-amx-tile")  # gcc >= 11, clang >= 11


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile amx_int8\n")
    assert amx.cpu_has_amx(info)
    info.write_text("processor: 0\nflags\t\t: fpu sse avx512f avx512_vnni\n")
    assert not amx.cpu_has_amx(info)
    assert not amx.cpu_has_amx(tmp_path / "missing")


def test_build_with_amx_recognised_from_system_info():
    assert amx.build_has_amx("CPU : AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |")
    assert not amx.build_has_amx("CPU : AVX512 = 1 | AVX512_VNNI = 1 | REPACK = 1 |")


def test_the_installed_build_passes_the_makefiles_check():
    """`make setup` rebuilds a wheel that came from pip's cache with AMX; this one must not have it."""
    flags = subprocess.run([sys.executable, str(ROOT / "lsp_server" / "buildflags.py")], capture_output=True,
                           text=True, check=True).stdout.strip()
    check = subprocess.run([sys.executable, "-m", "lsp_server.engine.amx", "--check-build", flags], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    if flags:
        assert "AMX_INT8" not in amx.system_info()


def test_loading_plain_sets_the_flag_llama_cpp_reads_in_a_fresh_process():
    code = ("import llama_cpp.llama_cpp as lib\n"
            "from lsp_server.engine import amx\n"
            "assert lib.llama_model_default_params().use_extra_bufts\n"
            "amx.load_plain(); amx.load_plain()\n"
            "assert not lib.llama_model_default_params().use_extra_bufts and amx.plain()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
