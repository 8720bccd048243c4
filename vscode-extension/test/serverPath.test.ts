// Server path resolution: setting, then the bundled binary, then PATH, and a fixable error otherwise.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { expandHome, resolveServerPath, ResolveInput } from '../src/serverPath';

function input(executables: string[], overrides: Partial<ResolveInput> = {}): ResolveInput {
  return {
    configured: undefined,
    extensionPath: '/ext',
    envPath: '/usr/local/bin:/usr/bin',
    home: '/home/u',
    platform: 'linux',
    isExecutable: (file) => executables.includes(file),
    ...overrides,
  };
}

test('the setting wins over the bundled binary and PATH', () => {
  const result = resolveServerPath(
    input(['/opt/rill', '/ext/bin/rill', '/usr/bin/rill'], { configured: '/opt/rill' }),
  );
  assert.deepEqual(result, { ok: true, path: '/opt/rill', source: 'setting' });
});

test('a setting that points nowhere is an error, not a silent fallback', () => {
  const result = resolveServerPath(input(['/ext/bin/rill'], { configured: '/opt/missing' }));
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.message.includes('rill.serverPath'));
  assert.ok(!result.ok && result.message.includes('/opt/missing'));
});

test('a leading ~ in the setting is the home folder', () => {
  const result = resolveServerPath(input(['/home/u/bin/rill'], { configured: '~/bin/rill' }));
  assert.deepEqual(result, { ok: true, path: '/home/u/bin/rill', source: 'setting' });
  assert.equal(expandHome('~', '/home/u'), '/home/u');
  assert.equal(expandHome('/a/~/b', '/home/u'), '/a/~/b');
});

test('a blank setting counts as unset', () => {
  const result = resolveServerPath(input(['/ext/bin/rill'], { configured: '   ' }));
  assert.deepEqual(result, { ok: true, path: '/ext/bin/rill', source: 'bundled' });
});

test('the bundled binary comes before PATH', () => {
  const result = resolveServerPath(input(['/ext/bin/rill', '/usr/bin/rill']));
  assert.deepEqual(result, { ok: true, path: '/ext/bin/rill', source: 'bundled' });
});

test('PATH is searched in order', () => {
  const result = resolveServerPath(input(['/usr/bin/rill', '/usr/local/bin/rill']));
  assert.deepEqual(result, { ok: true, path: '/usr/local/bin/rill', source: 'path' });
});

test('Windows looks for rill.exe and splits PATH on ;', () => {
  const result = resolveServerPath(
    input(['C:\\tools/rill.exe'], { platform: 'win32', envPath: 'C:\\nothing;C:\\tools' }),
  );
  assert.equal(result.ok, true);
  assert.ok(result.ok && result.path.endsWith('rill.exe'));
});

test('nothing found: the message says how to fix it and lists where it looked', () => {
  const result = resolveServerPath(input([]));
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.match(result.message, /rill\.serverPath/);
    assert.match(result.message, /cargo build --release -p rill/);
    assert.deepEqual(result.tried, ['/ext/bin/rill', '/usr/local/bin/rill', '/usr/bin/rill']);
  }
});
