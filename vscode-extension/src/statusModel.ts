// What the status bar shows, as a pure state machine fed by the client's lifecycle, `rill/status` and the
// model-loading `$/progress`, plus the formatting of that state into text and tooltip. No `vscode`
// import, so the unit tests check every state's rendering.

import { StatusParams } from './protocol';

/** The server process and engine as the user sees them. */
export type Phase = 'starting' | 'loading' | 'ready' | 'error' | 'stopped' | 'notFound';

export interface StatusSnapshot {
  phase: Phase;
  /** `rill.enable`: completions and diagnostics on. */
  enabled: boolean;
  /** Model-loading progress in percent, when the server reports one. */
  progress?: number;
  /** The last progress message ("reading weights"). */
  progressMessage?: string;
  /** Why, for `error`, `stopped` and `notFound`. */
  message?: string;
  /** Measurements of the last completion. */
  timeToFirstTokenMs?: number;
  tokensPerSecond?: number;
  generatedTokens?: number;
  promptTokens?: number;
  reusedTokens?: number;
  source?: string;
  /** The last `rill/stats` summary ("42% accepted (5 of 12 shown)"); outlives state changes. */
  statsSummary?: string;
}

/** The work-done progress values the server sends (LSP `WorkDoneProgressBegin/Report/End`). */
export interface ProgressValue {
  kind: 'begin' | 'report' | 'end';
  message?: string;
  percentage?: number;
}

export class StatusModel {
  private state: StatusSnapshot = { phase: 'starting', enabled: true };
  private statsSummary: string | undefined;

  get snapshot(): StatusSnapshot {
    return this.statsSummary === undefined
      ? { ...this.state }
      : { ...this.state, statsSummary: this.statsSummary };
  }

  /** The summary of the last `rill/stats` answer, kept whatever the engine's state does. */
  setStatsSummary(summary: string | undefined): void {
    this.statsSummary = summary;
  }

  setEnabled(enabled: boolean): void {
    this.state.enabled = enabled;
  }

  /** The language client is launching the server. */
  starting(): void {
    this.state = { phase: 'starting', enabled: this.state.enabled };
  }

  /** The server process ended or could not be started. */
  stopped(message?: string): void {
    this.state = { phase: 'stopped', enabled: this.state.enabled, message };
  }

  /** No server binary was found; `message` says where we looked. */
  notFound(message: string): void {
    this.state = { phase: 'notFound', enabled: this.state.enabled, message };
  }

  /** Applies a `rill/status` notification. Measurements are kept until the next completion reports. */
  onStatus(params: StatusParams): void {
    const previous = this.state;
    switch (params.state) {
      case 'loading':
        this.state = { phase: 'loading', enabled: previous.enabled, progress: previous.progress };
        return;
      case 'error':
        this.state = { phase: 'error', enabled: previous.enabled, message: params.message };
        return;
      case 'ready': {
        const next: StatusSnapshot = { phase: 'ready', enabled: previous.enabled };
        // A bare `ready` (the model just loaded) carries no measurements: keep the last ones.
        const measured = params.timeToFirstTokenMs !== undefined || params.generatedTokens !== undefined;
        const from = measured ? params : previous;
        next.timeToFirstTokenMs = from.timeToFirstTokenMs;
        next.tokensPerSecond = from.tokensPerSecond;
        next.generatedTokens = from.generatedTokens;
        next.promptTokens = from.promptTokens;
        next.reusedTokens = from.reusedTokens;
        next.source = from.source;
        this.state = next;
        return;
      }
    }
  }

  /** Applies model-loading progress. `begin` also means loading when `rill/status` has not said so yet. */
  onLoadProgress(value: ProgressValue): void {
    if (value.kind === 'end') {
      // The end message is "model ready" or "failed: …"; `rill/status` follows with the state itself.
      this.state.progress = undefined;
      this.state.progressMessage = undefined;
      return;
    }
    if (this.state.phase === 'starting') {
      this.state.phase = 'loading';
    }
    if (value.percentage !== undefined) {
      this.state.progress = Math.max(0, Math.min(100, Math.round(value.percentage)));
    }
    if (value.message !== undefined) {
      this.state.progressMessage = value.message;
    }
  }
}

