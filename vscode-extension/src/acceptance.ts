// Reports to the server what became of its suggestions, for `rill/stats`: `rill/didShowCompletion` when
// an answer is handed to the editor, `rill/didAcceptCompletion` when it is accepted, whole (the item's
// command `rill.didAcceptCompletion`, which VS Code runs on accept) or in part (recognised from the
// document change, see AcceptanceModel). InlineStreaming calls `command` and `shown`; this file owns the
// command's registration and the document listener.
//
// "Shown" is approximate: VS Code's stable API has no event for a suggestion actually drawn. Handing a
// non-empty list to the editor for the cursor's position is the closest there is (the editor may still
// drop it, e.g. when the suggest widget is open or another provider's item wins).

import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

import { AcceptanceModel } from './acceptanceModel';
import {
  ACCEPT_COMMAND,
  AcceptArgs,
  DID_ACCEPT_METHOD,
  DID_SHOW_METHOD,
  DidAcceptParams,
  DidShowParams,
  parseAcceptArgs,
  RequestId,
} from './protocol';

export class Acceptance implements vscode.Disposable {
  private readonly model = new AcceptanceModel();
  private readonly subscriptions: vscode.Disposable[];
  private readonly reportedEmitter = new vscode.EventEmitter<void>();
  /** Fires after a show or an accept was sent: the statistics changed. */
  readonly onDidReport = this.reportedEmitter.event;

  /** `client` gives the running language client, if any (it changes on restarts). */
  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly log: (line: string) => void,
  ) {
    this.subscriptions = [
      vscode.commands.registerCommand(ACCEPT_COMMAND, (args: unknown) => this.onAccepted(args)),
      vscode.workspace.onDidChangeTextDocument((event) => this.onDocumentChanged(event)),
    ];
  }

  /** The command an item of `requestId` carries, so that accepting it reports to the server. */
  command(requestId: RequestId, text: string): vscode.Command {
    const args: AcceptArgs = { requestId, length: text.length };
    return { title: 'rill: accepted', command: ACCEPT_COMMAND, arguments: [args] };
  }

  /** InlineStreaming handed `texts` (best first) of request `requestId` to the editor at `position`. */
  shown(
    requestId: RequestId,
    document: vscode.TextDocument,
    position: vscode.Position,
    texts: readonly string[],
  ): void {
    const first = this.model.shown({
      requestId,
      uri: document.uri.toString(),
      anchor: document.offsetAt(position),
      texts,
    });
    if (first) {
      const params: DidShowParams = { requestId };
      this.send(DID_SHOW_METHOD, params);
    }
  }

  /** Forgets the requests seen: the next server numbers them from the start. */
  reset(): void {
    this.model.reset();
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.reportedEmitter.dispose();
  }

  private onAccepted(raw: unknown): void {
    const args = parseAcceptArgs(raw);
    if (args === undefined) {
      this.log(`${ACCEPT_COMMAND} ran with unexpected arguments: ${JSON.stringify(raw)}`);
      return;
    }
    this.model.accepted(args.requestId);
    this.log(`suggestion of request ${args.requestId} accepted whole (${args.length} chars)`);
    const params: DidAcceptParams = { requestId: args.requestId, acceptedLength: args.length };
    this.send(DID_ACCEPT_METHOD, params);
  }

  private onDocumentChanged(event: vscode.TextDocumentChangeEvent): void {
    const partial = this.model.onChange(event.document.uri.toString(), event.contentChanges);
    if (partial !== undefined) {
      this.log(
        `suggestion of request ${partial.requestId} accepted in part (${partial.acceptedLength} chars so far)`,
      );
      const params: DidAcceptParams = partial;
      this.send(DID_ACCEPT_METHOD, params);
    }
  }

  private send(method: string, params: DidShowParams | DidAcceptParams): void {
    const client = this.client();
    if (client === undefined || !client.isRunning()) {
      return;
    }
    client.sendNotification(method, params).then(
      () => this.reportedEmitter.fire(),
      (error: unknown) => this.log(`sending ${method} failed: ${String(error)}`),
    );
  }
}
