// End-to-end test of next edit suggestions in real VS Code. With the packaged extension in code-server
// (see harness.mjs) and the server answering from a scripted fake backend (RILL_TEST_FAKE_SCRIPT: the fake
// offers propagated renames, so no model is needed), it renames `total` to `acc` on one line by typing,
// then checks what a user sees: the marker after the next use's line, Tab jumping there and previewing the
// replacement in place (VS Code does not show it as an inline suggestion, see src/nextEdit.ts), Tab
// accepting it, the following use's marker, and Esc dismissing it (the server drops its code action).
//
// Usage: node e2e/nextEdit.mjs --vsix rill-linux-x64-0.1.0.vsix [--tools ~/.cache/rill/vscode-e2e] [--screenshot PATH]
// The marker's screenshot goes to e2e-results/next-edit.png (and to PATH if given, such as
// ../docs/vscode-next-edit.png). Exits non-zero on the first failed check, after saving a screenshot and
// the logs to e2e-results/next-edit/.

import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  BASE_SETTINGS,
  checkStatusReady,
  editorLines,
  focusEditor,
  goTo,
  log,
  openFile,
  parseOptions,
  pass,
  readLogs,
  runScenario,
  screenshot,
  sleep,
  until,
} from './harness.mjs';

const options = parseOptions();

const MARKER = 'Tab to jump: rill next edit';
const HINT = 'Tab to accept';
/** The server's code action for the offer (docs/protocol.md): `rill: next edit (line N): …`. */
const ACTION = 'rill: next edit';
// The offer comes a debounce after the typing stops; the wait covers a slow extension host.
const OFFER_MS = 30_000;

const SUMMARIZE_PY = [
  'def summarize(xs):',
  '    total = 0',
  '    for x in xs:',
  '        total += x',
  '    return total',
  '',
].join('\n');

const SETTINGS = {
  ...BASE_SETTINGS,
  // Look for the next edit soon after the typing stops (the server's default is 300 ms).
  'rill.nextEdit.debounceMs': 100,
};

/**
 * The texts decorations draw on each line on screen (index 0 is line 1): VS Code draws a decoration's
 * `after` text as a pseudo-element (`::after { content }`), so it is read from the computed style; and
 * the line's text drawn struck through.
 */
async function decorations(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll('.editor-instance .monaco-editor .view-lines > .view-line')];
    lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    const unquote = (content) =>
      content && content !== 'none' && content !== 'normal' ? JSON.parse(content) : undefined;
    return lines.map((line) => {
      const texts = [];
      let struck = '';
      for (const element of line.querySelectorAll('*')) {
        for (const pseudo of ['::before', '::after']) {
          const text = unquote(getComputedStyle(element, pseudo).content);
          if (text) texts.push(text.replace(/\u00a0/g, ' '));
        }
        if (
          element.children.length === 0 &&
          getComputedStyle(element).textDecorationLine.includes('line-through')
        ) {
          struck += element.textContent ?? '';
        }
      }
      return { texts, struck: struck.replace(/\u00a0/g, ' ') };
    });
  });
}

/** The line (1-based) showing the marker, or 0. */
async function markerLine(page) {
  const lines = await decorations(page);
  return lines.findIndex((line) => line.texts.some((text) => text.includes(MARKER))) + 1;
}

/** The cursor's line and column (1-based), from the status bar's "Ln 4, Col 9". */
async function cursor(page) {
  const text = await page
    .locator('.statusbar-item[id="status.editor.selection"]')
    .first()
    .textContent()
    .catch(() => '');
  const match = /Ln (\d+), Col (\d+)/.exec(text ?? '');
  return match ? { line: Number(match[1]), column: Number(match[2]) } : undefined;
}

const trimmedLines = async (page) => (await editorLines(page)).map((line) => line.trimEnd());

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

async function renameFirstUse(page) {
  await focusEditor(page);
  await page.keyboard.press('Escape');
  // `total` on line 2 starts at column 5.
  await goTo(page, ':2:5');
  await sleep(300);
  for (let i = 0; i < 'total'.length; i++) {
    await page.keyboard.press('Shift+ArrowRight');
  }
  await page.keyboard.type('acc', { delay: 30 });
  const lines = await until('line 2 to read `    acc = 0`', 10_000, async () => {
    const current = await trimmedLines(page);
    return current[1] === '    acc = 0' ? current : undefined;
  });
  pass(`typed the rename on line 2:\n${lines.join('\n')}`);
}

async function waitForMarker(page, line) {
  const at = await until(`the next edit's marker ("${MARKER}") on line ${line}`, OFFER_MS, async () => {
    const found = await markerLine(page);
    return found === line ? found : undefined;
  }).catch(async (error) => {
    throw new Error(`${error.message}; the marker is on line ${await markerLine(page)} (0: none)`);
  });
  pass(`the marker "${MARKER}" is shown after line ${at}`);
}

