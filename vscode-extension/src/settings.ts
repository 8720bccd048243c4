// Reading and writing the client-side view of the `rill` settings section: the on/off switch and which
// changes need a server restart. The server itself pulls the whole section (workspace/configuration).

import * as vscode from 'vscode';

export const SECTION = 'rill';

/** `rill.enable`, the switch shared by the client (no requests) and the server (empty answers). */
export function isEnabled(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('enable', true);
}

/**
 * Writes `rill.enable` where it takes effect: a workspace value would hide a user-level one, so the
 * workspace value is changed when there is one.
 */
export async function setEnabled(enabled: boolean): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const inspected = config.inspect<boolean>('enable');
  const target =
    inspected?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : inspected?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await config.update('enable', enabled, target);
}

/** `rill.serverPath`: which binary to start. */
export function configuredServerPath(): string | undefined {
  return vscode.workspace.getConfiguration(SECTION).get<string>('serverPath');
}

/** Settings the server reads only when the model loads, so a change needs a restart to apply. */
export const RESTART_KEYS = ['rill.model.path', 'rill.engine.threads'] as const;

/** Opens the Settings editor on rill's settings. */
export async function openSettings(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.openSettings', '@ext:rill.rill');
}
