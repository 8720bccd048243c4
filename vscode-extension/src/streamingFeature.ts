// The client capability that opts in to rill's streamed suggestions (`experimental.rillStreaming`).
// A languageclient StaticFeature, because that is where a client adds capabilities the library does not
// know. Only type imports, so the unit tests can load it without VS Code.

import type { ClientCapabilities, FeatureState, StaticFeature } from 'vscode-languageclient/node';

export class StreamingFeature implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    // Keep whatever other features put under `experimental`.
    const experimental =
      typeof capabilities.experimental === 'object' && capabilities.experimental !== null
        ? (capabilities.experimental as Record<string, unknown>)
        : {};
    capabilities.experimental = { ...experimental, rillStreaming: true };
  }

  initialize(): void {
    // Nothing to set up: the partial notifications are handled by InlineStreaming.
  }

  getState(): FeatureState {
    return { kind: 'static' };
  }

  clear(): void {}
}
