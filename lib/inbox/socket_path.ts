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
  const beside = `${database}.sock`;
  if (new TextEncoder().encode(beside).length <= MAX_SOCKET_PATH) return beside;
  // A deep home (a sandbox, a test world) makes the path too long for a unix socket: use a
  // private directory in /tmp, named after the database so every member gets its own.
  const dir = join(tmpdir(), `ohc-wake-${Deno.uid()}`);
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = Deno.statSync(dir);
  if (info.uid !== Deno.uid() || ((info.mode ?? 0) & 0o077) !== 0) {
    throw new OhcommodoreError(`"${dir}" is not private to this user: remove it and try again`);
  }
  const hash = createHash("sha256").update(database).digest("hex").slice(0, 24);
  return join(dir, `${hash}.sock`);
}
