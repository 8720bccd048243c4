// Wire types of the notifications rill adds to LSP (see docs/protocol.md and server/src/protocol.rs).
// Kept free of `vscode` imports so the pure modules and their unit tests can use them.

/** `rill/inlineCompletion/partial`: the suggestion so far while a request is decoded. */
export const PARTIAL_METHOD = 'rill/inlineCompletion/partial';
/** `rill/status`: the engine's state and the last completion's measurements. */
export const STATUS_METHOD = 'rill/status';
/** `rill/reasoningResult`: a reasoning chain (`rill.reason`) ended; every step and what became of it. */
export const REASONING_RESULT_METHOD = 'rill/reasoningResult';
/** `rill/nextEditAvailable`: an edit elsewhere in the document is on offer (docs/protocol.md). */
export const NEXT_EDIT_AVAILABLE_METHOD = 'rill/nextEditAvailable';
/** `rill/nextEdit`: the edit on offer for the document's current version, or null. */
export const NEXT_EDIT_METHOD = 'rill/nextEdit';
/** `rill/nextEdit/dismiss`: the user turned the offer down; the server never offers it again. */
export const NEXT_EDIT_DISMISS_METHOD = 'rill/nextEdit/dismiss';
/** The work-done progress token the server reports model loading on. */
export const LOAD_MODEL_TOKEN = 'rill/loadModel';
/** `rill/didShowCompletion` (client → server): the answer to a request was shown; once per request. */
export const DID_SHOW_METHOD = 'rill/didShowCompletion';
/** `rill/didAcceptCompletion` (client → server): UTF-16 units of a suggestion accepted (cumulative). */
export const DID_ACCEPT_METHOD = 'rill/didAcceptCompletion';
/** `rill/stats` (request): suggestions shown and accepted, by language and source, and latency. */
export const STATS_METHOD = 'rill/stats';
/**
 * The client command every inline item carries with `experimental.rillAcceptance` (registered by the
 * extension, run by VS Code when the item is accepted whole).
 */
export const ACCEPT_COMMAND = 'rill.didAcceptCompletion';

export interface WirePosition {
  line: number;
  character: number;
}

export interface WireRange {
  start: WirePosition;
  end: WirePosition;
}

export interface WireInlineItem {
  /** Always a plain string from rill (never a snippet). */
  insertText: string | { kind: string; value: string };
  range?: WireRange;
}

export type RequestId = number | string;

/** The argument of `rill.didAcceptCompletion` on an item: its request and its text's UTF-16 length. */
export interface AcceptArgs {
  requestId: RequestId;
  length: number;
}

export interface DidShowParams {
  requestId: RequestId;
}

export interface DidAcceptParams {
  requestId: RequestId;
  acceptedLength: number;
}

/** The figures of one slice of `rill/stats` (overall, a language, a source). */
export interface StatsCounts {
  shown: number;
  accepted: number;
  partiallyAccepted: number;
  acceptedChars: number;
  /** (accepted + partiallyAccepted) / shown; 0 when nothing was shown. */
  acceptanceRate: number;
}

export interface StatsResult {
  overall: StatsCounts;
  byLanguage: Record<string, StatsCounts>;
  bySource?: Record<string, StatsCounts>;
  /** Since the server started; p50/p95 null with no samples. */
  latencyMs: { p50: number | null; p95: number | null; samples: number };
  persisted: boolean;
  path?: string;
}

export interface PartialParams {
  requestId: number | string;
  uri: string;
  version: number;
  seq: number;
  items: WireInlineItem[];
}

export interface NextEditAvailableParams {
  uri: string;
  /** The document version the offer is for; it is void once the document moved on. */
  version: number;
  /** The text the edit replaces (empty for an insertion). */
  range: WireRange;
}

export interface WireTextEdit {
  range: WireRange;
  newText: string;
}

export interface NextEditResult {
  edits: WireTextEdit[];
  /** Why this edit, in words (e.g. `total → acc`). */
  reason: string;
  /** The document version the edits apply to. */
  version: number;
}

export type EngineState = 'loading' | 'ready' | 'error';

export interface StatusParams {
  state: EngineState;
  message?: string;
  promptTokens?: number;
  reusedTokens?: number;
  timeToFirstTokenMs?: number;
  tokensPerSecond?: number;
  generatedTokens?: number;
  source?: string;
  acceptedChars?: number;
  cachedDocuments?: number;
  cachedTokens?: number;
  cachedBytes?: number;
  bytesPerCachedToken?: number;
}

export interface ReasoningStepReport {
  number: number;
  title: string;
  rationale: string;
  /** Whether the step's edit is part of the result; `false` for an explanation step. */
  kept: boolean;
  /** Why the step was dropped, when it was. */
  droppedBecause?: string;
}

export interface ReasoningResultParams {
  uri: string;
  /** `fix`, `explain` or `improve`. */
  task: string;
  /** One line: steps, kept, dropped, and whether the result was applied. */
  summary: string;
  steps: ReasoningStepReport[];
  applied: boolean;
  /** When a guard stopped the result, why, in words. */
  rejectedBy?: string;
}

/** The plain text of an item, whichever of the two LSP shapes it uses. */
export function itemText(item: WireInlineItem): string {
  return typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
}

/**
 * The accept arguments of an item's command, when it is rill's: `{ requestId, length }` as the server
 * attaches them (docs/protocol.md). Anything else (no command, another command, malformed) is undefined.
 */
export function acceptArgs(command: unknown): AcceptArgs | undefined {
  if (typeof command !== 'object' || command === null) {
    return undefined;
  }
  const { command: id, arguments: args } = command as { command?: unknown; arguments?: unknown };
  if (id !== ACCEPT_COMMAND || !Array.isArray(args)) {
    return undefined;
  }
  return parseAcceptArgs(args[0]);
}

/** `{ requestId, length }` checked field by field. */
export function parseAcceptArgs(value: unknown): AcceptArgs | undefined {
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const { requestId, length } = value as { requestId?: unknown; length?: unknown };
  if ((typeof requestId !== 'number' && typeof requestId !== 'string') || typeof length !== 'number') {
    return undefined;
  }
  return { requestId, length };
}
