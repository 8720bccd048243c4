// The commands rill contributes (package.json `contributes.commands`) and the status bar's quick pick.

import * as vscode from 'vscode';

import { NextEdit } from './nextEdit';
import { ReasoningView } from './reasoning';
import { ServerController } from './serverController';
import { isEnabled, openSettings, setEnabled } from './settings';
import { MENU_COMMAND } from './statusBar';

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
  nextEditJump: 'rill.nextEdit.jump',
  nextEditAccept: 'rill.nextEdit.accept',
  nextEditDismiss: 'rill.nextEdit.dismiss',
} as const;

interface MenuItem extends vscode.QuickPickItem {
  command: string;
}

export function registerCommands(
  controller: ServerController,
  output: vscode.LogOutputChannel,
  reasoning: ReasoningView,
  nextEdit: NextEdit,
): vscode.Disposable[] {
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
    register(COMMANDS.showMenu, () => showMenu()),
    // Tab and Esc while a next edit's marker or preview is shown (package.json keybindings).
    register(COMMANDS.nextEditJump, () => nextEdit.jump()),
    register(COMMANDS.nextEditAccept, () => nextEdit.accept()),
    register(COMMANDS.nextEditDismiss, () => nextEdit.dismiss()),
  ];
}

async function showMenu(): Promise<void> {
  const enabled = isEnabled();
  const items: MenuItem[] = [
    {
      label: enabled ? '$(circle-slash) Disable completions' : '$(check) Enable completions',
      description: 'rill.enable (diagnostics follow)',
      command: COMMANDS.toggle,
    },
    { label: '$(lightbulb) Trigger a suggestion', command: COMMANDS.triggerSuggestion },
    { label: '$(output) Show log', command: COMMANDS.showLog },
    { label: '$(gear) Open settings', command: COMMANDS.openSettings },
    { label: '$(debug-restart) Restart server', command: COMMANDS.restartServer },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'rill', placeHolder: 'rill' });
  if (picked !== undefined) {
    await vscode.commands.executeCommand(picked.command);
  }
}
