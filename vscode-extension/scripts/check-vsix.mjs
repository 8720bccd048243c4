// Checks a packaged .vsix before anyone installs it: its manifest names the expected VS Code target
// platform, and extension/bin/rill inside it is a Linux binary for that platform's CPU, so the Marketplace
// never serves an arm64 machine an x64 server (or the reverse).
// Usage: node scripts/check-vsix.mjs FILE.vsix linux-x64|linux-arm64
// A .vsix is a zip; node has no zip reader, so the central directory is read here (no zip64, which
// vsce does not write for packages this small).
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

/** ELF machine numbers per VS Code target (EM_X86_64, EM_AARCH64). */
const MACHINES = { 'linux-x64': 0x3e, 'linux-arm64': 0xb7 };

const [file, target] = process.argv.slice(2);
if (!file || !(target in MACHINES)) {
  console.error(`usage: check-vsix.mjs FILE.vsix ${Object.keys(MACHINES).join('|')}`);
  process.exit(2);
}
const zip = readFileSync(file);

/** Every entry's name → its uncompressed bytes (stored or deflated). */
function entries() {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error(`${file} is not a zip file`);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const found = new Map();
  for (let i = 0; i < count; i += 1) {
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    found.set(name, () => {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      return method === 0 ? data : inflateRawSync(data);
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return found;
}

const inside = entries();
const manifest = inside.get('extension.vsixmanifest');
const server = inside.get('extension/bin/rill');
const problems = [];
if (!manifest) {
  problems.push('no extension.vsixmanifest');
} else if (!manifest().toString('utf8').includes(`TargetPlatform="${target}"`)) {
  problems.push(`the manifest does not name TargetPlatform="${target}"`);
}
if (!server) {
  problems.push('no extension/bin/rill');
} else {
  const binary = server();
  const isElf = binary.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  if (!isElf || binary.readUInt16LE(18) !== MACHINES[target]) {
    problems.push(`extension/bin/rill is not a Linux binary for ${target}`);
  }
}
if (problems.length > 0) {
  console.error(`check-vsix: ${file}: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`check-vsix: ${file} is a ${target} package with a ${target} server`);
