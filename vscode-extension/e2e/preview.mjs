// End-to-end test of a reasoning chain's edit in real VS Code: the server asks to apply it with a change
// annotation that needs confirmation, so VS Code shows its Refactor Preview first. With the packaged
// extension in code-server (see harness.mjs) and the server answering from a scripted fake backend
// (RILL_TEST_FAKE_SCRIPT: the small models never write a chain that passes the guards), it runs
// "rill: fix this step by step" on a function from the code action menu and checks that the Refactor
// Preview shows the change while the document still holds the original, then that Apply makes exactly
// that change (`total += values` -> `total += value`) and nothing else.
//
// Usage: node e2e/preview.mjs --vsix rill-linux-x64-0.1.0.vsix [--tools ~/.cache/rill/vscode-e2e] [--screenshot PATH]
// The preview's screenshot goes to e2e-results/reasoning-preview.png (and to PATH if given, such as
// ../docs/vscode-reasoning-preview.png). Exits non-zero on the first failed check, after saving a
// screenshot and the logs to e2e-results/preview/. No model is needed.

import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  BASE_SETTINGS,
  checkStatusReady,
  editorLines,
  focusEditor,
  goTo,
  log,
  offeredAction,
  openFile,
  parseOptions,
  pass,
  readLogs,
  runScenario,
  screenshot,
  settleSelection,
  sleep,
  until,
} from './harness.mjs';

const options = parseOptions();

// The fake writes in moments; the wait covers a slow start of the workbench and of the extension host.
const PREVIEW_MS = 90_000;

const MEAN_PY = [
  'import math',
  '',
  '',
  'def mean(values):',
  '    total = 0',
  '    for value in values:',
  '        total += values',
  '    return total / len(values)',
  '',
  '',
  'print(mean([1, 2]))',
  '',
].join('\n');
const MEAN_FIXED = MEAN_PY.replace('total += values', 'total += value');

// The chain the fake writes for the reasoning prompt (which contains "Steps (at most"), after the "1."
// the server puts first: one step whose result passes every guard (the same pair the server's
// lsp_in_process tests use).
const CHAIN = [
  ' Add each value, not the list',
  'Why: `total += values` adds the list on every pass instead of the current `value`.',
  '```python',
  'def mean(values):',
  '    total = 0',
  '    for value in values:',
  '        total += value',
  '    return total / len(values)',
  '```',
  '=== End ===',
  '',
].join('\n');
const SCRIPT = {
  rules: [{ contains: 'Steps (at most', text: CHAIN }],
  pieceDelayMs: 10,
  pieceChars: 16,
};

const SETTINGS = {
  ...BASE_SETTINGS,
  'rill.reasoning.timeoutMs': 30000,
  // The default, stated: the edit waits for the user's confirmation in the Refactor Preview.
  'rill.reasoning.apply': 'preview',
};

const TITLE = 'rill: fix this step by step';

/** The Refactor Preview view, once it holds changes (it shows a message while it has none). */
const previewPanel = (page) => page.locator('.bulk-edit-panel[data-state="data"]');

/** The mean.py editor tab (not the preview's diff editor, whose tab is named otherwise). */
const meanTab = (page) => page.locator('.tabs-container .tab[aria-label^="mean.py"]').first();

/** The lines of mean.py, shown in its own editor, read from the DOM. */
async function meanLines(page) {
  await meanTab(page).click();
  await page.locator('.tab.active[aria-label^="mean.py"]').waitFor();
  await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor();
  await sleep(300);
  return (await editorLines(page)).map((line) => line.trimEnd());
}

/** The lines of the diff editors on screen, by side (original, modified). */
async function diffSides(page) {
  return page.evaluate(() => {
    const sides = {};
    for (const line of document.querySelectorAll('.editor-instance .view-line')) {
      const side = line.closest('.original')
        ? 'original'
        : line.closest('.modified')
          ? 'modified'
          : undefined;
      if (side) {
        (sides[side] ??= []).push((line.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd());
      }
    }
    return sides;
  });
}

const sameLines = (actual, text) => JSON.stringify(actual) === JSON.stringify(text.split('\n'));

async function checkFakeServes(userData) {
  const warning = 'RILL_TEST_FAKE_SCRIPT is set';
  await until(
    `the server's log (rill.log) to say "${warning}": the variable must reach the server`,
    20_000,
    async () => readLogs(userData, /rill\.log$/i).includes(warning),
    250,
  );
  pass('the server serves from the scripted fake backend');
}

async function runChain(page) {
  // Select the whole function: lines 4 to 8, to the start of line 9.
  await focusEditor(page);
  await page.keyboard.press('Escape');
  await goTo(page, ':4:1');
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Shift+ArrowDown');
  }
  await settleSelection(page);
  const action = await offeredAction(page, TITLE, 'Refactor...', 6);
  await action.click();
  log(`clicked "${TITLE}"`);
}

