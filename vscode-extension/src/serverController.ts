// Owns the server's lifecycle: finds the binary, starts, stops and restarts the language client, and
// tells the user how to fix a missing binary. The model setup and the acceptance figures reach the
// running client through it.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { LanguageClient, State } from 'vscode-languageclient/node';

import { createClient } from './client';
import { InlineStreaming } from './inlineStreaming';
import { ModelSetup, ServerHandle } from './modelSetup';
import { NextEdit } from './nextEdit';
import { ReasoningView } from './reasoning';
import { executableName, Resolution, resolveServerPath } from './serverPath';
import { configuredServerPath } from './settings';
import { StatusBar } from './statusBar';

export class ServerController implements vscode.Disposable, ServerHandle {
  private client: LanguageClient | undefined;
  private stateSubscription: vscode.Disposable | undefined;

  constructor(
    private readonly extensionPath: string,
    private readonly output: vscode.LogOutputChannel,
    private readonly status: StatusBar,
    private readonly streaming: InlineStreaming,
    private readonly reasoning: ReasoningView,
    private readonly nextEdit: NextEdit,
    private readonly modelSetup: ModelSetup,
  ) {
    modelSetup.attach(this);
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** The running language client, for requests and notifications of other modules. */
  get languageClient(): LanguageClient | undefined {
    return this.client?.state === State.Running ? this.client : undefined;
  }

  /** The binary to run: `rill.serverPath`, the bundled one, or `rill` on PATH (see serverPath.ts). */
  resolveServer(): Resolution {
    makeBundledExecutable(this.extensionPath);
    return resolveServerPath({
      configured: configuredServerPath(),
      extensionPath: this.extensionPath,
      envPath: process.env.PATH,
      home: os.homedir(),
      platform: process.platform,
      isExecutable,
    });
  }

  async start(): Promise<void> {
    if (this.client !== undefined) {
      return;
    }
    const resolution = this.resolveServer();
    if (!resolution.ok) {
      this.reportNotFound(resolution);
      return;
    }
    // Not awaited: a second start must not slip in before `this.client` is set; the check is quick.
    void this.modelSetup.beforeStart();
    this.output.info(`starting ${resolution.path} --stdio (found via ${resolution.source})`);
    const client = createClient(
      resolution.path,
      this.output,
      this.streaming,
      this.status,
      this.reasoning,
      this.nextEdit,
      this.modelSetup,
    );
    this.client = client;
    this.stateSubscription = client.onDidChangeState((event) => {
      if (event.newState === State.Starting) {
        this.status.starting();
      } else if (event.newState === State.Stopped) {
        this.streaming.reset();
        this.nextEdit.reset();
        this.status.stopped();
      }
    });
    this.status.starting();
    try {
      await client.start();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.output.error(`the server did not start: ${message}`);
      this.status.stopped(message);
      void vscode.window
        .showErrorMessage(`rill: the server did not start (${message}).`, 'Show Log', 'Open Settings')
        .then((choice) => this.onChoice(choice));
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.stateSubscription?.dispose();
    this.stateSubscription = undefined;
    this.streaming.reset();
    this.nextEdit.reset();
    if (client !== undefined) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.warn(`stopping the server: ${String(error)}`);
      }
      await client.dispose();
    }
  }

  async restart(): Promise<void> {
    this.output.info('restarting the server');
    await this.stop();
    await this.start();
  }

  dispose(): void {
    void this.stop();
  }

  private reportNotFound(resolution: Extract<Resolution, { ok: false }>): void {
    this.output.error(resolution.message);
    this.output.info(`looked at: ${resolution.tried.join(', ')}`);
    this.status.notFound(resolution.message);
    void vscode.window
      .showErrorMessage(`rill: ${resolution.message}`, 'Open Settings', 'Show Log')
      .then((choice) => this.onChoice(choice));
  }

  private async onChoice(choice: string | undefined): Promise<void> {
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'rill.serverPath');
    } else if (choice === 'Show Log') {
      this.output.show(true);
    }
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Restores the executable bit on the bundled server: not every way of unpacking a .vsix keeps file
 * modes, and a bundled binary that cannot run would otherwise fall through to PATH.
 */
function makeBundledExecutable(extensionPath: string): void {
  if (process.platform === 'win32') {
    return;
  }
  const bundled = path.join(extensionPath, 'bin', executableName(process.platform));
  try {
    const mode = fs.statSync(bundled).mode;
    if ((mode & 0o111) === 0) {
      fs.chmodSync(bundled, mode | 0o755);
    }
  } catch {
    // Not bundled (a development build): nothing to fix.
  }
}
