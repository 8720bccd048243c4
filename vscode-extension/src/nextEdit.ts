// Next edit suggestions in VS Code: draws the marker of a `rill/nextEditAvailable` offer after the end of
// its target line, jumps there on Tab (`rill.nextEdit.jump`), previews the edit in place, applies it on Tab
// again (`rill.nextEdit.accept`) and turns it down on Esc (`rill.nextEdit.dismiss`). The context keys
// `rill.nextEditVisible` and `rill.nextEditPreviewVisible` bind those keys (package.json). NextEditOffers
// decides; this file only connects it to the editor and the client.
//
// Why the preview is drawn here rather than by VS Code's inline suggestion: the server answers an inline
// request on the edit's line with an item whose range replaces text (`total` -> `acc`). VS Code (1.139)
// shows such an item only when it can be drawn as ghost text, i.e. when the old text is a subsequence of
// the new; any other replacement it shows only when the item is marked `isInlineEdit`, which extensions
// can set only through a proposed API. So after the jump the edit is fetched with `rill/nextEdit` and
// drawn with decorations: the old text struck through, the new text next to it. Inline requests on the
// offer's line get no item, so VS Code never shows the new text as an insertion in front of the old.

import * as vscode from 'vscode';
import type { LanguageClient, Middleware } from 'vscode-languageclient/node';

import { normalizeUri } from './inlineStreaming';
import { DocumentVersion, MARKER_TEXT, NextEditOffers, PREVIEW_HINT, previewText } from './nextEditOffer';
import {
  NEXT_EDIT_DISMISS_METHOD,
  NEXT_EDIT_METHOD,
  NextEditAvailableParams,
  NextEditResult,
  WireRange,
} from './protocol';

/** The context key package.json's Tab (jump) and Esc keybindings wait for: the marker is shown. */
export const VISIBLE_CONTEXT = 'rill.nextEditVisible';
/** The context key of Tab (accept) and Esc on the preview. */
export const PREVIEW_CONTEXT = 'rill.nextEditPreviewVisible';

type ProvideInline = NonNullable<Middleware['provideInlineCompletionItems']>;

/** Subtle and themed: the colour of code lenses, in italics, clear of the line's own text. */
const HINT_STYLE: vscode.ThemableDecorationAttachmentRenderOptions = {
  color: new vscode.ThemeColor('editorCodeLens.foreground'),
  fontStyle: 'italic',
  margin: '0 0 0 2ch',
};

