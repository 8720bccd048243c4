// The client capabilities that opt in to rill's extensions of LSP, under `experimental`: streamed
// suggestions (`rillStreaming`), `rill/status` notifications (`rillStatus`, which the server sends only to
// clients declaring it) and acceptance figures (`rillAcceptance`: each inline item carries the command
// `rill.didAcceptCompletion` with its request id). A languageclient StaticFeature, because that is where a
// client adds capabilities the library does not know. Only type imports, so the unit tests can load it
// without VS Code.

import type { ClientCapabilities, FeatureState, StaticFeature } from 'vscode-languageclient/node';

/** What this extension declares; every key is handled elsewhere (InlineStreaming, StatusBar, Acceptance). */
export const EXPERIMENTAL_CAPABILITIES = {
  rillStreaming: true,
  rillStatus: true,
  rillAcceptance: true,
} as const;

export class RillCapabilities implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    // Keep whatever other features put under `experimental`.
    const experimental =
      typeof capabilities.experimental === 'object' && capabilities.experimental !== null
        ? (capabilities.experimental as Record<string, unknown>)
        : {};
    capabilities.experimental = { ...experimental, ...EXPERIMENTAL_CAPABILITIES };
  }

  initialize(): void {
    // Nothing to set up: the notifications these capabilities enable are handled by their own modules.
  }

  getState(): FeatureState {
    return { kind: 'static' };
  }

  clear(): void {}
}
