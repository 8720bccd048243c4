// What package.json contributes besides the settings. The `rill.*` settings are generated from the
// server's key declarations (server/src/config/keys.rs); server/tests/settings_generated.rs fails when
// package.json's copy differs from them.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8'));

test('the commands the brief names are contributed', () => {
  const ids = (pkg.contributes.commands as Array<{ command: string }>).map((c) => c.command);
  for (const id of [
    'rill.enable',
    'rill.disable',
    'rill.toggle',
    'rill.triggerSuggestion',
    'rill.restartServer',
    'rill.showLog',
    'rill.showStats',
    'rill.downloadModel',
  ]) {
    assert.ok(ids.includes(id), `${id} missing`);
  }
});

test('the accept command is run by VS Code, not offered in the command palette', () => {
  const ids = (pkg.contributes.commands as Array<{ command: string }>).map((c) => c.command);
  assert.ok(!ids.includes('rill.didAcceptCompletion'));
});

test('the .vsix is built per platform, for linux-x64 by default', () => {
  assert.match(pkg.scripts.package as string, /scripts\/package\.mjs/);
  const script = fs.readFileSync(path.resolve(__dirname, '..', '..', 'scripts', 'package.mjs'), 'utf8');
  assert.match(script, /'linux-x64'/);
  assert.match(script, /--target/);
});

test('Tab and Esc reach the next edit only while its marker or preview is shown', () => {
  const bindings = pkg.contributes.keybindings as Array<{ command: string; key: string; when: string }>;
  const jump = bindings.find((b) => b.command === 'rill.nextEdit.jump');
  const accept = bindings.find((b) => b.command === 'rill.nextEdit.accept');
  const dismiss = bindings.find((b) => b.command === 'rill.nextEdit.dismiss');
  assert.equal(jump?.key, 'tab');
  assert.equal(accept?.key, 'tab');
  assert.match(accept?.when ?? '', /\brill\.nextEditPreviewVisible\b/);
  assert.equal(dismiss?.key, 'escape');
  for (const when of [jump?.when ?? '', dismiss?.when ?? '']) {
    assert.match(when, /\brill\.nextEditVisible\b/);
  }
  // Tab and Esc stay VS Code's while a suggestion of its own is on screen.
  for (const clause of ['!inlineSuggestionVisible', '!suggestWidgetVisible']) {
    assert.ok(jump?.when.includes(clause), `${clause} missing`);
    assert.ok(accept?.when.includes(clause), `${clause} missing`);
    assert.ok(dismiss?.when.includes(clause), `${clause} missing`);
  }
});
