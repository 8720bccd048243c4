// Entry point: wires the output channels, status bar, ghost-text streaming, acceptance figures and
// statistics, next edit suggestions, reasoning view, model setup, commands and the server controller
// together, and reacts to settings changes.

import * as vscode from 'vscode';

import { Acceptance } from './acceptance';
import { DOCUMENT_SELECTOR } from './client';
import { registerCommands } from './commands';
import { InlineStreaming } from './inlineStreaming';
import { ModelSetup } from './modelSetup';
import { NextEdit } from './nextEdit';
import { REASONING_CHANNEL_NAME, ReasoningView } from './reasoning';
import { ServerController } from './serverController';
import { isEnabled, RESTART_KEYS, SECTION } from './settings';
import { StatusBar } from './statusBar';
import { StatsView } from './statsView';

let controller: ServerController | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  // One channel for the extension's own lines and the server's stderr, which languageclient copies here.
  const output = vscode.window.createOutputChannel('rill', { log: true });
  const status = new StatusBar(isEnabled());
  // Both reach the client through the controller, created below: it changes on every restart.
  const runningClient = () => controller?.languageClient;
  const acceptance = new Acceptance(runningClient, (line) => output.info(line));
  const stats = new StatsView(runningClient, (summary) => status.setStatsSummary(summary));
  acceptance.onDidReport(() => stats.scheduleRefresh());
  const streaming = new InlineStreaming(
    context.extension.id,
    DOCUMENT_SELECTOR,
    isEnabled,
    (line) => output.info(line),
    acceptance,
  );
  // Reasoning chains in full, apart from the log: plain text, no timestamps, one chain after another.
  const reasoningChannel = vscode.window.createOutputChannel(REASONING_CHANNEL_NAME);
  const reasoning = new ReasoningView(reasoningChannel);
  const nextEdit = new NextEdit((line) => output.info(line));
  const modelSetup = new ModelSetup(output);
  controller = new ServerController(
    context.extensionPath,
    output,
    status,
    streaming,
    reasoning,
    nextEdit,
    modelSetup,
  );
  context.subscriptions.push(output, reasoningChannel, status, acceptance, stats, streaming, nextEdit);
  context.subscriptions.push(modelSetup, controller);
  context.subscriptions.push(
    ...registerCommands({ controller, output, reasoning, nextEdit, stats, modelSetup }),
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => onSettingsChanged(event, status)),
  );
  await controller.start();
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}

/**
 * Most settings reach the server by itself (languageclient sends didChangeConfiguration and the server
 * pulls). The client acts on the rest: the on/off switch in the status bar, a new server binary, and the
 * two keys the server reads only at start.
 */
function onSettingsChanged(event: vscode.ConfigurationChangeEvent, status: StatusBar): void {
  if (!event.affectsConfiguration(SECTION)) {
    return;
  }
  if (event.affectsConfiguration(`${SECTION}.enable`)) {
    status.setEnabled(isEnabled());
  }
  if (event.affectsConfiguration(`${SECTION}.serverPath`)) {
    void controller?.restart();
    return;
  }
  const changed = RESTART_KEYS.filter((key) => event.affectsConfiguration(key));
  if (changed.length > 0) {
    void vscode.window
      .showInformationMessage(
        `rill: ${changed.join(' and ')} apply after a restart of the server.`,
        'Restart',
      )
      .then((choice) => (choice === 'Restart' ? controller?.restart() : undefined));
  }
}
