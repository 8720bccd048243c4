// The server's tracing lines go to the log channel at their own level.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';

import { parseLogLine, pipeServerLog } from '../src/serverLog';

test('tracing lines keep their level and lose the timestamp', () => {
  assert.deepEqual(parseLogLine('2025-11-29T09:50:01.123456Z  INFO rill::lsp: model ready'), {
    level: 'info',
    text: 'rill::lsp: model ready',
  });
  assert.deepEqual(parseLogLine('2025-11-29T09:50:01.123456Z  WARN rill::config: bad value'), {
    level: 'warn',
    text: 'rill::config: bad value',
  });
  assert.equal(parseLogLine('2025-11-29T09:50:01Z DEBUG x').level, 'debug');
});

test('colour codes are stripped and foreign lines are errors', () => {
  assert.deepEqual(parseLogLine('\u001b[32m INFO\u001b[0m rill: hi'), { level: 'info', text: 'rill: hi' });
  assert.deepEqual(parseLogLine("thread 'main' panicked at src/main.rs"), {
    level: 'error',
    text: "thread 'main' panicked at src/main.rs",
  });
});

test('pipeServerLog writes one entry per line at its level', async () => {
  const entries: string[] = [];
  const channel = Object.fromEntries(
    ['trace', 'debug', 'info', 'warn', 'error'].map((level) => [
      level,
      (text: string) => entries.push(`${level}:${text}`),
    ]),
  );
  const input = new PassThrough();
  pipeServerLog(input, channel as never);
  input.end('2025-01-01T00:00:00Z  INFO a\n2025-01-01T00:00:00Z ERROR b\n');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(entries, ['info:a', 'error:b']);
});
