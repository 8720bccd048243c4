// Routes the server's stderr into the log output channel at the level each line was written with.
// rill logs with `tracing` (`2025-01-01T10:00:00.000000Z  INFO rill::lsp: message`, no colours);
// languageclient's default would file every stderr line as an error.

import * as readline from 'readline';
import type { Readable } from 'stream';
import type { LogOutputChannel } from 'vscode';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<string, LogLevel> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Strips ANSI colour codes, in case a build logs with them. */
function stripAnsi(line: string): string {
  return line.replace(/\u001b\[[0-9;]*m/g, '');
}

/**
 * The level and the message of one stderr line. The timestamp is dropped because the output channel
 * adds its own; lines that are not tracing's (a panic, a backtrace) are kept whole as errors.
 */
export function parseLogLine(raw: string): { level: LogLevel; text: string } {
  const line = stripAnsi(raw);
  const match = /^\s*(?:\S+Z\s+)?(TRACE|DEBUG|INFO|WARN|ERROR)\s+(.*)$/.exec(line);
  if (match === null) {
    return { level: 'error', text: line };
  }
  return { level: LEVELS[match[1] as string] ?? 'info', text: match[2] ?? '' };
}

/** languageclient's `stdioOptions.stderr`: one log entry per line, at its level. */
export function pipeServerLog(input: Readable, channel: LogOutputChannel): void {
  readline
    .createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 })
    .on('line', (line: string) => {
      const { level, text } = parseLogLine(line);
      channel[level](text);
    });
}

/** languageclient's `stdioOptions.stdout`: unused (stdout carries the protocol), kept as the default. */
export function pipeServerStdout(input: Readable, channel: LogOutputChannel): void {
  readline
    .createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 })
    .on('line', (line: string) => channel.info(line));
}
