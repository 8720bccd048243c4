// The streaming opt-in lands in the client capabilities without dropping other experimental entries.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { StreamingFeature } from '../src/streamingFeature';

test('fills experimental.rillStreaming = true and keeps other experimental keys', () => {
  const capabilities: { experimental?: unknown } = { experimental: { other: 1 } };
  new StreamingFeature().fillClientCapabilities(capabilities);
  assert.deepEqual(capabilities.experimental, { other: 1, rillStreaming: true });
});

test('creates the experimental object when absent', () => {
  const capabilities: { experimental?: unknown } = {};
  new StreamingFeature().fillClientCapabilities(capabilities);
  assert.deepEqual(capabilities.experimental, { rillStreaming: true });
});