/** "41 ms" below a second, "1.2 s" above. */
export function formatDuration(ms: number): string {
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Tokens per second, with one decimal when slow enough for it to matter. */
export function formatRate(tokensPerSecond: number): string {
  const rounded = tokensPerSecond < 10 ? tokensPerSecond.toFixed(1) : String(Math.round(tokensPerSecond));
  return `${rounded} tok/s`;
}

export interface StatusView {
  /** Status bar text with `$(icon)` codicons. */
  text: string;
  /** Plain-text tooltip (also the accessibility label). */
  tooltip: string;
  /** Drives the item's background colour. */
  severity: 'normal' | 'warning' | 'error';
}

/** The status bar item for a snapshot. */
export function formatStatus(s: StatusSnapshot): StatusView {
  const hint = 'Click for the rill menu.';
  switch (s.phase) {
    case 'notFound':
      return {
        text: '$(error) rill: no server',
        tooltip: `rill: server not found. ${s.message ?? ''} Set rill.serverPath. ${hint}`,
        severity: 'error',
      };
    case 'stopped':
      return {
        text: '$(debug-stop) rill: stopped',
        tooltip: `rill: the server is not running${s.message ? ` (${s.message})` : ''}. ${hint}`,
        severity: 'warning',
      };
    case 'error':
      return {
        text: '$(error) rill: error',
        tooltip: `rill: ${s.message ?? 'the engine failed'}. See the log. ${hint}`,
        severity: 'error',
      };
    case 'starting':
      return {
        text: '$(sync~spin) rill: starting',
        tooltip: `rill: starting the server. ${hint}`,
        severity: 'normal',
      };
    case 'loading': {
      const percent = s.progress !== undefined ? ` ${s.progress}%` : '';
      const detail = s.progressMessage ? ` (${s.progressMessage})` : '';
      return {
        text: `$(sync~spin) rill: loading model${percent}`,
        tooltip: `rill: loading the model${percent}${detail}. ${hint}`,
        severity: 'normal',
      };
    }
    case 'ready': {
      if (!s.enabled) {
        return {
          text: '$(circle-slash) rill: off',
          tooltip: `rill: ready, completions and diagnostics are turned off. ${hint}`,
          severity: 'warning',
        };
      }
      const parts: string[] = [];
      const details: string[] = [];
      if (s.timeToFirstTokenMs !== undefined) {
        parts.push(formatDuration(s.timeToFirstTokenMs));
        details.push(`first token after ${formatDuration(s.timeToFirstTokenMs)}`);
      }
      if (s.tokensPerSecond !== undefined) {
        parts.push(formatRate(s.tokensPerSecond));
        details.push(formatRate(s.tokensPerSecond));
      }
      if (s.generatedTokens !== undefined) {
        details.push(`${s.generatedTokens} tokens generated`);
      }
      if (s.promptTokens !== undefined) {
        const reused = s.reusedTokens !== undefined ? ` (${s.reusedTokens} from cache)` : '';
        details.push(`prompt ${s.promptTokens} tokens${reused}`);
      }
      if (s.source !== undefined) {
        details.push(`served by ${s.source}`);
      }
      const last = details.length > 0 ? `; last completion: ${details.join(', ')}` : '';
      const stats = s.statsSummary !== undefined ? `; suggestions: ${s.statsSummary}` : '';
      return {
        text: `$(check) rill: ready${parts.length > 0 ? ` · ${parts.join(' · ')}` : ''}`,
        tooltip: `rill: ready${last}${stats}. ${hint}`,
        severity: 'normal',
      };
    }
  }
}
