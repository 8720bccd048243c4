// Status bar state and formatting: loading with progress, ready with the last measurements, errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatDuration, formatRate, formatStatus, StatusModel } from '../src/statusModel';

test('durations and rates are short and readable', () => {
  assert.equal(formatDuration(41.5), '42 ms');
  assert.equal(formatDuration(1234), '1.2 s');
  assert.equal(formatRate(180.2), '180 tok/s');
  assert.equal(formatRate(7.25), '7.3 tok/s');
});

test('starting, then loading with a percentage from $/progress', () => {
  const model = new StatusModel();
  assert.match(formatStatus(model.snapshot).text, /starting/);
  model.onLoadProgress({ kind: 'begin', message: 'reading weights' });
  assert.equal(model.snapshot.phase, 'loading');
  model.onLoadProgress({ kind: 'report', percentage: 42.4 });
  const view = formatStatus(model.snapshot);
  assert.equal(view.text, '$(sync~spin) rill: loading model 42%');
  assert.match(view.tooltip, /reading weights/);
});

test('rill/status loading keeps a percentage that arrived first', () => {
  const model = new StatusModel();
  model.onLoadProgress({ kind: 'report', percentage: 10 });
  model.onStatus({ state: 'loading' });
  assert.equal(model.snapshot.progress, 10);
});

test('ready without measurements, then with them', () => {
  const model = new StatusModel();
  model.onStatus({ state: 'loading' });
  model.onLoadProgress({ kind: 'end', message: 'model ready' });
  model.onStatus({ state: 'ready' });
  assert.equal(formatStatus(model.snapshot).text, '$(check) rill: ready');
  model.onStatus({
    state: 'ready',
    timeToFirstTokenMs: 41.5,
    tokensPerSecond: 180.2,
    generatedTokens: 17,
    promptTokens: 812,
    reusedTokens: 800,
    source: 'model',
  });
  const view = formatStatus(model.snapshot);
  assert.equal(view.text, '$(check) rill: ready · 42 ms · 180 tok/s');
  assert.match(view.tooltip, /17 tokens generated/);
  assert.match(view.tooltip, /prompt 812 tokens \(800 from cache\)/);
  assert.match(view.tooltip, /served by model/);
  assert.equal(view.severity, 'normal');
});

test('a bare ready keeps the last measurements', () => {
  const model = new StatusModel();
  model.onStatus({ state: 'ready', timeToFirstTokenMs: 900, tokensPerSecond: 12, generatedTokens: 5 });
  model.onStatus({ state: 'ready' });
  assert.equal(model.snapshot.timeToFirstTokenMs, 900);
  assert.equal(formatStatus(model.snapshot).text, '$(check) rill: ready · 900 ms · 12 tok/s');
});

test('error shows its message and the error colour', () => {
  const model = new StatusModel();
  model.onStatus({ state: 'error', message: 'no model at /x.gguf' });
  const view = formatStatus(model.snapshot);
  assert.equal(view.text, '$(error) rill: error');
  assert.match(view.tooltip, /no model at \/x\.gguf/);
  assert.equal(view.severity, 'error');
});

test('disabled shows off, and re-enabling shows ready again', () => {
  const model = new StatusModel();
  model.onStatus({ state: 'ready' });
  model.setEnabled(false);
  assert.equal(formatStatus(model.snapshot).text, '$(circle-slash) rill: off');
  model.setEnabled(true);
  assert.equal(formatStatus(model.snapshot).text, '$(check) rill: ready');
});

test('server not found and stopped', () => {
  const model = new StatusModel();
  model.notFound('not on PATH');
  let view = formatStatus(model.snapshot);
  assert.equal(view.text, '$(error) rill: no server');
  assert.match(view.tooltip, /rill\.serverPath/);
  model.stopped('exit code 1');
  view = formatStatus(model.snapshot);
  assert.equal(view.text, '$(debug-stop) rill: stopped');
  assert.match(view.tooltip, /exit code 1/);
});

test('restarting forgets the previous measurements', () => {
  const model = new StatusModel();
  model.onStatus({ state: 'ready', timeToFirstTokenMs: 50 });
  model.starting();
  assert.equal(model.snapshot.timeToFirstTokenMs, undefined);
});

test('the stats summary joins the ready tooltip and outlives state changes', () => {
  const model = new StatusModel();
  model.setStatsSummary('42% accepted (5 of 12 shown)');
  model.onStatus({ state: 'loading' });
  model.onStatus({ state: 'ready', timeToFirstTokenMs: 90 });
  assert.match(formatStatus(model.snapshot).tooltip, /; suggestions: 42% accepted \(5 of 12 shown\)\./);
  model.setStatsSummary(undefined);
  assert.doesNotMatch(formatStatus(model.snapshot).tooltip, /suggestions:/);
});
