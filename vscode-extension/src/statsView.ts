// `rill/stats` in the editor: the command "rill: Show suggestion statistics" lists the figures in a quick
// pick (StatsModel words them), the status bar menu's entry shows their summary, and the status bar
// tooltip keeps the last summary, refreshed a little after each show or accept is reported.

import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

import { STATS_METHOD, StatsResult } from './protocol';
import { StatsRow, statsRows, statsSummary } from './statsModel';

/** Reports come in bursts (a streamed suggestion, then its accept): one request after they settle. */
const REFRESH_DELAY_MS = 2000;

const GROUP_TITLES: Record<StatsRow['group'], string> = {
  overall: 'Suggestions',
  language: 'By language',
  source: 'By source',
  storage: 'Storage',
};

export type StatsOutcome = { ok: true; stats: StatsResult } | { ok: false; reason: string };

export class StatsView implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: () => LanguageClient | undefined,
    /** Receives the summary line for the status bar tooltip (undefined: none known). */
    private readonly onSummary: (summary: string | undefined) => void,
  ) {}

  /** Asks the server for its figures; a server without `rill/stats` or not running gives a reason. */
  async fetch(timeoutMs = 5000): Promise<StatsOutcome> {
    const client = this.client();
    if (client === undefined || !client.isRunning()) {
      return { ok: false, reason: 'the server is not running' };
    }
    const source = new vscode.CancellationTokenSource();
    const timer = setTimeout(() => source.cancel(), timeoutMs);
    try {
      const stats = await client.sendRequest<StatsResult>(STATS_METHOD, {}, source.token);
      this.onSummary(statsSummary(stats));
      return { ok: true, stats };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, reason: `the server did not answer rill/stats (${reason})` };
    } finally {
      clearTimeout(timer);
      source.dispose();
    }
  }

  /** Refreshes the tooltip's summary once reports have stopped for a moment. */
  scheduleRefresh(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.fetch();
    }, REFRESH_DELAY_MS);
  }

  /** The command: every figure in a quick pick, grouped. */
  async show(): Promise<void> {
    const outcome = await this.fetch();
    if (!outcome.ok) {
      void vscode.window.showWarningMessage(`rill: no suggestion statistics: ${outcome.reason}.`);
      return;
    }
    const items: vscode.QuickPickItem[] = [];
    let group: StatsRow['group'] | undefined;
    for (const row of statsRows(outcome.stats)) {
      if (row.group !== group) {
        group = row.group;
        items.push({ label: GROUP_TITLES[group], kind: vscode.QuickPickItemKind.Separator });
      }
      items.push({ label: row.label, description: row.description, detail: row.detail });
    }
    await vscode.window.showQuickPick(items, {
      title: `rill: suggestion statistics — ${statsSummary(outcome.stats)}`,
      placeHolder: 'Counted on this machine only; nothing leaves it.',
      matchOnDescription: true,
    });
  }

  dispose(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
    }
  }
}
