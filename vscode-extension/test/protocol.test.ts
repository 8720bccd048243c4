// The accept command's arguments are read only when they are rill's and well formed.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ACCEPT_COMMAND, acceptArgs } from '../src/protocol';

test("reads { requestId, length } from rill's accept command", () => {
  const command = {
    title: 'rill: accepted',
    command: ACCEPT_COMMAND,
    arguments: [{ requestId: 4, length: 12 }],
  };
  assert.deepEqual(acceptArgs(command), { requestId: 4, length: 12 });
  assert.deepEqual(acceptArgs({ ...command, arguments: [{ requestId: 'a', length: 0 }] }), {
    requestId: 'a',
    length: 0,
  });
});

test('ignores other commands and malformed arguments', () => {
  assert.equal(acceptArgs(undefined), undefined);
  assert.equal(acceptArgs({ command: 'other', arguments: [{ requestId: 1, length: 1 }] }), undefined);
  assert.equal(acceptArgs({ command: ACCEPT_COMMAND }), undefined);
  assert.equal(acceptArgs({ command: ACCEPT_COMMAND, arguments: [{ requestId: 1 }] }), undefined);
  assert.equal(
    acceptArgs({ command: ACCEPT_COMMAND, arguments: [{ requestId: null, length: 1 }] }),
    undefined,
  );
});
