# sokuji: `make demo` (set up, then complete an example file on the embedded model),
# `make test` (set up, then run the tests). Both create the virtual environment at .venv.

PYTHON ?= python3
VENV := .venv
# Parts of llama.cpp that sokuji does not use (multimodal, tools, examples, tests): leaving
# them out cut the cold llama-cpp-python build from ~21 to ~4 minutes on 2 cores.
LLAMA_SLIM := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
              -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
# x86: ggml's AMX path (on by -march=native where the CPU has AMX) segfaults; the build leaves
# it out (lsp_server/buildflags.py says why and when). Empty on ARM and macOS.
LLAMA_CPU := $(shell $(PYTHON) lsp_server/buildflags.py)
CMAKE_ARGS ?=

.PHONY: setup demo test doctor cuda metal

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	CMAKE_ARGS="$(LLAMA_SLIM) $(LLAMA_CPU) $(CMAKE_ARGS)" $(VENV)/bin/pip install -e ".[test]"
	@# pip's wheel cache ignores CMAKE_ARGS: a wheel built here before with AMX would be reused.
	$(VENV)/bin/python -m lsp_server.engine.amx --check-build "$(LLAMA_CPU)" || \
	  CMAKE_ARGS="$(LLAMA_SLIM) $(LLAMA_CPU) $(CMAKE_ARGS)" \
	  $(VENV)/bin/pip install --force-reinstall --no-cache-dir --no-deps "llama-cpp-python>=0.3.36"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/sokuji complete examples/fibonacci.py --line 8 --col 5

test: setup
	$(VENV)/bin/python -m pytest -q

doctor: setup
	$(VENV)/bin/sokuji doctor

# Rebuild llama-cpp-python with CUDA (needs the CUDA toolkit): pip would otherwise reuse
# the cached CPU wheel. Kernels are built for this machine's own GPU (`native`; CMake >= 3.24,
# the GPU visible while building): every architecture would multiply the build time. For
# other GPUs name them, e.g. `make cuda CUDA_ARCHITECTURES="80;90"`. All cores compile.
CUDA_ARCHITECTURES ?= native
JOBS ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 4)

cuda: setup
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) \
	CMAKE_ARGS="$(LLAMA_SLIM) $(LLAMA_CPU) -DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCHITECTURES) $(CMAKE_ARGS)" \
	  $(VENV)/bin/pip install --force-reinstall --no-cache-dir --no-deps "llama-cpp-python>=0.3.36"

# Rebuild llama-cpp-python with Metal (macOS; recent builds enable it by default on Apple silicon).
metal: setup
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) CMAKE_ARGS="$(LLAMA_SLIM) -DGGML_METAL=on $(CMAKE_ARGS)" \
	  $(VENV)/bin/pip install --force-reinstall --no-cache-dir --no-deps "llama-cpp-python>=0.3.36"
