// The ghost-text state: cumulative partials, ordering rules, routing by document and position, and the
// waits the provider blocks on.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PartialParams } from '../src/protocol';
import { RequestKey, StreamStore } from '../src/streamStore';

const KEY: RequestKey = { uri: 'file:///a.py', version: 3, line: 2, character: 4 };

function partial(seq: number, text: string, overrides: Partial<PartialParams> = {}): PartialParams {
  return {
    requestId: 7,
    uri: KEY.uri,
    version: KEY.version,
    seq,
    items: [
      {
        insertText: text,
        range: {
          start: { line: KEY.line, character: KEY.character },
          end: { line: KEY.line, character: KEY.character },
        },
      },
    ],
    ...overrides,
  };
}

test('partials replace the text (cumulative, not appended)', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  assert.equal(store.acceptPartial(partial(1, 'return')), session);
  assert.equal(store.acceptPartial(partial(2, 'return a +')), session);
  assert.equal(session.text, 'return a +');
  assert.equal(session.partialCount, 2);
});

test('out-of-order, repeated and unchanged partials are dropped', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  store.acceptPartial(partial(2, 'return a'));
  assert.equal(store.acceptPartial(partial(1, 'ret')), undefined);
  assert.equal(store.acceptPartial(partial(2, 'return a + b')), undefined);
  assert.equal(store.acceptPartial(partial(3, 'return a')), undefined, 'same text: nothing to redraw');
  assert.equal(session.text, 'return a');
});

test('a session follows the first request id it sees', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  store.acceptPartial(partial(1, 'x = 1'));
  assert.equal(store.acceptPartial(partial(5, 'y = 2', { requestId: 8 })), undefined);
  assert.equal(session.text, 'x = 1');
});

test('partials for another document, version or position are ignored', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  assert.equal(store.acceptPartial(partial(1, 'a', { uri: 'file:///b.py' })), undefined);
  assert.equal(store.acceptPartial(partial(1, 'a', { version: 4 })), undefined);
  const moved = partial(1, 'a');
  moved.items[0]!.range!.start.character = 5;
  assert.equal(store.acceptPartial(moved), undefined);
  assert.equal(session.text, undefined);
});

test('the URI is compared after normalisation', () => {
  const store = new StreamStore();
  store.start({ ...KEY, uri: 'file:///a%20b.py' });
  const accepted = store.acceptPartial(partial(1, 'z', { uri: 'file:///a b.py' }), (uri) =>
    uri.replace(/ /g, '%20'),
  );
  assert.equal(accepted?.text, 'z');
});

test('the response settles the text and nothing is accepted after it', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  store.acceptPartial(partial(1, 'return a'));
  assert.equal(session.finish('return a + b'), true);
  assert.equal(session.text, 'return a + b');
  assert.equal(store.acceptPartial(partial(2, 'return a + b + c')), undefined);
  assert.equal(session.finish('other'), false, 'a second response is ignored');
  assert.equal(session.text, 'return a + b');
});

test('a response equal to the last partial is no change', () => {
  const session = new StreamStore().start(KEY);
  session.offerPartial(partial(1, 'pass'));
  assert.equal(session.finish('pass'), false);
  assert.equal(session.done, true);
});

test('an empty response clears a partial (the server settled on nothing)', () => {
  const session = new StreamStore().start(KEY);
  session.offerPartial(partial(1, 'pass'));
  assert.equal(session.finish(undefined), true);
  assert.equal(session.text, undefined);
});

test('lookup finds only the same document version and position', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  assert.equal(store.lookup({ ...KEY }), session);
  assert.equal(store.lookup({ ...KEY, version: 4 }), undefined);
  assert.equal(store.lookup({ ...KEY, character: 5 }), undefined);
});

test('starting a new session abandons the previous one and releases its waiters', async () => {
  const store = new StreamStore();
  const first = store.start(KEY);
  const waiting = first.nextChange();
  assert.equal(first.waiting, 1);
  const second = store.start({ ...KEY, version: 4 });
  await waiting;
  assert.equal(first.abandoned, true);
  assert.equal(store.current, second);
  assert.equal(store.acceptPartial(partial(1, 'late')), undefined, 'old version no longer routed');
});

