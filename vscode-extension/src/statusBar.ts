// The rill status bar item: renders StatusModel with formatStatus and opens the rill menu on click.

import * as vscode from 'vscode';

import { StatusParams } from './protocol';
import { formatStatus, ProgressValue, StatusModel } from './statusModel';

export const MENU_COMMAND = 'rill.showMenu';

export class StatusBar implements vscode.Disposable {
  private readonly model = new StatusModel();
  private readonly item: vscode.StatusBarItem;

  constructor(enabled: boolean) {
    // A stable id lets users hide or move the item, and lets the end-to-end test find it.
    this.item = vscode.window.createStatusBarItem('rill.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'rill';
    this.item.command = MENU_COMMAND;
    this.model.setEnabled(enabled);
    this.render();
    this.item.show();
  }

  setEnabled(enabled: boolean): void {
    this.model.setEnabled(enabled);
    this.render();
  }

  starting(): void {
    this.model.starting();
    this.render();
  }

  stopped(message?: string): void {
    this.model.stopped(message);
    this.render();
  }

  notFound(message: string): void {
    this.model.notFound(message);
    this.render();
  }

  onStatus(params: StatusParams): void {
    this.model.onStatus(params);
    this.render();
  }

  /** The `rill/stats` summary for the tooltip. */
  setStatsSummary(summary: string | undefined): void {
    this.model.setStatsSummary(summary);
    this.render();
  }

  onLoadProgress(value: ProgressValue): void {
    this.model.onLoadProgress(value);
    this.render();
  }

  dispose(): void {
    this.item.dispose();
  }

  private render(): void {
    const view = formatStatus(this.model.snapshot);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.accessibilityInformation = { label: view.tooltip, role: 'button' };
    this.item.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }
}
