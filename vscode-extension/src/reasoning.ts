// Shows a reasoning chain's result (`rill/reasoningResult`) in full in the "rill: reasoning" output
// channel: the server's showMessage carries only a one-line summary, and its logMessage lands among the
// server's other log lines. Kept free of `vscode` imports (the channel is an interface) so the unit tests
// can run it with plain Node.

import { fileURLToPath } from 'node:url';

import type { ReasoningResultParams, ReasoningStepReport } from './protocol';

export const REASONING_CHANNEL_NAME = 'rill: reasoning';

/** The code actions' wording for each task (docs/protocol.md, "Reasoning chains as code actions"). */
const TASK_TITLES: Record<string, string> = {
  fix: 'fix this step by step',
  explain: 'explain step by step',
  improve: 'improve step by step',
};

/** A field as one line of text: the server sends strings, but a missing or odd one must not throw. */
function oneLine(value: unknown): string {
  if (value === undefined || value === null) {
    return '';
  }
  return String(value)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim();
}

/** The document as a path where it is a file, else the URI as sent (`untitled:…`). */
function documentName(uri: unknown): string {
  const text = oneLine(uri);
  if (text.startsWith('file:')) {
    try {
      return fileURLToPath(text);
    } catch {
      // Not a URI Node can turn into a path (a Windows drive on Linux): show it as it came.
    }
  }
  return text;
}

/** What became of a step, in words: kept, dropped and why, or (explain) nothing to keep. */
function stepOutcome(step: ReasoningStepReport, task: string): string {
  const dropped = oneLine(step.droppedBecause);
  if (dropped !== '') {
    return `dropped because ${dropped}`;
  }
  if (step.kept === true) {
    return 'kept';
  }
  // An explanation step has no edit to keep; a step of another task without a reason was not kept.
  return task === 'explain' ? 'explanation' : 'not kept';
}

/**
 * The whole chain as text, one line per item: the task with the summary first, the document, the guard
 * that rejected the result (when one did), then every step with its title, its reason and what became
 * of it. Ends with a line break.
 */
export function renderReasoningResult(params: ReasoningResultParams): string {
  const task = oneLine(params.task);
  const title = TASK_TITLES[task] ?? `${task || 'reason'} step by step`;
  const lines = [`rill: ${title}: ${oneLine(params.summary) || '(no summary)'}`];
  const document = documentName(params.uri);
  if (document !== '') {
    lines.push(`  in ${document}`);
  }
  const rejectedBy = oneLine(params.rejectedBy);
  if (rejectedBy !== '') {
    lines.push(`  not applied, rejected by a guard: ${rejectedBy}`);
  }
  const steps = Array.isArray(params.steps) ? params.steps : [];
  if (steps.length === 0) {
    lines.push('  (no steps)');
  }
  steps.forEach((step, index) => {
    const number = Number.isInteger(step.number) ? step.number : index + 1;
    lines.push(`  step ${number}: ${oneLine(step.title) || '(untitled)'} (${stepOutcome(step, task)})`);
    const rationale = oneLine(step.rationale);
    if (rationale !== '') {
      lines.push(`    why: ${rationale}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

/** The part of `vscode.OutputChannel` the view uses. */
export interface ReasoningChannel {
  append(value: string): void;
  show(preserveFocus: boolean): void;
}

/**
 * Appends each chain to the channel (earlier chains stay above, separated by a blank line) and reveals
 * it without taking the focus from the editor the user is in.
 */
export class ReasoningView {
  private count = 0;

  constructor(private readonly channel: ReasoningChannel) {}

  /** The `rill/reasoningResult` handler. */
  onResult(params: ReasoningResultParams): void {
    let text: string;
    try {
      text = renderReasoningResult(params);
    } catch (error) {
      // Whatever arrived, the user should learn that a chain ended rather than see nothing.
      text = `rill: a reasoning chain ended, but its result could not be shown (${String(error)})\n`;
    }
    this.channel.append(this.count > 0 ? `\n${text}` : text);
    this.count += 1;
    this.channel.show(true);
  }

  /** Reveals the channel (the `rill.showReasoning` command). */
  show(): void {
    this.channel.show(true);
  }
}