test('nextChange resolves on the next partial', async () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  let resolved = false;
  const waiting = session.nextChange().then(() => (resolved = true));
  await Promise.resolve();
  assert.equal(resolved, false);
  store.acceptPartial(partial(1, 'for'));
  await waiting;
  assert.equal(resolved, true);
  assert.equal(session.waiting, 0);
});

test('nextChange resolves when the caller cancels, and the waiter is removed', async () => {
  const session = new StreamStore().start(KEY);
  let cancel: (() => void) | undefined;
  const waiting = session.nextChange((c) => (cancel = c));
  assert.equal(session.waiting, 1);
  cancel?.();
  await waiting;
  assert.equal(session.waiting, 0);
  assert.equal(session.text, undefined);
});

test('nextChange on a finished session does not block', async () => {
  const session = new StreamStore().start(KEY);
  session.finish('done');
  await session.nextChange();
  assert.equal(session.waiting, 0);
});

test('clear forgets the session', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  store.clear();
  assert.equal(store.current, undefined);
  assert.equal(session.abandoned, true);
});

test('needsRedraw: the editor is behind until the current text was served', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  assert.equal(session.needsRedraw, false, 'nothing known, nothing shown');
  store.acceptPartial(partial(1, 'return'));
  assert.equal(session.needsRedraw, true);
  session.markServed(['return']);
  assert.equal(session.needsRedraw, false);
  store.acceptPartial(partial(2, 'return a'));
  assert.equal(session.needsRedraw, true, 'a newer partial must reach the editor');
  session.markServed(['return a']);
  session.finish(undefined);
  assert.equal(session.needsRedraw, true, 'a withdrawn suggestion must be taken off the screen');
  session.markServed([]);
  assert.equal(session.needsRedraw, false);
});

test('the response keeps every item: the streamed text first, then the alternatives in rank order', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  store.acceptPartial(partial(1, 'if n < 2:'));
  assert.deepEqual(session.items, ['if n < 2:']);
  session.finish('if n < 2:\n        return n', ['a = 0', 'n_fib = 0']);
  assert.equal(session.text, 'if n < 2:\n        return n');
  assert.deepEqual(session.alternatives, ['a = 0', 'n_fib = 0']);
  assert.deepEqual(session.items, ['if n < 2:\n        return n', 'a = 0', 'n_fib = 0']);
});

test('partials carry only the first item; alternatives come with the response', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  const twoItems = partial(1, 'return a');
  twoItems.items.push({ insertText: 'pass' });
  store.acceptPartial(twoItems);
  assert.deepEqual(session.items, ['return a']);
  assert.deepEqual(session.alternatives, []);
});

test('alternatives arriving with a response that confirms the streamed text are a change to draw', () => {
  const store = new StreamStore();
  const session = store.start(KEY);
  store.acceptPartial(partial(1, 'return a'));
  session.markServed(session.items);
  assert.equal(session.finish('return a', ['pass']), true, 'VS Code must fetch the list to cycle it');
  assert.equal(session.needsRedraw, true);
  session.markServed(session.items);
  assert.equal(session.needsRedraw, false);
});

test('a response that only confirms the streamed text, without alternatives, is no change', () => {
  const session = new StreamStore().start(KEY);
  session.offerPartial(partial(1, 'return a'));
  session.markServed(session.items);
  assert.equal(session.finish('return a', []), false);
  assert.equal(session.needsRedraw, false);
});

test('empty, repeated and first-item alternatives are dropped, and none are kept without a text', () => {
  const session = new StreamStore().start(KEY);
  session.finish('x = 1', ['', 'x = 1', 'y = 2', 'y = 2', 'z = 3']);
  assert.deepEqual(session.items, ['x = 1', 'y = 2', 'z = 3']);
  const empty = new StreamStore().start(KEY);
  assert.equal(empty.finish(undefined, ['y = 2']), false);
  assert.deepEqual(empty.items, []);
  assert.deepEqual(empty.alternatives, []);
});

test("the request id comes from the partials, else from the response's items", () => {
  const store = new StreamStore();
  const streamed = store.start(KEY);
  assert.equal(streamed.id, undefined);
  store.acceptPartial(partial(1, 'ret'));
  streamed.finish('return', [], 99);
  assert.equal(streamed.id, 7, "the partials' id stays");
  const answered = store.start({ ...KEY, version: 4 });
  answered.finish('return', [], 12);
  assert.equal(answered.id, 12);
});
