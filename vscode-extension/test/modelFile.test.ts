// A set rill.model.path is checked in words: missing, a folder, not GGUF, or fine.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { checkModelFile, isModelLoadMessage, isNoModelMessage } from '../src/modelFile';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rill-model-file-'));
const gguf = path.join(dir, 'm.gguf');
fs.writeFileSync(gguf, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(16)]));
const text = path.join(dir, 'notes.txt');
fs.writeFileSync(text, 'hello world');
const tiny = path.join(dir, 'tiny');
fs.writeFileSync(tiny, 'GG');

test('a GGUF file passes, relative to the base folder and under ~ too', async () => {
  assert.deepEqual(await checkModelFile(gguf, '/nowhere', undefined), { ok: true, file: gguf });
  assert.equal((await checkModelFile('m.gguf', '/nowhere', dir)).ok, true);
  assert.equal((await checkModelFile('~/m.gguf', dir, undefined)).ok, true);
});

test('a missing file, a folder and another kind of file are said in words', async () => {
  const missing = await checkModelFile(path.join(dir, 'none.gguf'), '/h', undefined);
  assert.equal(missing.ok, false);
  assert.ok(!missing.ok && missing.problem === 'missing');
  assert.match(
    !missing.ok ? missing.message : '',
    /rill\.model\.path is set to ".*none\.gguf", but there is no file there/,
  );
  const folder = await checkModelFile(dir, '/h', undefined);
  assert.ok(!folder.ok && folder.problem === 'notFile');
  for (const file of [text, tiny]) {
    const result = await checkModelFile(file, '/h', undefined);
    assert.ok(!result.ok && result.problem === 'notGguf', file);
    assert.match(!result.ok ? result.message : '', /not a GGUF model file/);
  }
});

test('a relative path without a base folder is left to the server', async () => {
  assert.equal((await checkModelFile('models/x.gguf', '/h', undefined)).ok, true);
});

test("the server's reports are recognised", () => {
  const status =
    'no model found at /c/rill/models/gemma-3-270m-q4_k_m.gguf; fetch the default model with ' +
    '`python3 scripts/fetch-model.py` (or `rill model fetch`), or point `--model`/`RILL_MODEL` at a GGUF file';
  assert.ok(isNoModelMessage(status));
  assert.ok(isNoModelMessage(`rill: cannot load the model: ${status}`));
  assert.ok(!isNoModelMessage('rill: cannot load the model: model file /x is not a valid GGUF file: magic'));
  assert.ok(!isNoModelMessage(undefined));
  assert.ok(isModelLoadMessage('rill: cannot load the model: model file /x is not a valid GGUF file: m'));
});
