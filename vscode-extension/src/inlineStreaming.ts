// Streams ghost text into VS Code: the languageclient middleware for `textDocument/inlineCompletion` and
// the handler of `rill/inlineCompletion/partial`. The state lives in StreamStore; this file only connects
// it to VS Code's provider calls, and Redrawer makes VS Code fetch again.
//
// How a suggestion grows on screen: VS Code asks the provider (this middleware), which sends the request
// to the server on a token of its own and answers VS Code as soon as the first partial arrives. Each later
// partial has VS Code fetch again at the same document version and position, and it is answered from the
// session at once, without a new server request. The response settles the final text. Accepting (Tab, or VS Code's accept-word/accept-line) is VS Code's own behaviour
// on the items returned here, so it is left untouched.
//
// The response's other items (alternative first lines, ranked after the streamed suggestion) are handed to
// VS Code with it, so its Show Next/Previous Inline Suggestion commands (Alt+] / Alt+[) cycle through
// them; cycling makes VS Code fetch again (an explicit trigger), which the session answers at once.

import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';

import { Acceptance } from './acceptance';
import { acceptArgs, PartialParams, RequestId } from './protocol';
import { Redrawer } from './redraw';
import { RequestKey, StreamSession, StreamStore } from './streamStore';

/** languageclient's `next` for inline completion (not exported under a name of its own). */
type ProvideInlineCompletionItemsSignature = Parameters<
  NonNullable<Middleware['provideInlineCompletionItems']>
>[4];

type InlineResult = vscode.InlineCompletionItem[] | vscode.InlineCompletionList | null | undefined;

/** Our own re-triggers are explicit triggers too; one this recent is ours, not the user's. */
const SELF_TRIGGER_WINDOW_MS = 1000;
/** Re-triggers in a row after which VS Code evidently is not asking (editor hidden, another provider won). */
const MAX_MISSED_TRIGGERS = 5;

export class InlineStreaming implements vscode.Disposable {
  private readonly store = new StreamStore();
  private readonly requests = new Map<StreamSession, vscode.CancellationTokenSource>();
  /** A re-trigger loop is running; new text is picked up by it instead of starting another. */
  private triggering = false;
  private lastSelfTrigger = 0;

  private readonly redrawer: Redrawer;

  /** `isEnabled` reads `rill.enable`: when off, no request is sent at all. */
  constructor(
    extensionId: string,
    selector: vscode.DocumentSelector,
    private readonly isEnabled: () => boolean,
    private readonly log: (line: string) => void,
    private readonly acceptance: Acceptance,
  ) {
    this.redrawer = new Redrawer(extensionId, selector, (document, position) =>
      this.serveFromSession(document, position),
    );
  }

  /** The middleware entry; VS Code calls it for every inline suggestion it wants. */
  readonly middleware: Required<Pick<Middleware, 'provideInlineCompletionItems'>> = {
    provideInlineCompletionItems: (document, position, context, token, next) =>
      this.provide(document, position, context, token, next),
  };

  /** Handles `rill/inlineCompletion/partial`. */
  onPartial(params: PartialParams): void {
    const session = this.store.acceptPartial(params, normalizeUri);
    if (session !== undefined && session.waiting === 0) {
      // Nobody is blocked on this session, so VS Code shows an older text: ask it to fetch again.
      void this.retrigger();
    }
  }

  /** Drops all sessions, e.g. when the server restarts. */
  reset(): void {
    for (const source of this.requests.values()) {
      source.cancel();
      source.dispose();
    }
    this.requests.clear();
    this.store.clear();
    this.acceptance.reset();
  }

  dispose(): void {
    this.reset();
    this.redrawer.dispose();
  }

  /** The session's text for the redraw provider: what is known now, without asking the server. */
  private serveFromSession(
    document: vscode.TextDocument,
    position: vscode.Position,
  ): vscode.InlineCompletionItem[] | null {
    const session = this.store.lookup(keyOf(document, position));
    if (session === undefined || !this.isEnabled()) {
      return null;
    }
    return this.answer(session, document, position);
  }

  /**
   * Hands the session's current items to VS Code (the text first) and records that it did, and that
   * they are shown. Each item carries the accept command under the request's id, once that id is known.
   */
  private answer(
    session: StreamSession,
    document: vscode.TextDocument,
    position: vscode.Position,
  ): vscode.InlineCompletionItem[] | null {
    const items = session.items;
    session.markServed(items);
    if (items.length === 0) {
      return null;
    }
    const range = new vscode.Range(position, position);
    const id = session.id;
    if (id !== undefined) {
      this.acceptance.shown(id, document, position, items);
    }
    return items.map(
      (text) =>
        new vscode.InlineCompletionItem(
          text,
          range,
          id !== undefined ? this.acceptance.command(id, text) : undefined,
        ),
    );
  }