export class NextEdit implements vscode.Disposable {
  private readonly offers = new NextEditOffers();
  /** The client the offer came from: the one to ask for the edit and to tell when it is turned down. */
  private client: LanguageClient | undefined;
  private readonly marker: vscode.TextEditorDecorationType;
  /** The text the previewed edit replaces, struck through, with the new text right after it. */
  private readonly replaced: vscode.TextEditorDecorationType;
  private readonly hint: vscode.TextEditorDecorationType;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly log: (line: string) => void) {
    this.marker = vscode.window.createTextEditorDecorationType({
      after: { ...HINT_STYLE, contentText: MARKER_TEXT },
      // A target scrolled out of view is still found in the overview ruler.
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.infoForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Right,
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    // The diff editor's colours: what goes in red and struck through, what comes in green.
    this.replaced = vscode.window.createTextEditorDecorationType({
      textDecoration: 'line-through',
      backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
      after: {
        backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
        border: '1px solid',
        borderColor: new vscode.ThemeColor('diffEditor.insertedLineBackground'),
      },
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.hint = vscode.window.createTextEditorDecorationType({
      after: { ...HINT_STYLE, contentText: PREVIEW_HINT, margin: '0 0 0 3ch' },
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.subscriptions.push(
      // The server withdraws its offer on any edit, so nothing shown may outlive one.
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.contentChanges.length > 0 && this.offers.onDocumentChanged(event.document.uri.toString())) {
          this.render();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.offers.onActiveChanged(editor?.document.uri.toString())) {
          this.render();
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((event) => {
        const uri = event.textEditor.document.uri.toString();
        if (this.offers.onCursor(uri, event.selections[0]?.active.line ?? -1)) {
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
   * Wraps the streaming middleware: on the offer's line the server would answer with the edit's item,
   * which the streaming middleware would turn into an insertion at the cursor (and VS Code would not show
   * as a replacement anyway), so no item is given there; the preview shows the edit. Every other request
   * streams as before.
   */
  wrap(streaming: ProvideInline): ProvideInline {
    return (document, position, context, token, next) => {
      if (this.offers.servesInline(documentVersion(document), position.line)) {
        return null;
      }
      return streaming(document, position, context, token, next);
    };
  }

  /** Tab on the marker: the cursor goes to the edit, which is fetched and previewed there. */
  async jump(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const offer = this.offers.jump(documentOf(editor));
    this.render();
    if (editor === undefined || offer === undefined) {
      return;
    }
    const start = toPosition(offer.range.start);
    editor.selection = new vscode.Selection(start, start);
    editor.revealRange(new vscode.Range(start, start), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    let result: NextEditResult | null = null;
    try {
      result =
        (await this.client?.sendRequest<NextEditResult | null>(NEXT_EDIT_METHOD, {
          textDocument: { uri: offer.uri },
          position: offer.range.start,
        })) ?? null;
    } catch (error) {
      this.log(`asking for the next edit failed: ${String(error)}`);
    }
    const edit = this.offers.onEdit(result, documentOf(vscode.window.activeTextEditor));
    if (edit === undefined) {
      this.log('the next edit was withdrawn before it could be shown');
    } else {
      this.log(`next edit preview at line ${edit.range.start.line + 1}: ${result?.reason ?? ''}`);
    }
    this.render();
  }

  /** Tab on the preview: applies the edit and leaves the cursor after it. */
  async accept(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const edit = this.offers.accept(documentOf(editor));
    this.render();
    if (editor === undefined || edit === undefined) {
      return;
    }
    const range = toRange(edit.range);
    const applied = await editor.edit((builder) => builder.replace(range, edit.newText));
    if (!applied) {
      this.log('the next edit could not be applied');
      return;
    }
    const end = editor.document.positionAt(editor.document.offsetAt(range.start) + edit.newText.length);
    editor.selection = new vscode.Selection(end, end);
  }

  /** Esc on the marker or the preview: it goes, and the server never offers that edit again. */
  async dismiss(): Promise<void> {
    const offer = this.offers.dismiss();
    this.render();
    if (offer === undefined || this.client === undefined || !this.client.isRunning()) {
      return;
    }
    try {
      await this.client.sendNotification(NEXT_EDIT_DISMISS_METHOD, { textDocument: { uri: offer.uri } });
      this.log(`next edit at line ${offer.range.start.line + 1} dismissed`);
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
    void vscode.commands.executeCommand('setContext', PREVIEW_CONTEXT, false);
    for (const disposable of [this.marker, this.replaced, this.hint, ...this.subscriptions]) {
      disposable.dispose();
    }
  }

  /** Draws what NextEditOffers says in the editor showing the offer's document, and nothing elsewhere. */
  private render(): void {
    const offer = this.offers.offer;
    const preview = this.offers.preview;
    for (const editor of vscode.window.visibleTextEditors) {
      const mine = offer !== undefined && editor.document.uri.toString() === offer.uri;
      const lineEnd = (line: number): vscode.Range[] => {
        if (line >= editor.document.lineCount) {
          return [];
        }
        const end = editor.document.lineAt(line).range.end;
        return [new vscode.Range(end, end)];
      };
      editor.setDecorations(this.marker, mine && this.offers.visible ? lineEnd(offer.range.start.line) : []);
      editor.setDecorations(
        this.replaced,
        mine && preview !== undefined
          ? [
              {
                range: toRange(preview.range),
                renderOptions: { after: { contentText: previewText(preview.newText) } },
              },
            ]
          : [],
      );
      editor.setDecorations(this.hint, mine && preview !== undefined ? lineEnd(preview.range.end.line) : []);
    }
    void vscode.commands.executeCommand('setContext', VISIBLE_CONTEXT, this.offers.visible);
    void vscode.commands.executeCommand('setContext', PREVIEW_CONTEXT, preview !== undefined);
  }
}

function documentVersion(document: vscode.TextDocument): DocumentVersion {
  return { uri: document.uri.toString(), version: document.version };
}

function documentOf(editor: vscode.TextEditor | undefined): DocumentVersion | undefined {
  return editor === undefined ? undefined : documentVersion(editor.document);
}

function activeDocument(): DocumentVersion | undefined {
  return documentOf(vscode.window.activeTextEditor);
}

function toPosition(position: { line: number; character: number }): vscode.Position {
  return new vscode.Position(position.line, position.character);
}

function toRange(range: WireRange): vscode.Range {
  return new vscode.Range(toPosition(range.start), toPosition(range.end));
}
