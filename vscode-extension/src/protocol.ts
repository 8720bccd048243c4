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
