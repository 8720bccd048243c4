// The ghost-text state of streamed completions: which request is current, the text its partials have
// accumulated so far, and who is waiting for more. Pure (no `vscode` import) so it is unit-tested directly.
//
// Why this exists: VS Code asks an inline completion provider once and shows what it returns. To show a
// suggestion while the server is still decoding it, the extension keeps one streaming *session* per
// request position, feeds it the server's `rill/inlineCompletion/partial` notifications, and re-triggers
// VS Code's inline suggestion, which asks again and is served the session's latest text without a new
// server request. The session also remembers what VS Code was last given, so the glue knows whether a
// re-trigger actually reached the editor.
//
// The response may hold several ranked items: the streamed suggestion first, then alternatives (other first
// lines). The session keeps them all, so that VS Code's Show Next/Previous Inline Suggestion (Alt+] /
// Alt+[) can cycle through them; partials only ever carry the first.

import { itemText, PartialParams, RequestId } from './protocol';

/** Where a completion was requested: the document (URI and version) and the cursor. */
export interface RequestKey {
  uri: string;
  version: number;
  line: number;
  character: number;
}

export function sameKey(a: RequestKey, b: RequestKey): boolean {
  return a.uri === b.uri && a.version === b.version && a.line === b.line && a.character === b.character;
}

/** One request's stream: partial texts until the response arrives, then the final items. */
export class StreamSession {
  /** The whole suggestion so far (partials are cumulative); undefined until anything arrived. */
  private currentText: string | undefined;
  /** The response's other items, best first; only a response has them. */
  private alternativeTexts: readonly string[] = [];
  private finished = false;
  /** Set when a newer session replaced this one: nobody will show its text any more. */
  private abandonedFlag = false;
  private requestId: RequestId | undefined;
  private lastSeq = 0;
  private waiters: Array<() => void> = [];
  /** How many partials changed the text; lets tests and the log tell streaming happened. */
  partialCount = 0;
  /** The items last handed to VS Code for this session (what the editor holds, as far as we know). */
  private servedItems: readonly string[] = [];

  constructor(readonly key: RequestKey) {}

  get text(): string | undefined {
    return this.currentText;
  }

  /** The response's other suggestions, best first: distinct from the text and each other, never empty. */
  get alternatives(): readonly string[] {
    return this.alternativeTexts;
  }

  /** Everything VS Code should hold: the text, then the alternatives; empty while there is no text. */
  get items(): readonly string[] {
    return this.currentText ? [this.currentText, ...this.alternativeTexts] : [];
  }

  get done(): boolean {
    return this.finished;
  }

  /**
   * The server's id of the request (the JSON-RPC id), from its partials or from the response's items;
   * undefined until either arrived. The acceptance figures are reported under it.
   */
  get id(): RequestId | undefined {
    return this.requestId;
  }

  get abandoned(): boolean {
    return this.abandonedFlag;
  }

  /**
   * Applies a partial that belongs to this session's document and position. Returns true when the
   * visible text changed. Partials of a second request id, repeated or out-of-order sequence numbers,
   * and anything after the response are ignored, as docs/protocol.md asks.
   */
  offerPartial(params: PartialParams): boolean {
    if (this.finished || this.abandonedFlag) {
      return false;
    }
    if (this.requestId === undefined) {
      this.requestId = params.requestId;
    } else if (this.requestId !== params.requestId) {
      return false;
    }
    if (params.seq <= this.lastSeq) {
      return false;
    }
    this.lastSeq = params.seq;
    const first = params.items[0];
    const text = first === undefined ? '' : itemText(first);
    if (text === this.currentText) {
      return false;
    }
    this.currentText = text;
    this.partialCount += 1;
    this.wake();
    return true;
  }

  /**
   * Records the response: its first item's text (undefined when the request failed or answered no item)
   * and the other items' texts, best first. The response wins over the partials because it is what the
   * server settled on. Returns true when what VS Code should hold changed: the text, or alternatives
   * arriving after a streamed text that the response only confirms (VS Code must fetch them, or there
   * would be nothing to cycle to). `requestId` is the id the response's items carry, if any.
   */
  finish(text: string | undefined, alternatives: readonly string[] = [], requestId?: RequestId): boolean {
    if (this.finished) {
      return false;
    }
    this.finished = true;
    this.requestId ??= requestId;
    const before = this.items;
    this.currentText = text;
    // VS Code shows one of equal items only; an empty one would be an invisible stop while cycling.
    this.alternativeTexts = text
      ? alternatives.filter((alt, i) => alt !== '' && alt !== text && alternatives.indexOf(alt) === i)
      : [];
    this.wake();
    return !sameItems(before, this.items);
  }

  /** Records that VS Code was given `items` (empty: no suggestion). */
  markServed(items: readonly string[]): void {
    this.servedItems = [...items];
  }

  /** True when the editor holds something other than the current items and must be asked to fetch again. */
  get needsRedraw(): boolean {
    return !sameItems(this.servedItems, this.items);
  }

  /** Marks the session replaced and releases anyone still waiting on it. */
  abandon(): void {
    this.abandonedFlag = true;
    this.wake();
  }

  /**
   * Resolves at the next change of text, when the response arrives, when the session is abandoned, or
   * when `onCancel` fires (the caller's cancellation, e.g. VS Code dropping its request), whichever
   * comes first. Resolves at once when there is nothing left to wait for.
   */
  nextChange(onCancel?: (cancel: () => void) => void): Promise<void> {
    if (this.finished || this.abandonedFlag) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = (): void => {
        if (!settled) {
          settled = true;
          this.waiters = this.waiters.filter((waiter) => waiter !== settle);
          resolve();
        }
      };
      this.waiters.push(settle);
      onCancel?.(settle);
    });
  }

  /** How many callers are blocked in `nextChange`; a change reaches them without a re-trigger. */
  get waiting(): number {
    return this.waiters.length;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      waiter();
    }
  }
}

function sameItems(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((text, i) => text === b[i]);
}

/**
 * The current session. Only one suggestion is visible at a time (in the focused editor), so starting a
 * request for a new position abandons the previous session.
 */
export class StreamStore {
  private session: StreamSession | undefined;

  get current(): StreamSession | undefined {
    return this.session;
  }

  /** The current session when it was started for exactly this document version and position. */
  lookup(key: RequestKey): StreamSession | undefined {
    return this.session !== undefined && sameKey(this.session.key, key) ? this.session : undefined;
  }

  /** Starts a session for `key`, abandoning the previous one; returns the new one. */
  start(key: RequestKey): StreamSession {
    this.session?.abandon();
    this.session = new StreamSession(key);
    return this.session;
  }

  /**
   * Routes a partial to the current session when it is for that session's document version and
   * position; returns the session when its text changed. `normalizeUri` makes the server's spelling of
   * the URI comparable with the editor's (percent-encoding may differ).
   */
  acceptPartial(
    params: PartialParams,
    normalizeUri: (uri: string) => string = (uri) => uri,
  ): StreamSession | undefined {
    const session = this.session;
    if (session === undefined) {
      return undefined;
    }
    const { key } = session;
    if (normalizeUri(params.uri) !== key.uri || params.version !== key.version) {
      return undefined;
    }
    const start = params.items[0]?.range?.start;
    if (start !== undefined && (start.line !== key.line || start.character !== key.character)) {
      return undefined;
    }
    return session.offerPartial(params) ? session : undefined;
  }

  /** Forgets everything, e.g. when the server restarts. */
  clear(): void {
    this.session?.abandon();
    this.session = undefined;
  }
}
