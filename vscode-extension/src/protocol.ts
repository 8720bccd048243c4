// Wire types of the two notifications rill adds to LSP (see docs/protocol.md and server/src/protocol.rs).
// Kept free of `vscode` imports so the pure modules and their unit tests can use them.

/** `rill/inlineCompletion/partial`: the suggestion so far while a request is decoded. */
export const PARTIAL_METHOD = 'rill/inlineCompletion/partial';
/** `rill/status`: the engine's state and the last completion's measurements. */
export const STATUS_METHOD = 'rill/status';
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

/** The plain text of an item, whichever of the two LSP shapes it uses. */
export function itemText(item: WireInlineItem): string {
  return typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
}
