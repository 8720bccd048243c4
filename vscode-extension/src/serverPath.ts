// Finds the `rill` executable: the `rill.serverPath` setting, else the binary shipped in the extension
// (`bin/rill`), else the first `rill` on PATH. Pure apart from the injected file check, so the order and
// the error text are unit-tested.

import * as path from 'path';

export type ServerSource = 'setting' | 'bundled' | 'path';

export type Resolution =
  | { ok: true; path: string; source: ServerSource }
  | { ok: false; message: string; tried: string[] };

export interface ResolveInput {
  /** The `rill.serverPath` setting; empty or blank means unset. */
  configured: string | undefined;
  /** The extension's install folder (`context.extensionPath`). */
  extensionPath: string;
  /** The PATH environment variable. */
  envPath: string | undefined;
  /** The user's home directory, for a leading `~` in the setting. */
  home: string;
  /** `process.platform`: decides the executable's file name and PATH separator. */
  platform: NodeJS.Platform;
  /** True when `file` exists and may be executed. */
  isExecutable: (file: string) => boolean;
}

export function executableName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'rill.exe' : 'rill';
}

/** Expands a leading `~` so that settings copied from a shell work. */
export function expandHome(file: string, home: string): string {
  if (file === '~') {
    return home;
  }
  if (file.startsWith('~/') || file.startsWith('~\\')) {
    return path.join(home, file.slice(2));
  }
  return file;
}

export function resolveServerPath(input: ResolveInput): Resolution {
  const configured = input.configured?.trim() ?? '';
  if (configured !== '') {
    // An explicit setting is never silently replaced by another binary: a typo there should be seen.
    const file = expandHome(configured, input.home);
    if (input.isExecutable(file)) {
      return { ok: true, path: file, source: 'setting' };
    }
    return {
      ok: false,
      message: `rill.serverPath is set to "${configured}", but no executable file is there.`,
      tried: [file],
    };
  }
  const name = executableName(input.platform);
  const tried: string[] = [];
  const bundled = path.join(input.extensionPath, 'bin', name);
  tried.push(bundled);
  if (input.isExecutable(bundled)) {
    return { ok: true, path: bundled, source: 'bundled' };
  }
  const separator = input.platform === 'win32' ? ';' : ':';
  for (const dir of (input.envPath ?? '').split(separator)) {
    if (dir === '') {
      continue;
    }
    const candidate = path.join(dir, name);
    tried.push(candidate);
    if (input.isExecutable(candidate)) {
      return { ok: true, path: candidate, source: 'path' };
    }
  }
  return {
    ok: false,
    message:
      `The rill server was not found: it is not bundled with this extension (${bundled}) and "${name}" ` +
      'is not on PATH. Build it with `cargo build --release -p rill` and set rill.serverPath to ' +
      'target/release/rill.',
    tried,
  };
}