  private async provide(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
    next: ProvideInlineCompletionItemsSignature,
  ): Promise<InlineResult> {
    if (!this.isEnabled()) {
      return null;
    }
    const key = keyOf(document, position);
    let session = this.store.lookup(key);
    const selfTriggered = Date.now() - this.lastSelfTrigger < SELF_TRIGGER_WINDOW_MS;
    const userAskedAgain =
      context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke && !selfTriggered;
    if (session === undefined || (session.done && !session.text && userAskedAgain)) {
      session = this.startRequest(key, document, position, context, next);
    }
    if (session.text === undefined && !session.done) {
      let subscription: vscode.Disposable | undefined;
      await session.nextChange((cancel) => {
        subscription = token.onCancellationRequested(cancel);
      });
      subscription?.dispose();
    }
    if (token.isCancellationRequested || session.abandoned) {
      return null;
    }
    return this.answer(session, document, position);
  }

  /**
   * Sends the request on a token owned by the session rather than VS Code's: VS Code cancels its request
   * on every re-trigger, and forwarding that as `$/cancelRequest` would stop the very generation being
   * streamed.
   */
  private startRequest(
    key: RequestKey,
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    next: ProvideInlineCompletionItemsSignature,
  ): StreamSession {
    const previous = this.store.current;
    const session = this.store.start(key);
    if (previous !== undefined) {
      const source = this.requests.get(previous);
      // A newer request for the same document supersedes the old one on the server, which then may
      // hand the running generation over to it (typed-ahead); only a request for another document
      // would keep the engine busy, so that one is cancelled.
      if (source !== undefined && previous.key.uri !== key.uri) {
        source.cancel();
      }
    }
    const source = new vscode.CancellationTokenSource();
    this.requests.set(session, source);
    const started = Date.now();
    Promise.resolve(next(document, position, context, source.token))
      .then(
        (result) => ({ texts: resultTexts(result), requestId: resultRequestId(result) }),
        (error: unknown) => {
          this.log(`inline completion failed: ${String(error)}`);
          return { texts: [], requestId: undefined };
        },
      )
      .then(({ texts: [text, ...alternatives], requestId }) => {
        this.requests.delete(session);
        source.dispose();
        const changed = session.finish(text, alternatives, requestId);
        if (session.partialCount > 0) {
          const elapsed = Date.now() - started;
          this.log(
            `suggestion streamed in ${session.partialCount} partials, ` +
              `final ${text?.length ?? 0} chars and ${session.alternatives.length} alternatives after ${elapsed} ms`,
          );
        }
        if (changed && session.waiting === 0) {
          void this.retrigger();
        }
      });
    return session;
  }

  /**
   * Makes VS Code fetch the current session's text again while the cursor is still where it was
   * requested (see Redrawer for how). Each fetch resolves before the loop looks again, so text that
   * arrived meanwhile is shown by the next round, and a round that did not reach the editor is retried.
   */
  private async retrigger(): Promise<void> {
    if (this.triggering) {
      // The running loop reads the current session after each fetch and picks the new text up.
      return;
    }
    this.triggering = true;
    try {
      let misses = 0;
      while (misses < MAX_MISSED_TRIGGERS) {
        // Lets partials that arrive together be shown by one fetch.
        await new Promise((resolve) => setTimeout(resolve, 0));
        const session = this.store.current;
        if (session === undefined || !session.needsRedraw || !isAtCursor(session.key)) {
          return;
        }
        const before = session.text;
        this.lastSelfTrigger = Date.now();
        await this.redrawer.redraw();
        misses = session.needsRedraw && session.text === before ? misses + 1 : 0;
      }
      this.log(`VS Code did not fetch the streamed suggestion after ${MAX_MISSED_TRIGGERS} triggers`);
    } catch (error) {
      this.log(`re-triggering the inline suggestion failed: ${String(error)}`);
    } finally {
      this.triggering = false;
    }
  }
}

function keyOf(document: vscode.TextDocument, position: vscode.Position): RequestKey {
  return {
    uri: document.uri.toString(),
    version: document.version,
    line: position.line,
    character: position.character,
  };
}

/** The editor's spelling of a URI, so that the server's echo compares equal. */
export function normalizeUri(uri: string): string {
  try {
    return vscode.Uri.parse(uri, true).toString();
  } catch {
    return uri;
  }
}

function isAtCursor(key: RequestKey): boolean {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    return false;
  }
  const { document, selection } = editor;
  return (
    document.uri.toString() === key.uri &&
    document.version === key.version &&
    selection.isEmpty &&
    selection.active.line === key.line &&
    selection.active.character === key.character
  );
}

/** The items' texts of a converted response in the server's order (best first); empty for no suggestion. */
function resultTexts(result: InlineResult): string[] {
  if (result === null || result === undefined) {
    return [];
  }
  const items = Array.isArray(result) ? result : result.items;
  return items.map((item) => (typeof item.insertText === 'string' ? item.insertText : item.insertText.value));
}

/**
 * The request id the response's items carry in their accept command (`experimental.rillAcceptance`);
 * languageclient's middleware does not see JSON-RPC ids, so the server puts it there.
 */
function resultRequestId(result: InlineResult): RequestId | undefined {
  if (result === null || result === undefined) {
    return undefined;
  }
  const items = Array.isArray(result) ? result : result.items;
  for (const item of items) {
    const args = acceptArgs(item.command);
    if (args !== undefined) {
      return args.requestId;
    }
  }
  return undefined;
}
