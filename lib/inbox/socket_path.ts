/**
 * Where a database's inbox server listens: a unix socket beside the database, or, when that
 * path is too long for a unix socket, in a private directory in /tmp named after the database.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";

// sun_path holds 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH = 107;

/**
 * The socket path of a database's inbox server (its scheduler).
 *
 * @param database The database file.
 * @returns The socket path.
 */
export function socketPathOf(database: string): string {
  return fittingSocketPath(`${database}.sock`);
}

/**
 * A unix socket path: the one wanted when it fits in a socket address, else one in a private
 * directory in /tmp named after it.
 *
 * @param wanted The path wanted.
 * @param room Bytes the path must leave free (ssh binds a control socket at `<path>.<16 chars>`).
 * @returns The path to use.
 */
export function fittingSocketPath(wanted: string, room = 0): string {
  if (new TextEncoder().encode(wanted).length + room <= MAX_SOCKET_PATH) return wanted;
  // A deep home (a sandbox, a test world) makes the path too long for a unix socket: use a
  // private directory in /tmp, named after the path so every member gets its own.
  const dir = join(tmpdir(), `ohc-wake-${Deno.uid()}`);
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = Deno.statSync(dir);
  if (info.uid !== Deno.uid() || ((info.mode ?? 0) & 0o077) !== 0) {
    throw new OhcommodoreError(`"${dir}" is not private to this user: remove it and try again`);
  }
  const hash = createHash("sha256").update(wanted.replace(/\.sock$/, "")).digest("hex")
    .slice(0, 24);
  return join(dir, `${hash}.sock`);
}
