// Builds the LanguageClient that runs `rill --stdio`: document selector, configuration sync, the
// streaming opt-in, and the hooks that feed the status bar, the ghost-text streaming, the next edit
// suggestions and the reasoning channel.

import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';

import { InlineStreaming } from './inlineStreaming';
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
import { StreamingFeature } from './streamingFeature';

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
  client.registerFeature(new StreamingFeature());
  // Registered before start, so the first `loading` status is not missed.
  client.onNotification(STATUS_METHOD, (params: StatusParams) => status.onStatus(params));
  client.onNotification(PARTIAL_METHOD, (params: PartialParams) => streaming.onPartial(params));
  client.onNotification(NEXT_EDIT_AVAILABLE_METHOD, (params: NextEditAvailableParams) =>
    nextEdit.onAvailable(params, client),
  );
  client.onNotification(REASONING_RESULT_METHOD, (params: ReasoningResultParams) =>
    reasoning.onResult(params),
  );
  return client;
}
