// Checks a user-set `rill.model.path` before the server starts, so that a wrong path is reported in words
// rather than as a load failure: the file must exist, be a file, and start with the GGUF magic (`GGUF`).
// Also recognises the server's "no model found" report. Node only (no `vscode` import), unit-tested.

import * as fs from 'fs';
import * as path from 'path';

import { expandHome } from './serverPath';

/** The default model's size, as the download button says it. */
export const DEFAULT_MODEL_MB = 253;

export type ModelFileCheck =
  | { ok: true; file: string }
  | { ok: false; problem: 'missing' | 'notFile' | 'notGguf' | 'unreadable'; message: string };

/**
 * Checks `configured` (the setting's text). `~` is the home folder; a relative path is taken from `base`
 * (the folder the server starts in), or left unchecked (ok) when there is none.
 */
export async function checkModelFile(
  configured: string,
  home: string,
  base: string | undefined,
): Promise<ModelFileCheck> {
  const expanded = expandHome(configured.trim(), home);
  if (!path.isAbsolute(expanded) && base === undefined) {
    return { ok: true, file: expanded };
  }
  const file = path.isAbsolute(expanded) ? expanded : path.resolve(base as string, expanded);
  const said = `rill.model.path is set to "${configured}"`;
  let handle: fs.promises.FileHandle | undefined;
  try {
    const stat = await fs.promises.stat(file);
    if (!stat.isFile()) {
      return { ok: false, problem: 'notFile', message: `${said}, which is a folder, not a model file.` };
    }
    handle = await fs.promises.open(file, 'r');
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    if (bytesRead < 4 || magic.toString('latin1') !== 'GGUF') {
      return {
        ok: false,
        problem: 'notGguf',
        message: `${said}, which is not a GGUF model file (it does not start with "GGUF").`,
      };
    }
    return { ok: true, file };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { ok: false, problem: 'missing', message: `${said}, but there is no file there.` };
    }
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, problem: 'unreadable', message: `${said}, which cannot be read (${reason}).` };
  } finally {
    await handle?.close();
  }
}

/** The server's words when no model file exists (`rill/status` error, `window/showMessage`). */
export function isNoModelMessage(message: string | undefined): boolean {
  return message !== undefined && /\bno model found\b/i.test(message);
}

/** The server's words when a model could not be loaded, whatever the reason. */
export function isModelLoadMessage(message: string | undefined): boolean {
  return message !== undefined && /cannot load the model|not a valid GGUF/i.test(message);
}
