// Builds the LanguageClient that runs `rill --stdio`: document selector, configuration sync, the
// experimental opt-ins (streaming, status, acceptance), and the hooks that feed the status bar, the
// ghost-text streaming, the next edit suggestions, the reasoning channel and the model setup.

import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  MessageType,
  RevealOutputChannelOn,
  ServerOptions,
  ShowMessageNotification,
  ShowMessageParams,
  TransportKind,
} from 'vscode-languageclient/node';

import { RillCapabilities } from './capabilities';
import { InlineStreaming } from './inlineStreaming';
import { ModelSetup } from './modelSetup';
import { NextEdit } from './nextEdit';
import {
  LOAD_MODEL_TOKEN,
  NEXT_EDIT_AVAILABLE_METHOD,
  NextEditAvailableParams,
  PARTIAL_METHOD,
  PartialParams,
  REASONING_RESULT_METHOD,
  ReasoningResultParams,
  STATUS_METHOD,
  StatusParams,
} from './protocol';
import { ReasoningView } from './reasoning';
import { pipeServerLog, pipeServerStdout } from './serverLog';
import { SECTION } from './settings';
import { StatusBar } from './statusBar';

export const CLIENT_ID = 'rill';

/** Every file on disk and every unsaved buffer: the server has a lexer per language and copes with any. */
export const DOCUMENT_SELECTOR = [{ scheme: 'file' }, { scheme: 'untitled' }];

export function createClient(
  serverPath: string,
  output: vscode.LogOutputChannel,
  streaming: InlineStreaming,
  status: StatusBar,
  reasoning: ReasoningView,
  nextEdit: NextEdit,
  modelSetup: ModelSetup,
): LanguageClient {
  const serverOptions: ServerOptions = {
    command: serverPath,
    // With the stdio transport languageclient appends `--stdio` itself: `rill --stdio`.
    args: [],
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    // didChangeConfiguration on every change of `rill.*`; the server then pulls the section.
    synchronize: { configurationSection: SECTION },
    // The server logs to stderr (level from RILL_LOG, `info` by default); each line lands in the log
    // channel at its own level.
    outputChannel: output,
    stdioOptions: { stderr: pipeServerLog, stdout: pipeServerStdout },
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    middleware: {
      // A next edit's item keeps its range; every other inline request streams.
      provideInlineCompletionItems: nextEdit.wrap(streaming.middleware.provideInlineCompletionItems),
      handleWorkDoneProgress: (token, params, next) => {
        if (token === LOAD_MODEL_TOKEN) {
          status.onLoadProgress(params);
        }
        // VS Code's own progress notification still shows as well.
        next(token, params);
      },
    },
  };
  const client = new LanguageClient(CLIENT_ID, 'rill', serverOptions, clientOptions);
  client.registerFeature(new RillCapabilities());
  // Registered before start, so the first `loading` status is not missed.
  client.onNotification(STATUS_METHOD, (params: StatusParams) => {
    status.onStatus(params);
    modelSetup.onStatus(params);
  });
  // Replaces languageclient's own handler (a handler registered before start wins), so that the model
  // setup can show "no model found" with its download button instead of the bare text.
  client.onNotification(ShowMessageNotification.type, (params: ShowMessageParams) => {
    if (!modelSetup.handlesMessage(params.message)) {
      showMessage(params);
    }
  });
  client.onNotification(PARTIAL_METHOD, (params: PartialParams) => streaming.onPartial(params));
  client.onNotification(NEXT_EDIT_AVAILABLE_METHOD, (params: NextEditAvailableParams) =>
    nextEdit.onAvailable(params, client),
  );
  client.onNotification(REASONING_RESULT_METHOD, (params: ReasoningResultParams) =>
    reasoning.onResult(params),
  );
  return client;
}

/** What languageclient does with `window/showMessage` by default. */
function showMessage({ type, message }: ShowMessageParams): void {
  switch (type) {
    case MessageType.Error:
      void vscode.window.showErrorMessage(message);
      break;
    case MessageType.Warning:
      void vscode.window.showWarningMessage(message);
      break;
    default:
      void vscode.window.showInformationMessage(message);
  }
}