async function checkPreview(page, file) {
  const panel = previewPanel(page);
  await until(
    'the Refactor Preview to show the chain\'s edit (a ".bulk-edit-panel" holding changes)',
    PREVIEW_MS,
    async () => (await panel.count()) > 0 && (await panel.isVisible()),
    200,
  );
  const row = panel.locator('.monaco-list-row', { hasText: 'mean.py' }).first();
  await until("mean.py in the Refactor Preview's tree", 10_000, async () => (await row.count()) > 0);
  const edit = panel.locator('.monaco-tl-contents.textedit', { hasText: 'total += value' }).first();
  await until(
    "the edit's line (`total += values`) in the Refactor Preview's tree",
    10_000,
    async () => (await edit.count()) > 0,
  );
  const rows = await panel.locator('.monaco-list-row').allTextContents();
  pass(`the Refactor Preview lists the change: ${JSON.stringify(rows)}`);

  // VS Code lists a change that needs confirmation unchecked: the user ticks it, then applies it.
  const checkbox = edit.locator('.edit-checkbox');
  const checked = async () =>
    (await checkbox.getAttribute('aria-checked')) === 'true' ||
    ((await checkbox.getAttribute('class')) ?? '').split(/\s+/).includes('checked');
  if (!(await checked())) {
    log('the edit is listed unchecked (it needs confirmation); ticking it');
    await checkbox.click();
    await until("the edit's checkbox to be ticked", 10_000, checked);
  }

  // The preview's diff editor (VS Code opens it with the preview; else a click on the file opens it)
  // shows the original on the left and, the edit ticked, the fix on the right.
  let sides = {};
  const diffShows = async () => {
    sides = await diffSides(page);
    return (
      (sides.original?.includes('        total += values') &&
        sides.modified?.includes('        total += value')) ||
      undefined
    );
  };
  if (!(await diffShows())) {
    await row.click().catch(() => {});
  }
  await until(
    "the preview's diff editor to show `total += values` on the left and `total += value` on the right",
    15_000,
    diffShows,
    200,
  ).catch((error) => {
    throw new Error(`${error.message}; the diff editor shows ${JSON.stringify(sides)}`);
  });
  pass("the preview's diff editor shows `total += values` -> `total += value`");
  await sleep(1000);
  await screenshot(page, options, 'reasoning-preview.png', options.screenshot);

  // Nothing is applied before the user confirms: the document in VS Code and on disk is the original.
  const before = await meanLines(page);
  if (!sameLines(before, MEAN_PY)) {
    throw new Error(`mean.py changed before Apply was pressed:\n${before.join('\n')}`);
  }
  if ((await meanTab(page).getAttribute('class'))?.split(/\s+/).includes('dirty')) {
    throw new Error('mean.py is marked modified before Apply was pressed');
  }
  if (fs.readFileSync(file, 'utf8') !== MEAN_PY) {
    throw new Error('mean.py changed on disk before Apply was pressed');
  }
  if (!(await panel.isVisible())) {
    throw new Error('the Refactor Preview went away while the document was looked at');
  }
  pass('mean.py still holds `total += values` while the preview waits for confirmation');
}

async function checkApply(page, file, userData) {
  const apply = previewPanel(page).locator('.buttons .monaco-button', { hasText: 'Apply' }).first();
  await apply.waitFor({ timeout: 10_000 });
  await apply.click();
  log('pressed Apply');
  await until(
    'the Refactor Preview to close after Apply (no ".bulk-edit-panel" holding changes)',
    20_000,
    async () => (await previewPanel(page).count()) === 0 || !(await previewPanel(page).isVisible()),
    200,
  );
  const after = await until('mean.py to read `total += value` after Apply', 20_000, async () => {
    const lines = await meanLines(page);
    return lines.some((line) => line === '        total += value') ? lines : undefined;
  });
  if (!sameLines(after, MEAN_FIXED)) {
    throw new Error(
      `Apply changed more than \`total += values\`:\n${after.join('\n')}\nexpected:\n${MEAN_FIXED}`,
    );
  }
  // Saved, the file holds exactly the fixed text (what the DOM cannot show: line endings, the last line).
  await focusEditor(page);
  await page.keyboard.press('Control+S');
  const saved = await until('mean.py to be saved', 10_000, async () => {
    const text = fs.readFileSync(file, 'utf8');
    return text !== MEAN_PY ? text : undefined;
  });
  if (saved !== MEAN_FIXED) {
    throw new Error(
      `mean.py as saved differs from the expected fix:\n${JSON.stringify(saved)}\nexpected:\n${JSON.stringify(MEAN_FIXED)}`,
    );
  }
  pass(`Apply changed \`total += values\` to \`total += value\` and nothing else:\n${after.join('\n')}`);
  // The server hears from VS Code's answer to workspace/applyEdit that the edit was applied.
  const summary = await until(
    'the server to log that the chain\'s edit was applied ("…; applied" in rill.log)',
    20_000,
    async () =>
      readLogs(userData, /rill\.log$/i)
        .split('\n')
        .find((line) => /step\(s\).*; applied/.test(line)),
    250,
  ).catch((error) => {
    const said = readLogs(userData, /rill\.log$/i)
      .split('\n')
      .filter((line) => line.includes('applied'));
    throw new Error(`${error.message}; it logged ${JSON.stringify(said)}`);
  });
  pass(`the server knows the edit was applied: ${summary.trim()}`);
}

runScenario(
  {
    name: 'preview',
    options,
    files: { 'mean.py': MEAN_PY },
    settings: SETTINGS,
    outputs: ['reasoning-preview.png'],
    setup: (run) => {
      const script = path.join(run, 'fake-script.json');
      fs.writeFileSync(script, JSON.stringify(SCRIPT, null, 2));
      return { RILL_TEST_FAKE_SCRIPT: script };
    },
  },
  async ({ page, workspace, userData }) => {
    const file = path.join(workspace, 'mean.py');
    await openFile(page, 'mean.py');
    await checkStatusReady(page);
    await checkFakeServes(userData);
    await runChain(page);
    await checkPreview(page, file);
    await checkApply(page, file, userData);
  },
);
