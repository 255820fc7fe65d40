/**
 * Files that only their member may read: the inbox database (commands, their output, the
 * credentials a command may print), the scheduler's log. Their privacy does not rest on the
 * directory alone: directories are 0700 and files 0600, and ones that exist with wider modes
 * (made by an older version, or by DuckDB under the process's umask) are tightened when opened.
 *
 * @module
 */

import { dirname } from "node:path";

/** A private directory's mode. */
export const PRIVATE_DIR_MODE = 0o700;
/** A private file's mode. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Makes a directory (and its parents) when missing, and tightens it to 0700 when group or others
 * have any access.
 *
 * @param dir The directory.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await tighten(dir, PRIVATE_DIR_MODE);
}

/**
 * Tightens files that exist to 0600 when group or others have any access; missing ones are left
 * missing.
 *
 * @param paths The files.
 */
export async function tightenFiles(...paths: string[]): Promise<void> {
  for (const path of paths) await tighten(path, PRIVATE_FILE_MODE);
}

/**
 * Makes a file 0600 for appending to: created empty when missing (its directory too, 0700),
 * tightened when it exists.
 *
 * @param path The file.
 */
export async function ensurePrivateFile(path: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  const file = await Deno.open(path, { append: true, create: true, mode: PRIVATE_FILE_MODE });
  file.close();
  await tighten(path, PRIVATE_FILE_MODE);
}

/**
 * Writes a private file whole: its text goes to a side file of its own (0600), which is then
 * renamed over it, so a reader never sees half a file and two writers never share a side file.
 * Its directory is made (0700) when missing.
 *
 * @param path The file.
 * @param text Its contents.
 * @param options `sync`: on disk before this returns (for what must survive a crash).
 */
export async function writePrivateFile(
  path: string,
  text: string,
  options: { sync?: boolean } = {},
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  const part = `${path}.${crypto.randomUUID()}.part`;
  const file = await Deno.open(part, {
    write: true,
    createNew: true,
    mode: PRIVATE_FILE_MODE,
  });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let offset = 0; offset < bytes.length;) offset += await file.write(bytes.subarray(offset));
    if (options.sync) await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(part).catch(() => {});
    throw error;
  }
  file.close();
  await Deno.rename(part, path);
}

async function tighten(path: string, mode: number): Promise<void> {
  const info = await Deno.stat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  // Only what is ours to change, and only when it is too open (a stat costs less than a chmod).
  if (!info || info.mode === null || (info.mode & 0o077) === 0) return;
  if (info.uid !== null && info.uid !== Deno.uid()) return;
  await Deno.chmod(path, mode);
}
