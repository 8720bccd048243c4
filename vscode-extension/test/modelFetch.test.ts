// `rill model fetch --progress json` is run, read and stopped correctly, against a stand-in script.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { FetchEvent } from '../src/fetchProgress';
import { runModelFetch } from '../src/modelFetch';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rill-model-fetch-'));

/** A stand-in for the server binary: a shell script with `body`, which also records its arguments. */
function fakeRill(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\necho "$@" > "${file}.args"\n${body}\n`, { mode: 0o755 });
  return file;
}

function collect(binary: string, env?: NodeJS.ProcessEnv) {
  const events: FetchEvent[] = [];
  const logs: string[] = [];
  const running = runModelFetch(binary, {
    env,
    onEvent: (event) => events.push(event),
    onLog: (line) => logs.push(line),
    killGraceMs: 500,
  });
  return { events, logs, running };
}

test('a fetch that succeeds gives its events and the model path; stray lines are logged', async () => {
  const binary = fakeRill(
    'ok',
    [
      `echo '{"stage":"check","bytesDone":0,"bytesTotal":null}'`,
      'echo "Collecting wheels"',
      `echo '{"stage":"download","bytesDone":100,"bytesTotal":200}'`,
      'echo "pip says hi" >&2',
      `echo '{"stage":"done","bytesDone":200,"bytesTotal":200,"path":"/c/m.gguf"}'`,
    ].join('\n'),
  );
  const { events, logs, running } = collect(binary);
  assert.deepEqual(await running.outcome, { kind: 'done', path: '/c/m.gguf' });
  assert.deepEqual(
    events.map((e) => e.stage),
    ['check', 'download', 'done'],
  );
  assert.deepEqual(logs.sort(), ['Collecting wheels', 'pip says hi']);
  assert.equal(fs.readFileSync(`${binary}.args`, 'utf8').trim(), 'model fetch --progress json');
});

test("a failure gives the error line's message, else the last stderr line", async () => {
  const withError = fakeRill(
    'fail',
    `echo '{"stage":"error","bytesDone":0,"bytesTotal":null,"message":"pip could not download"}'\necho oops >&2\nexit 1`,
  );
  assert.deepEqual(await collect(withError).running.outcome, {
    kind: 'failed',
    reason: 'pip could not download',
  });
  const old = fakeRill(
    'old',
    `echo "error: unexpected argument '--progress' found" >&2\necho "For more information, try '--help'." >&2\nexit 2`,
  );
  assert.deepEqual(await collect(old).running.outcome, {
    kind: 'failed',
    reason: "error: unexpected argument '--progress' found",
  });
  const missing = await collect(path.join(dir, 'does-not-exist')).running.outcome;
  assert.equal(missing.kind, 'failed');
});

test('the environment reaches the child (pip settings, the cache folder)', async () => {
  const binary = fakeRill(
    'env',
    `printf '{"stage":"done","bytesDone":0,"bytesTotal":0,"path":"%s"}\\n' "$XDG_CACHE_HOME:$PIP_NO_INDEX"`,
  );
  const outcome = await collect(binary, { ...process.env, XDG_CACHE_HOME: '/tmp/c', PIP_NO_INDEX: '1' })
    .running.outcome;
  assert.deepEqual(outcome, { kind: 'done', path: '/tmp/c:1' });
});

test('cancelling stops the process and its children', async () => {
  const pidFile = path.join(dir, 'grandchild.pid');
  // A grandchild like pip under python3: it must stop as well.
  const binary = fakeRill(
    'slow',
    `echo '{"stage":"download","bytesDone":1,"bytesTotal":10}'\nsleep 30 & echo $! > "${pidFile}"\nwait`,
  );
  const { events, running } = collect(binary);
  while (events.length === 0 || !fs.existsSync(pidFile) || fs.readFileSync(pidFile, 'utf8').trim() === '') {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const grandchild = Number(fs.readFileSync(pidFile, 'utf8').trim());
  running.cancel();
  assert.deepEqual(await running.outcome, { kind: 'cancelled' });
  const alive = () => {
    try {
      process.kill(grandchild, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 3000;
  while (alive() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(alive(), false, 'the grandchild is still running');
});
