/**
 * A PATH directory with every program of this machine but the ones named: how tests stand in
 * for a machine without GNU-only tools (a Mac has no `timeout` or `setsid`).
 *
 * @module
 */

import { join } from "node:path";

/**
 * Makes `<root>/bin-without` with a symlink to each program on this machine's usual PATH,
 * leaving out `missing`.
 *
 * @param root An existing directory to make it in.
 * @param missing Program names to leave out.
 * @returns The directory, to use as PATH.
 */
export async function binWithout(root: string, missing: readonly string[]): Promise<string> {
  const bin = join(root, "bin-without");
  await Deno.mkdir(bin);
  for (const dir of ["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"]) {
    const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
    for (const entry of entries) {
      if (missing.includes(entry.name)) continue;
      await Deno.symlink(join(dir, entry.name), join(bin, entry.name)).catch((error) => {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      });
    }
  }
  return bin;
}
