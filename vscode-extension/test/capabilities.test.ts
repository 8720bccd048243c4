// The opt-ins (streaming, status, acceptance) land in the client capabilities without dropping other
// experimental entries.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RillCapabilities } from '../src/capabilities';

const ALL = { rillStreaming: true, rillStatus: true, rillAcceptance: true };

test('fills rillStreaming, rillStatus and rillAcceptance and keeps other experimental keys', () => {
  const capabilities: { experimental?: unknown } = { experimental: { other: 1 } };
  new RillCapabilities().fillClientCapabilities(capabilities);
  assert.deepEqual(capabilities.experimental, { other: 1, ...ALL });
});

test('creates the experimental object when absent', () => {
  const capabilities: { experimental?: unknown } = {};
  new RillCapabilities().fillClientCapabilities(capabilities);
  assert.deepEqual(capabilities.experimental, ALL);
});