async function checkJump(page) {
  await page.keyboard.press('Tab');
  const where = await until(
    'the cursor to jump to line 4, column 9 (the start of `total`)',
    10_000,
    async () => {
      const current = await cursor(page);
      return current?.line === 4 && current.column === 9 ? current : undefined;
    },
  ).catch(async (error) => {
    throw new Error(`${error.message}; the cursor is at ${JSON.stringify(await cursor(page))}`);
  });
  pass(`Tab jumped to line ${where.line}, column ${where.column}`);
  if ((await markerLine(page)) !== 0) {
    throw new Error('the marker is still shown after the jump');
  }
  pass('the marker went away with the jump');
  // VS Code shows a replacing inline item only as ghost text, which `total` -> `acc` cannot be (see
  // src/nextEdit.ts): the extension previews the edit itself, the old text struck through, the new next
  // to it, and a hint after the line.
  const preview = await until('the preview of `total` -> `acc` on line 4', 10_000, async () => {
    const line = (await decorations(page))[3];
    return line?.struck === 'total' && line.texts.includes('acc') && line.texts.some((t) => t.includes(HINT))
      ? line
      : undefined;
  }).catch(async (error) => {
    throw new Error(
      `${error.message}; the lines' decorations are ${JSON.stringify(await decorations(page))}`,
    );
  });
  pass(`Tab showed the edit on line 4: ${JSON.stringify(preview)}`);
  await screenshot(page, options, 'next-edit-preview.png');
  const lines = await trimmedLines(page);
  if (lines[3] !== '        total += x') {
    throw new Error(`line 4 changed before the suggestion was accepted: ${JSON.stringify(lines[3])}`);
  }
  pass('line 4 is unchanged while the edit is previewed');
}

async function checkAccept(page) {
  await page.keyboard.press('Tab');
  const lines = await until('line 4 to read `        acc += x`', 10_000, async () => {
    const current = await trimmedLines(page);
    return current[3] === '        acc += x' ? current : undefined;
  }).catch(async (error) => {
    throw new Error(`${error.message}; the editor reads:\n${(await trimmedLines(page)).join('\n')}`);
  });
  const expected = SUMMARIZE_PY.replace('total = 0', 'acc = 0').replace('total += x', 'acc += x');
  if (JSON.stringify(lines) !== JSON.stringify(expected.split('\n'))) {
    throw new Error(`Tab changed more than line 4:\n${lines.join('\n')}`);
  }
  pass(`Tab accepted the next edit:\n${lines.join('\n')}`);
}

/** The rows of the code action menu at the cursor (Ctrl+.), which is closed again. */
async function codeActions(page, timeout = 10_000) {
  await page.keyboard.press('Control+.');
  const rows = page.locator('.action-widget .monaco-list-row');
  await rows.first().waitFor({ timeout });
  await sleep(500);
  const texts = await rows.allTextContents();
  await page.keyboard.press('Escape');
  await page
    .locator('.action-widget')
    .first()
    .waitFor({ state: 'hidden', timeout: 5_000 })
    .catch(() => {});
  return texts;
}

async function checkDismiss(page, userData) {
  // The offer is also a code action on the server: listed now, gone once Esc turned it down there.
  const before = await until('the code action menu to list the next edit', 20_000, async () => {
    const rows = await codeActions(page);
    return rows.some((row) => row.includes(ACTION)) ? rows : undefined;
  });
  pass(`the code action menu lists the offer: ${JSON.stringify(before)}`);
  if ((await markerLine(page)) !== 5) {
    throw new Error('closing the code action menu with Esc removed the marker');
  }
  await page.keyboard.press('Escape');
  await until('the marker to go away after Esc', 5_000, async () => (await markerLine(page)) === 0);
  await sleep(500);
  const lines = await trimmedLines(page);
  if (lines[4] !== '    return total') {
    throw new Error(`Esc changed line 5: ${JSON.stringify(lines[4])}`);
  }
  pass('Esc removed the marker and left line 5 as it was');
  await until(
    'the extension to log that it sent rill/nextEdit/dismiss ("dismissed" in its log)',
    10_000,
    async () => /next edit at line 5 dismissed/.test(readLogs(userData, /rill\.log$/i)),
    250,
  );
  // With nothing else to offer here the menu does not open at all.
  const after = await codeActions(page, 5_000).catch(() => []);
  if (after.some((row) => row.includes(ACTION))) {
    throw new Error(`the server still offers the edit after Esc: ${JSON.stringify(after)}`);
  }
  pass(`the server dropped the offer: the code action menu lists ${JSON.stringify(after)}`);
}

runScenario(
  {
    name: 'next-edit',
    options,
    files: { 'summarize.py': SUMMARIZE_PY },
    settings: SETTINGS,
    outputs: ['next-edit.png', 'next-edit-preview.png'],
    setup: (run) => {
      const script = path.join(run, 'fake-script.json');
      fs.writeFileSync(script, JSON.stringify({}, null, 2));
      return { RILL_TEST_FAKE_SCRIPT: script };
    },
  },
  async ({ page, userData }) => {
    await openFile(page, 'summarize.py');
    await checkStatusReady(page);
    await checkFakeServes(userData);
    await renameFirstUse(page);
    await waitForMarker(page, 4);
    await sleep(500);
    await screenshot(page, options, 'next-edit.png', options.screenshot);
    await checkJump(page);
    await checkAccept(page);
    // Accepting is an edit too: the server looks again and offers the last use.
    await waitForMarker(page, 5);
    await checkDismiss(page, userData);
  },
);
