// Next edit suggestions in VS Code: draws the marker of a `rill/nextEditAvailable` offer after the end of
// its target line, keeps the `rill.nextEditVisible` context key that binds Tab and Esc to it, jumps there
// (the `rill.nextEdit.jump` command) and turns it down (`rill.nextEdit.dismiss`). NextEditOffers decides;
// this file only connects it to the editor and the client.
//
// How the edit itself is shown: after the jump, VS Code's inline suggestion is triggered at the range's
// start, and the server answers that request with one item whose range covers the text it replaces. The
// streaming middleware turns every item into an insertion at the cursor, which would insert the new text
// in front of the old, so requests on the offer's line go to the server directly and its items keep their
// ranges. VS Code then shows the replacement itself and Tab accepts it, as for any inline suggestion.

import * as vscode from 'vscode';
import type { LanguageClient, Middleware } from 'vscode-languageclient/node';

import { normalizeUri } from './inlineStreaming';
import { MARKER_TEXT, NextEditOffers } from './nextEditOffer';
import { NEXT_EDIT_DISMISS_METHOD, NextEditAvailableParams } from './protocol';

/** The context key package.json's Tab and Esc keybindings wait for. */
export const VISIBLE_CONTEXT = 'rill.nextEditVisible';

type ProvideInline = NonNullable<Middleware['provideInlineCompletionItems']>;

export class NextEdit implements vscode.Disposable {
  private readonly offers = new NextEditOffers();
  /** The client the offer came from: the one to tell when the user turns it down. */
  private client: LanguageClient | undefined;
  private readonly marker: vscode.TextEditorDecorationType;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly log: (line: string) => void) {
    // Subtle and themed: the colour of code lenses, in italics, clear of the line's own text; a mark in
    // the overview ruler finds a target that is scrolled out of view.
    this.marker = vscode.window.createTextEditorDecorationType({
      after: {
        contentText: MARKER_TEXT,
        color: new vscode.ThemeColor('editorCodeLens.foreground'),
        fontStyle: 'italic',
        margin: '0 0 0 2ch',
      },
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.infoForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Right,
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.subscriptions.push(
      // The server withdraws its offer on any edit, so the marker must not outlive one.
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.contentChanges.length > 0 && this.offers.onEdit(event.document.uri.toString())) {
          this.render();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.offers.onActiveChanged(editor?.document.uri.toString())) {
          this.render();
        }
      }),
    );
  }

  /** The `rill/nextEditAvailable` handler; `client` is the one that sent it. */
  onAvailable(params: NextEditAvailableParams, client: LanguageClient): void {
    const offer = this.offers.onAvailable(params, activeDocument(), normalizeUri);
    if (offer === undefined) {
      return;
    }
    this.client = client;
    this.log(`next edit on offer at line ${offer.range.start.line + 1} (version ${offer.version})`);
    this.render();
  }

  /**
   * Wraps the streaming middleware: an inline request on the offer's line is the server's next edit item,
   * passed on with its range; every other request streams as before.
   */
  wrap(streaming: ProvideInline): ProvideInline {
    return (document, position, context, token, next) => {
      const key = { uri: document.uri.toString(), version: document.version };
      if (this.offers.servesInline(key, position.line)) {
        return next(document, position, context, token);
      }
      return streaming(document, position, context, token, next);
    };
  }

  /** Tab on the marker: the cursor goes to the edit, and VS Code asks for the edit as a suggestion there. */
  async jump(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const offer = this.offers.jump(documentOf(editor));
    this.render();
    if (editor === undefined || offer === undefined) {
      return;
    }
    const start = new vscode.Position(offer.range.start.line, offer.range.start.character);
    editor.selection = new vscode.Selection(start, start);
    editor.revealRange(new vscode.Range(start, start), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
  }

  /** Esc on the marker: the marker goes and the server never offers that edit again. */
  async dismiss(): Promise<void> {
    const offer = this.offers.dismiss();
    this.render();
    if (offer === undefined || this.client === undefined || !this.client.isRunning()) {
      return;
    }
    try {
      await this.client.sendNotification(NEXT_EDIT_DISMISS_METHOD, { textDocument: { uri: offer.uri } });
    } catch (error) {
      this.log(`dismissing the next edit failed: ${String(error)}`);
    }
  }

  /** Forgets the offer, e.g. when the server stops (its offers went with it). */
  reset(): void {
    this.offers.clear();
    this.client = undefined;
    this.render();
  }

  dispose(): void {
    this.offers.clear();
    void vscode.commands.executeCommand('setContext', VISIBLE_CONTEXT, false);
    this.marker.dispose();
    this.subscriptions.forEach((subscription) => subscription.dispose());
  }

  /** Puts the marker where NextEditOffers says, in the editor showing the offer's document, or nowhere. */
  private render(): void {
    const offer = this.offers.visible ? this.offers.offer : undefined;
    for (const editor of vscode.window.visibleTextEditors) {
      const shown = offer !== undefined && editor.document.uri.toString() === offer.uri;
      if (shown && offer.range.start.line < editor.document.lineCount) {
        const end = editor.document.lineAt(offer.range.start.line).range.end;
        editor.setDecorations(this.marker, [new vscode.Range(end, end)]);
      } else {
        editor.setDecorations(this.marker, []);
      }
    }
    void vscode.commands.executeCommand('setContext', VISIBLE_CONTEXT, offer !== undefined);
  }
}

function documentOf(editor: vscode.TextEditor | undefined): { uri: string; version: number } | undefined {
  return editor === undefined
    ? undefined
    : { uri: editor.document.uri.toString(), version: editor.document.version };
}

function activeDocument(): { uri: string; version: number } | undefined {
  return documentOf(vscode.window.activeTextEditor);
}
