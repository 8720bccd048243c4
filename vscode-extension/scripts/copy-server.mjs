// Copies the server binary into the extension (bin/rill) before packaging, stripped of debug info:
// the release profile keeps line tables (about 120 MB), which the shipped binary does not need.
// Symbols stay, so a panic backtrace still names functions (15 MB).
// Source: $RILL_SERVER_BINARY, else ../target/release/rill (built by `cargo build --release -p rill`).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.platform === 'win32' ? 'rill.exe' : 'rill';
const source = process.env.RILL_SERVER_BINARY ?? join(extensionDir, '..', 'target', 'release', name);
const target = join(extensionDir, 'bin', name);

if (!existsSync(source)) {
  console.error(`copy-server: ${source} does not exist; build it with \`cargo build --release -p rill\`.`);
  process.exit(1);
}
mkdirSync(dirname(target), { recursive: true });
copyFileSync(source, target);
try {
  execFileSync('strip', ['--strip-debug', target], { stdio: 'inherit' });
} catch {
  console.warn('copy-server: `strip` is not available; shipping the binary with its debug info.');
}
chmodSync(target, 0o755);
console.log(`copy-server: ${source} -> ${target} (${(statSync(target).size / 1e6).toFixed(1)} MB)`);
