// Shows are reported once per request, and partial accepts are told from typing by the document changes.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AcceptanceModel, ShownSuggestion } from '../src/acceptanceModel';

const URI = 'file:///a.py';
const suggestion = (overrides: Partial<ShownSuggestion> = {}): ShownSuggestion => ({
  requestId: 7,
  uri: URI,
  anchor: 100,
  texts: ['return x + 1'],
  ...overrides,
});
const insert = (rangeOffset: number, text: string) => [{ rangeOffset, rangeLength: 0, text }];

test('a request is reported shown once, however often it is served', () => {
  const model = new AcceptanceModel();
  assert.equal(model.shown(suggestion({ texts: ['ret'] })), true);
  assert.equal(model.shown(suggestion({ texts: ['return x'] })), false);
  assert.equal(model.shown(suggestion({ requestId: 8 })), true);
  model.reset();
  assert.equal(model.shown(suggestion()), true, 'a restarted server numbers requests anew');
});

test('only the last 512 request ids are remembered', () => {
  const model = new AcceptanceModel();
  for (let id = 0; id < 513; id++) assert.equal(model.shown(suggestion({ requestId: id })), true);
  assert.equal(model.shown(suggestion({ requestId: 0 })), true);
  assert.equal(model.shown(suggestion({ requestId: 512 })), false);
});

test('word-by-word accepts report the growing accepted length', () => {
  const model = new AcceptanceModel();
  model.shown(suggestion());
  assert.deepEqual(model.onChange(URI, insert(100, 'return ')), { requestId: 7, acceptedLength: 7 });
  assert.deepEqual(model.onChange(URI, insert(107, 'x ')), { requestId: 7, acceptedLength: 9 });
  // The rest in one go is a full accept: the item's command reports that, not the change.
  assert.equal(model.onChange(URI, insert(109, '+ 1')), undefined);
});

test('a typed character that matches moves the position on without counting', () => {
  const model = new AcceptanceModel();
  model.shown(suggestion());
  assert.equal(model.onChange(URI, insert(100, 'r')), undefined);
  assert.deepEqual(model.onChange(URI, insert(101, 'eturn ')), { requestId: 7, acceptedLength: 7 });
});

test('changes elsewhere, other text, deletions and other documents end or skip the tracking', () => {
  const model = new AcceptanceModel();
  model.shown(suggestion());
  assert.equal(model.onChange('file:///other.py', insert(100, 'return')), undefined);
  assert.equal(model.onChange(URI, insert(50, 'return')), undefined, 'another position ends it');
  assert.equal(model.onChange(URI, insert(100, 'return')), undefined, 'nothing tracked any more');

  model.shown(suggestion({ requestId: 9 }));
  assert.equal(model.onChange(URI, insert(100, 'print')), undefined, 'not the suggestion');
  model.shown(suggestion({ requestId: 10 }));
  assert.equal(model.onChange(URI, [{ rangeOffset: 100, rangeLength: 3, text: 'return' }]), undefined);
});

test('an alternative cycled to is recognised too', () => {
  const model = new AcceptanceModel();
  model.shown(suggestion({ texts: ['return x + 1', 'pass  # todo'] }));
  assert.deepEqual(model.onChange(URI, insert(100, 'pass  ')), { requestId: 7, acceptedLength: 6 });
});

test('the command of a full accept ends the tracking; a new request starts afresh', () => {
  const model = new AcceptanceModel();
  model.shown(suggestion());
  model.accepted(7);
  assert.equal(model.onChange(URI, insert(100, 'return ')), undefined);
  model.shown(suggestion({ requestId: 11, anchor: 107, texts: ['x + 1'] }));
  assert.deepEqual(model.onChange(URI, insert(107, 'x + ')), { requestId: 11, acceptedLength: 4 });
});

test('the rest of a partly accepted suggestion, asked for anew, is not another show', () => {
  const model = new AcceptanceModel();
  model.shown(suggestion());
  model.onChange(URI, insert(100, 'return '));
  // VS Code asks at the new position; the answer is the rest, still growing: the same suggestion on screen.
  assert.equal(model.shown(suggestion({ requestId: 8, anchor: 107, texts: ['x'] })), false);
  assert.equal(model.shown(suggestion({ requestId: 8, anchor: 107, texts: ['x + 1'] })), false);
  assert.deepEqual(model.onChange(URI, insert(107, 'x ')), { requestId: 7, acceptedLength: 9 });
  // An answer that goes elsewhere is a new suggestion, shown.
  assert.equal(model.shown(suggestion({ requestId: 9, anchor: 109, texts: ['- 1'] })), true);
});
