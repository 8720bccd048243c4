// Builds the per-platform .vsix: copies the server binary for the target into bin/rill
// (scripts/copy-server.mjs) and runs `vsce package --target <target>`, so that the Marketplace and
// `code --install-extension` pick the package matching the machine. The bundle (dist/extension.js) must
// be built first (`npm run compile`).
// Usage: node scripts/package.mjs [--target linux-x64|linux-arm64] (default linux-x64)
//   -> rill-<target>-<version>.vsix
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { target: { type: 'string', default: 'linux-x64' } } });
const { version } = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
const output = `rill-${values.target}-${version}.vsix`;

const run = (command, args) => execFileSync(command, args, { cwd: extensionDir, stdio: 'inherit' });
run(process.execPath, [join(extensionDir, 'scripts', 'copy-server.mjs'), '--target', values.target]);
run(join(extensionDir, 'node_modules', '.bin', 'vsce'), [
  'package',
  '--target',
  values.target,
  '--no-dependencies',
  '--skip-license',
  '--no-rewrite-relative-links',
  '--allow-missing-repository',
  '-o',
  output,
]);
console.log(`package: ${output}`);
