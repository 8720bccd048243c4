#!/usr/bin/env bash
# Installs llama-cpp-python (llama.cpp's Python bindings, which bundle and compile llama.cpp itself,
# with the `server` extra: `python -m llama_cpp.server`, an OpenAI-compatible HTTP server)
# into a virtualenv OUTSIDE the repository, for benches/llama_cpp_bench.py and benches/compare.py:
#
#     ${XDG_CACHE_HOME:-$HOME/.cache}/rill/llama-cpp-venv
#
# PyPI ships llama-cpp-python as a source distribution only, so pip compiles llama.cpp from the
# bundled sources with CMake (CPU only, no BLAS, no GPU back end). That takes about 12 minutes on
# two idle cores, longer while other builds share them. Nothing is written into the repository.
#
# Idempotent: when the venv already imports llama_cpp at the pinned version, built with the flags
# below (recorded in the venv), and generates a token without crashing, it does nothing.
#
# Environment:
#   RILL_LLAMA_CPP_VENV    another venv location
#   RILL_LLAMA_CPP_VERSION another llama-cpp-python version (default: the pin below)
#   CMAKE_BUILD_PARALLEL_LEVEL  compile jobs (default: the number of cores)
#   PYTHON                 the interpreter that creates the venv (default: python3)
#
# Usage: scripts/install-llama-cpp.sh   (progress goes to stderr; prints the venv's python on stdout)
set -euo pipefail

VERSION="${RILL_LLAMA_CPP_VERSION:-0.3.36}"
VENV="${RILL_LLAMA_CPP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rill/llama-cpp-venv}"
PYTHON="${PYTHON:-python3}"
VPY="$VENV/bin/python"

log() { printf 'install-llama-cpp: %s\n' "$*" >&2; }

# CPU-only: no CUDA/Metal/Vulkan/BLAS back end; native SIMD as llama.cpp's default build does,
# except Intel AMX: with AMX compiled in (Sapphire Rapids and later), llama-cpp-python 0.3.36
# crashes with SIGSEGV on its first generated token (seen on this project's CI machine kind).
# Explicit -mno-* options win over -march=native in GCC whatever their order.
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
BUILD_FLAGS="-DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_BLAS=OFF -DGGML_NATIVE=ON -DLLAMA_CURL=OFF"
FLAGS_FILE="$VENV/rill-llama-cpp-build-flags"

# One generated token from the default model, when it is there: a build that crashes is no build.
generates() {
    local model="${XDG_CACHE_HOME:-$HOME/.cache}/rill/models/gemma-3-270m-q4_k_m.gguf"
    [ -f "$model" ] || return 0
    RILL_SMOKE_MODEL="$model" "$VPY" -c '
import os
from llama_cpp import Llama
model = Llama(model_path=os.environ["RILL_SMOKE_MODEL"], n_threads=1, n_ctx=64, verbose=False)
model("def", max_tokens=1)
' >/dev/null 2>&1
}

installed_version() {
    [ -x "$VPY" ] || return 1
    # The OpenAI-compatible server (the `server` extra) is part of what the tests need.
    "$VPY" -c 'import llama_cpp, llama_cpp.server.app, sys; sys.stdout.write(llama_cpp.__version__)' 2>/dev/null
}

if have="$(installed_version)" && [ "$have" = "$VERSION" ] \
    && [ "$(cat "$FLAGS_FILE" 2>/dev/null)" = "$BUILD_FLAGS $NO_AMX" ] && generates; then
    log "llama-cpp-python $VERSION already importable in $VENV; nothing to do"
    echo "$VPY"
    exit 0
fi

if [ ! -x "$VPY" ]; then
    log "creating virtualenv $VENV with $("$PYTHON" --version 2>&1)"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
else
    log "reusing virtualenv $VENV (llama_cpp ${have:-not importable}, want $VERSION)"
fi

log "upgrading pip in the venv"
"$VPY" -m pip install --quiet --upgrade pip >&2

# scikit-build-core splits CMAKE_ARGS like a shell: the escaped spaces keep each flags list whole.
escaped_no_amx="${NO_AMX// /\\ }"
export CMAKE_ARGS="${CMAKE_ARGS:-} $BUILD_FLAGS -DCMAKE_C_FLAGS=$escaped_no_amx -DCMAKE_CXX_FLAGS=$escaped_no_amx"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
export FORCE_CMAKE=1

log "building llama-cpp-python==$VERSION from source (CMAKE_ARGS:$CMAKE_ARGS," \
    "$CMAKE_BUILD_PARALLEL_LEVEL jobs); this compiles llama.cpp and takes ~12 minutes on 2 cores"
start=$(date +%s)
# --no-binary only for llama-cpp-python itself: its build tools (cmake, ninja, scikit-build-core)
# come as wheels. --no-cache-dir keeps pip from caching a wheel built for this CPU.
"$VPY" -m pip install --no-cache-dir --no-binary llama-cpp-python --force-reinstall --verbose \
    "llama-cpp-python[server]==$VERSION" >&2
log "built and installed in $(( $(date +%s) - start )) s"

have="$(installed_version)" || { log "error: llama_cpp still cannot be imported from $VPY"; exit 1; }
if [ "$have" != "$VERSION" ]; then
    log "error: venv has llama_cpp $have, expected $VERSION"
    exit 1
fi
if ! generates; then
    log "error: llama_cpp $have crashes when it generates a token (CMAKE_ARGS:$CMAKE_ARGS)"
    exit 1
fi
echo "$BUILD_FLAGS $NO_AMX" > "$FLAGS_FILE"
log "ok: llama-cpp-python $have in $VENV"
echo "$VPY"
