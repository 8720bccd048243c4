// Copies the server binary into the extension (bin/rill) before packaging, stripped of debug info:
// the release profile keeps line tables (about 120 MB), which the shipped binary does not need.
// Symbols stay, so a panic backtrace still names functions (15 MB).
// Usage: node scripts/copy-server.mjs [--target linux-x64|linux-arm64] (default linux-x64).
// Source: $RILL_SERVER_BINARY, else ../target/release/rill for linux-x64 (built by
// `cargo build --release -p rill`) and ../target/aarch64-unknown-linux-gnu/release/rill for linux-arm64.
// A binary built for another CPU than the target is refused, so a .vsix never ships the wrong one.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  statSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** Per VS Code target: the Rust target folder, the ELF machine number, and the strip that reads it. */
const TARGETS = {
  'linux-x64': { cargoDir: 'release', elfMachine: 0x3e, strip: ['strip'] },
  'linux-arm64': {
    cargoDir: join('aarch64-unknown-linux-gnu', 'release'),
    elfMachine: 0xb7,
    strip: ['aarch64-linux-gnu-strip', 'strip'],
  },
};

const { values } = parseArgs({ options: { target: { type: 'string', default: 'linux-x64' } } });
const target = TARGETS[values.target];
if (target === undefined) {
  console.error(`copy-server: unknown target ${values.target}; known: ${Object.keys(TARGETS).join(', ')}`);
  process.exit(2);
}

const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = process.env.RILL_SERVER_BINARY ?? join(extensionDir, '..', 'target', target.cargoDir, 'rill');
const destination = join(extensionDir, 'bin', 'rill');

if (!existsSync(source)) {
  console.error(`copy-server: ${source} does not exist; build it with \`cargo build --release -p rill\`.`);
  process.exit(1);
}
const machine = elfMachine(source);
if (machine !== target.elfMachine) {
  console.error(
    `copy-server: ${source} is not a Linux binary for ${values.target} ` +
      `(ELF machine ${machine === undefined ? 'none' : `0x${machine.toString(16)}`}, ` +
      `expected 0x${target.elfMachine.toString(16)}).`,
  );
  process.exit(1);
}
mkdirSync(dirname(destination), { recursive: true });
copyFileSync(source, destination);
if (!strip(destination)) {
  console.warn(
    'copy-server: no `strip` for this target is available; shipping the binary with its debug info.',
  );
}
chmodSync(destination, 0o755);
console.log(
  `copy-server: ${source} -> ${destination} for ${values.target} (${(statSync(destination).size / 1e6).toFixed(1)} MB)`,
);

/** `e_machine` of an ELF file, or undefined when it is not one. */
function elfMachine(file) {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, header, 0, 20, 0) < 20) return undefined;
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1', 0, 4) !== '\x7fELF') return undefined;
  return header.readUInt16LE(18);
}

function strip(file) {
  for (const tool of target.strip) {
    try {
      execFileSync(tool, ['--strip-debug', file], { stdio: 'inherit' });
      return true;
    } catch {
      // Not installed, or it does not read this CPU's binaries: try the next.
    }
  }
  return false;
}
