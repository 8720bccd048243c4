// The commands rill contributes (package.json `contributes.commands`) and the status bar's quick pick.
// (`rill.didAcceptCompletion`, run by VS Code when a suggestion is accepted, is Acceptance's, and is not
// in the command palette.)

import * as vscode from 'vscode';

import { ModelSetup } from './modelSetup';
import { NextEdit } from './nextEdit';
import { ReasoningView } from './reasoning';
import { ServerController } from './serverController';
import { isEnabled, openSettings, setEnabled } from './settings';
import { MENU_COMMAND } from './statusBar';
import { statsSummary } from './statsModel';
import { StatsView } from './statsView';

export const COMMANDS = {
  enable: 'rill.enable',
  disable: 'rill.disable',
  toggle: 'rill.toggle',
  triggerSuggestion: 'rill.triggerSuggestion',
  restartServer: 'rill.restartServer',
  showLog: 'rill.showLog',
  showReasoning: 'rill.showReasoning',
  openSettings: 'rill.openSettings',
  showMenu: MENU_COMMAND,
  showStats: 'rill.showStats',
  downloadModel: 'rill.downloadModel',
  nextEditJump: 'rill.nextEdit.jump',
  nextEditAccept: 'rill.nextEdit.accept',
  nextEditDismiss: 'rill.nextEdit.dismiss',
} as const;

interface MenuItem extends vscode.QuickPickItem {
  command: string;
}

export interface CommandTargets {
  controller: ServerController;
  output: vscode.LogOutputChannel;
  reasoning: ReasoningView;
  nextEdit: NextEdit;
  stats: StatsView;
  modelSetup: ModelSetup;
}

export function registerCommands({
  controller,
  output,
  reasoning,
  nextEdit,
  stats,
  modelSetup,
}: CommandTargets): vscode.Disposable[] {
  const register = (id: string, run: () => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, run);
  return [
    register(COMMANDS.enable, () => setEnabled(true)),
    register(COMMANDS.disable, () => setEnabled(false)),
    register(COMMANDS.toggle, () => setEnabled(!isEnabled())),
    // VS Code's own trigger asks every inline provider, rill's among them, as an explicit request.
    register(COMMANDS.triggerSuggestion, () =>
      vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'),
    ),
    register(COMMANDS.restartServer, () => controller.restart()),
    register(COMMANDS.showLog, () => output.show(true)),
    register(COMMANDS.showReasoning, () => reasoning.show()),
    register(COMMANDS.openSettings, () => openSettings()),
    register(COMMANDS.showMenu, () => showMenu(stats)),
    register(COMMANDS.showStats, () => stats.show()),
    register(COMMANDS.downloadModel, () => modelSetup.download()),
    // Tab and Esc while a next edit's marker or preview is shown (package.json keybindings).
    register(COMMANDS.nextEditJump, () => nextEdit.jump()),
    register(COMMANDS.nextEditAccept, () => nextEdit.accept()),
    register(COMMANDS.nextEditDismiss, () => nextEdit.dismiss()),
  ];
}

/** How long the menu waits for the statistics' summary before it opens without it. */
const MENU_STATS_WAIT_MS = 700;

async function showMenu(stats: StatsView): Promise<void> {
  const enabled = isEnabled();
  const figures = await stats.fetch(MENU_STATS_WAIT_MS);
  const items: MenuItem[] = [
    {
      label: enabled ? '$(circle-slash) Disable completions' : '$(check) Enable completions',
      description: 'rill.enable (diagnostics follow)',
      command: COMMANDS.toggle,
    },
    { label: '$(lightbulb) Trigger a suggestion', command: COMMANDS.triggerSuggestion },
    {
      label: '$(graph) Suggestion statistics',
      description: figures.ok ? statsSummary(figures.stats) : 'not available',
      command: COMMANDS.showStats,
    },
    { label: '$(output) Show log', command: COMMANDS.showLog },
    { label: '$(gear) Open settings', command: COMMANDS.openSettings },
    { label: '$(debug-restart) Restart server', command: COMMANDS.restartServer },
    { label: '$(cloud-download) Download the default model', command: COMMANDS.downloadModel },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'rill', placeHolder: 'rill' });
  if (picked !== undefined) {
    await vscode.commands.executeCommand(picked.command);
  }
}
