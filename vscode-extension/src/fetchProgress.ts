// The progress lines of `rill model fetch --progress json` (one JSON object a line on stdout: stage,
// bytesDone, bytesTotal, message, path) read and turned into what a VS Code progress notification takes:
// a message with MB done and total, and increments of one bar across all stages. Pure, unit-tested.

export type FetchStage = 'check' | 'download' | 'assemble' | 'verify' | 'done' | 'error';

export interface FetchEvent {
  stage: FetchStage;
  bytesDone?: number;
  /** null when the size is not known yet. */
  bytesTotal?: number | null;
  message?: string;
  /** Where the model is, on `done`. */
  path?: string;
}

const STAGES: readonly FetchStage[] = ['check', 'download', 'assemble', 'verify', 'done', 'error'];

/** One stdout line as an event; undefined for anything else (a stray line is logged, not fatal). */
export function parseFetchLine(line: string): FetchEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const raw = value as Record<string, unknown>;
  if (typeof raw.stage !== 'string' || !STAGES.includes(raw.stage as FetchStage)) {
    return undefined;
  }
  const event: FetchEvent = { stage: raw.stage as FetchStage };
  if (typeof raw.bytesDone === 'number') event.bytesDone = raw.bytesDone;
  if (typeof raw.bytesTotal === 'number' || raw.bytesTotal === null) event.bytesTotal = raw.bytesTotal;
  if (typeof raw.message === 'string') event.message = raw.message;
  if (typeof raw.path === 'string') event.path = raw.path;
  return event;
}

/** "12.3 MB" (decimal megabytes, as the size in the download button). */
export function formatMb(bytes: number): string {
  const mb = bytes / 1e6;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** The share of the whole bar each stage fills, start and end in percent. */
const BAR: Record<FetchStage, [number, number]> = {
  check: [0, 0],
  download: [0, 80],
  assemble: [80, 92],
  verify: [92, 100],
  done: [100, 100],
  error: [0, 0],
};

const VERBS: Record<FetchStage, string> = {
  check: 'checking the cache',
  download: 'downloading',
  assemble: 'assembling',
  verify: 'verifying',
  done: 'done',
  error: 'failed',
};

/** What to hand to VS Code's `progress.report`. */
export interface ProgressStep {
  message: string;
  /** Percent to add to the bar; absent when it does not move. */
  increment?: number;
}

/** Follows the events of one fetch; the bar only ever moves forward. */
export class FetchProgress {
  private reported = 0;

  update(event: FetchEvent): ProgressStep {
    const message = describe(event);
    if (event.stage === 'error') {
      return { message };
    }
    const [start, end] = BAR[event.stage];
    const total = event.bytesTotal ?? undefined;
    const fraction =
      event.stage === 'done'
        ? 1
        : total !== undefined && total > 0 && event.bytesDone !== undefined
          ? Math.min(1, Math.max(0, event.bytesDone / total))
          : 0;
    const overall = start + (end - start) * fraction;
    if (overall <= this.reported) {
      return { message };
    }
    const increment = overall - this.reported;
    this.reported = overall;
    return { message, increment };
  }
}

/** "downloading 120 of 253 MB", "verifying 12.5 MB", or the stage with the server's words. */
export function describe(event: FetchEvent): string {
  const verb = VERBS[event.stage];
  if (event.stage === 'error') {
    return event.message ? `failed: ${event.message}` : 'failed';
  }
  if (event.stage === 'done') {
    return event.path ? `done: ${event.path}` : 'done';
  }
  if (event.bytesDone !== undefined && event.bytesTotal) {
    // The done figure as precise as the total's: "12 of 253 MB", "0.4 of 1.5 MB".
    const precise = event.bytesTotal < 10e6;
    const done = precise ? (event.bytesDone / 1e6).toFixed(1) : String(Math.round(event.bytesDone / 1e6));
    return `${verb} ${done} of ${formatMb(event.bytesTotal)}`;
  }
  if (event.bytesDone !== undefined && event.bytesDone > 0) {
    return `${verb} ${formatMb(event.bytesDone)}`;
  }
  return event.message ? `${verb}: ${event.message}` : verb;
}
