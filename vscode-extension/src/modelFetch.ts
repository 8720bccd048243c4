// Runs `<rill> model fetch --progress json` as a child process: hands each progress line to the caller,
// keeps the log lines, and ends in done (with the model's path), cancelled or failed (with why, in the
// server's words). Node only (no `vscode` import), so it is tested against a stand-in script.
//
// Cancelling stops the whole process group the way Ctrl+C in a terminal does (SIGINT: rill, and the
// python3/pip it runs, stop and clean up; the server side guarantees no partial model is left in place),
// then SIGKILL for whatever is still running after a grace period.

import { spawn } from 'child_process';
import * as readline from 'readline';

import { FetchEvent, parseFetchLine } from './fetchProgress';

export type FetchOutcome =
  | { kind: 'done'; path?: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; reason: string };

export interface FetchOptions {
  /** The environment of the child; the extension host's by default (XDG_CACHE_HOME, PIP_* included). */
  env?: NodeJS.ProcessEnv;
  onEvent: (event: FetchEvent) => void;
  /** Lines that are not progress: stderr, and anything else on stdout. */
  onLog: (line: string) => void;
  /** How long the group has after SIGINT before SIGKILL. */
  killGraceMs?: number;
}

export interface RunningFetch {
  outcome: Promise<FetchOutcome>;
  cancel(): void;
}

/** The fetch stops pip politely (it waits up to 5 s for it) and removes its files: time for both. */
const KILL_GRACE_MS = 10_000;

export const FETCH_ARGS = ['model', 'fetch', '--progress', 'json'] as const;

export function runModelFetch(binary: string, options: FetchOptions): RunningFetch {
  // Its own process group, so that cancelling reaches python3 and pip under it too.
  const group = process.platform !== 'win32';
  const child = spawn(binary, [...FETCH_ARGS], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  let cancelled = false;
  let lastError: string | undefined;
  let lastStderr: string | undefined;
  /** The first `error: …` line on stderr: clap and anyhow say what went wrong there, and help after. */
  let stderrError: string | undefined;
  let donePath: string | undefined;
  let sawDone = false;

  readline.createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
    const event = parseFetchLine(line);
    if (event === undefined) {
      if (line.trim() !== '') options.onLog(line);
      return;
    }
    if (event.stage === 'error') lastError = event.message ?? lastError;
    if (event.stage === 'done') {
      sawDone = true;
      donePath = event.path;
    }
    options.onEvent(event);
  });
  readline.createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
    if (line.trim() !== '') {
      lastStderr = line.trim();
      if (stderrError === undefined && /^error\b/i.test(lastStderr)) stderrError = lastStderr;
      options.onLog(line);
    }
  });

  const signal = (name: NodeJS.Signals): void => {
    try {
      if (group && child.pid !== undefined) {
        process.kill(-child.pid, name);
      } else {
        child.kill(name);
      }
    } catch {
      // Already gone.
    }
  };

  let cancelFetch: () => void = () => {};
  const outcome = new Promise<FetchOutcome>((resolve) => {
    child.once('error', (error) => {
      resolve({ kind: 'failed', reason: `cannot run ${binary}: ${error.message}` });
    });
    // 'close' (not 'exit'): the output has been read by then, so the last lines are known.
    child.once('close', (code, signalName) => {
      if (cancelled) {
        // Whatever it was doing, the user stopped it; a fetch that finished meanwhile still counts.
        resolve(code === 0 && sawDone ? { kind: 'done', path: donePath } : { kind: 'cancelled' });
      } else if (code === 0) {
        resolve({ kind: 'done', path: donePath });
      } else {
        const why =
          lastError ??
          stderrError ??
          lastStderr ??
          (signalName ? `stopped by ${signalName}` : `exit code ${code}`);
        resolve({ kind: 'failed', reason: why });
      }
    });
    cancelFetch = () => {
      if (cancelled || child.exitCode !== null || child.signalCode !== null) return;
      cancelled = true;
      signal('SIGINT');
      // Also after rill itself has gone: python3 or pip may still be running in its group.
      setTimeout(() => signal('SIGKILL'), options.killGraceMs ?? KILL_GRACE_MS).unref();
    };
  });
  return { outcome, cancel: () => cancelFetch() };
}
