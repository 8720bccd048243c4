// The fetch's JSON progress lines become a message with MB figures and a bar that only moves forward.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describe, FetchProgress, formatMb, parseFetchLine } from '../src/fetchProgress';

test('parses progress lines and rejects anything else', () => {
  assert.deepEqual(parseFetchLine('{"stage":"download","bytesDone":5,"bytesTotal":null,"message":"m"}'), {
    stage: 'download',
    bytesDone: 5,
    bytesTotal: null,
    message: 'm',
  });
  assert.deepEqual(parseFetchLine('{"stage":"done","bytesDone":1,"bytesTotal":1,"path":"/m.gguf"}'), {
    stage: 'done',
    bytesDone: 1,
    bytesTotal: 1,
    path: '/m.gguf',
  });
  assert.equal(parseFetchLine('Collecting gemma3'), undefined);
  assert.equal(parseFetchLine('{"stage":"dance"}'), undefined);
  assert.equal(parseFetchLine('42'), undefined);
});

test('messages give the stage and MB done of the total', () => {
  assert.equal(formatMb(253_113_024), '253 MB');
  assert.equal(formatMb(1_500_000), '1.5 MB');
  assert.equal(
    describe({ stage: 'download', bytesDone: 120_000_000, bytesTotal: 253_113_024 }),
    'downloading 120 of 253 MB',
  );
  assert.equal(
    describe({ stage: 'download', bytesDone: 0, bytesTotal: 253_113_024 }),
    'downloading 0 of 253 MB',
  );
  assert.equal(
    describe({ stage: 'assemble', bytesDone: 400_000, bytesTotal: 1_500_000 }),
    'assembling 0.4 of 1.5 MB',
  );
  assert.equal(describe({ stage: 'download', bytesDone: 2_000_000, bytesTotal: null }), 'downloading 2.0 MB');
  assert.equal(describe({ stage: 'check', bytesDone: 0, bytesTotal: null }), 'checking the cache');
  assert.equal(describe({ stage: 'verify', message: 'sha256' }), 'verifying: sha256');
  assert.equal(describe({ stage: 'done', path: '/c/m.gguf' }), 'done: /c/m.gguf');
  assert.equal(describe({ stage: 'error', message: 'pip could not' }), 'failed: pip could not');
});

test('increments add up to 100 over the stages and never go back', () => {
  const bar = new FetchProgress();
  const total = 200;
  const steps = [
    bar.update({ stage: 'check', bytesDone: 0, bytesTotal: null }),
    bar.update({ stage: 'download', bytesDone: 0, bytesTotal: null }),
    bar.update({ stage: 'download', bytesDone: 100, bytesTotal: total }),
    bar.update({ stage: 'download', bytesDone: 50, bytesTotal: total }),
    bar.update({ stage: 'download', bytesDone: 200, bytesTotal: total }),
    bar.update({ stage: 'assemble', bytesDone: 100, bytesTotal: total }),
    bar.update({ stage: 'verify', bytesDone: 0, bytesTotal: total }),
    bar.update({ stage: 'done', bytesDone: 200, bytesTotal: total, path: '/m' }),
  ];
  const increments = steps.map((step) => step.increment ?? 0);
  assert.ok(increments.every((increment) => increment >= 0));
  assert.equal(increments[2], 40);
  assert.equal(increments[3], 0, 'a lower count does not move the bar back');
  assert.equal(Math.round(increments.reduce((a, b) => a + b, 0)), 100);
  assert.equal(bar.update({ stage: 'error', message: 'x' }).increment, undefined);
});
