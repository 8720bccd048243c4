// Makes VS Code show a streaming suggestion's newer text at the same document version and cursor.
//
// Why this is not one command: VS Code does not fetch again at an unchanged version and position once it
// holds a result for them, and an explicit trigger keeps the suggestion already on screen in front of a
// new one. Two ways around that, tried in this order:
//  1. Smooth: register the provider anew and trigger only rill's providers without marking the request
//     explicit. A request naming a provider the held result did not ask is fetched, and a non-explicit
//     result replaces the old one without the old one disappearing first. This leans on VS Code's
//     trigger arguments (`providerId`, `explicit`), so it is checked every time: the provider must have
//     been asked.
//  2. Fallback: hide the suggestion, then trigger. Always works, but the ghost text blinks for the time
//     VS Code takes to ask the provider. Used when (1) did not reach the provider, and for good once (1)
//     never has in several tries (a VS Code without those trigger arguments).

import * as vscode from 'vscode';

/** Attempts of the smooth way that must fail, with no success ever, before only the fallback is used. */
const SMOOTH_FAILURES_BEFORE_GIVING_UP = 3;

export class Redrawer implements vscode.Disposable {
  private registration: vscode.Disposable | undefined;
  private calls = 0;
  private smoothWorked = false;
  private smoothFailures = 0;

  constructor(
    private readonly extensionId: string,
    private readonly selector: vscode.DocumentSelector,
    /** Answers from the streaming session only; never sends a server request. */
    private readonly serve: (
      document: vscode.TextDocument,
      position: vscode.Position,
    ) => vscode.InlineCompletionItem[] | null,
  ) {}

  /** Asks VS Code to fetch the suggestion again; resolves after its fetch. */
  async redraw(): Promise<void> {
    if (this.smoothWorked || this.smoothFailures < SMOOTH_FAILURES_BEFORE_GIVING_UP) {
      const before = this.calls;
      this.registration?.dispose();
      this.registration = vscode.languages.registerInlineCompletionItemProvider(this.selector, {
        provideInlineCompletionItems: (document, position) => {
          this.calls += 1;
          return this.serve(document, position);
        },
      });
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger', {
        providerId: `${this.extensionId}:*`,
        explicit: false,
      });
      if (this.calls > before) {
        this.smoothWorked = true;
        return;
      }
      this.smoothFailures += 1;
    }
    // One round trip: both run back to back in the window, so the blank between them stays short.
    await vscode.commands.executeCommand('runCommands', {
      commands: ['editor.action.inlineSuggest.hide', 'editor.action.inlineSuggest.trigger'],
    });
  }

  dispose(): void {
    this.registration?.dispose();
    this.registration = undefined;
  }
}
