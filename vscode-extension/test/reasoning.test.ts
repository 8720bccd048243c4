// A reasoning chain's result (`rill/reasoningResult`) is rendered in full and revealed without focus.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ReasoningResultParams } from '../src/protocol';
import { ReasoningView, renderReasoningResult } from '../src/reasoning';

/** The example of docs/protocol.md, with a guard's rejection. */
const FIX: ReasoningResultParams = {
  uri: 'file:///tmp/a.py',
  task: 'fix',
  summary: '2 step(s), 1 kept, 1 dropped; applied',
  steps: [
    { number: 1, title: 'Spell return', rationale: '`retrun` is not a keyword.', kept: true },
    {
      number: 2,
      title: 'Add braces',
      rationale: 'Blocks read better.',
      kept: false,
      droppedBecause: 'changes nothing',
    },
  ],
  applied: true,
  rejectedBy: 'the result looks like JavaScript, not python (it has `{`)',
};

test('the summary comes first, then the document, the guard, and every step', () => {
  assert.equal(
    renderReasoningResult(FIX),
    [
      'rill: fix this step by step: 2 step(s), 1 kept, 1 dropped; applied',
      '  in /tmp/a.py',
      '  not applied, rejected by a guard: the result looks like JavaScript, not python (it has `{`)',
      '  step 1: Spell return (kept)',
      '    why: `retrun` is not a keyword.',
      '  step 2: Add braces (dropped because changes nothing)',
      '    why: Blocks read better.',
      '',
    ].join('\n'),
  );
});

test('explanation steps, absent fields, line breaks and an untitled document', () => {
  const text = renderReasoningResult({
    uri: 'untitled:Untitled-1',
    task: 'explain',
    summary: '1 step(s)\nexplained',
    steps: [{ number: 1, title: 'Read the loop', rationale: '', kept: false }],
    applied: false,
  });
  assert.equal(
    text,
    [
      'rill: explain step by step: 1 step(s) explained',
      '  in untitled:Untitled-1',
      '  step 1: Read the loop (explanation)',
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(text, /rejected/);
});

test('no steps and a task without a known title still render', () => {
  const text = renderReasoningResult({
    uri: 'file:///x.rs',
    task: 'improve',
    summary: '0 step(s); not applied',
    steps: [],
    applied: false,
  });
  assert.match(text, /^rill: improve step by step: 0 step\(s\); not applied\n/);
  assert.match(text, /\(no steps\)/);
  const odd = renderReasoningResult({ task: 'golf', summary: 's' } as unknown as ReasoningResultParams);
  assert.match(odd, /^rill: golf step by step: s\n {2}\(no steps\)\n$/);
});

test('the view appends each chain, separated, and reveals the channel without focus', () => {
  const calls: string[] = [];
  const view = new ReasoningView({
    append: (value) => calls.push(`append:${value}`),
    show: (preserveFocus) => calls.push(`show:${preserveFocus}`),
  });
  view.onResult(FIX);
  view.onResult({ ...FIX, task: 'improve', rejectedBy: undefined });
  assert.equal(calls.length, 4);
  assert.equal(calls[0], `append:${renderReasoningResult(FIX)}`);
  assert.equal(calls[1], 'show:true');
  assert.match(calls[2] ?? '', /^append:\nrill: improve step by step: 2 step\(s\)/);
  assert.equal(calls[3], 'show:true');
  // A malformed notification still tells the user that a chain ended.
  view.onResult(null as unknown as ReasoningResultParams);
  assert.match(calls[4] ?? '', /a reasoning chain ended, but its result could not be shown/);
});
