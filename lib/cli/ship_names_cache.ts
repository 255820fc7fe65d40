/**
 * The ship names cache that shell completion reads (see `completions.ts`): one VM name a line in
 * {@link MemberPaths.shipNamesCache}, private to its user and replaced atomically, so a shell
 * completing while it is written reads the old list or the new one, never half of one.
 *
 * @module
 */

import { dirname } from "node:path";
import { VM_NAME } from "../fleet/names.ts";
import { memberPaths } from "../paths.ts";
import { note, paint } from "./output.ts";

/**
 * Replaces the cached ship names.
 *
 * @param names The fleet's ships; anything that is not a VM name is left out.
 * @param home The member's home; defaults to `$HOME`.
 */
export async function writeShipNames(names: readonly string[], home?: string): Promise<void> {
  const file = memberPaths(home).shipNamesCache;
  await Deno.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = await Deno.makeTempFile({ dir: dirname(file), prefix: ".ships-" });
  try {
    await Deno.chmod(temp, 0o600);
    const valid = [...new Set(names)].filter((name) => VM_NAME.test(name)).sort();
    await Deno.writeTextFile(temp, valid.map((name) => `${name}\n`).join(""));
    await Deno.rename(temp, file);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Adds and removes names in the cache (after `ship create` or `ship destroy`), keeping the rest.
 *
 * @param change The names to add and to remove.
 * @param home The member's home; defaults to `$HOME`.
 */
export async function updateShipNames(
  change: { add?: readonly string[]; remove?: readonly string[] },
  home?: string,
): Promise<void> {
  const known = await readShipNames(home);
  const removed = new Set(change.remove ?? []);
  await writeShipNames([...known, ...change.add ?? []].filter((n) => !removed.has(n)), home);
}

/**
 * Reads the cached ship names.
 *
 * @param home The member's home; defaults to `$HOME`.
 * @returns The names; none when there is no cache.
 */
export async function readShipNames(home?: string): Promise<string[]> {
  try {
    const text = await Deno.readTextFile(memberPaths(home).shipNamesCache);
    return text.split("\n").filter((name) => VM_NAME.test(name));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/**
 * Runs a cache update after a command that succeeded: a failure is told on stderr, not thrown,
 * since completion is a convenience and the command's work is done.
 *
 * @param update The update, e.g. `() => writeShipNames(names)`.
 */
export async function refreshShipNames(update: () => Promise<void>): Promise<void> {
  try {
    await update();
  } catch (error) {
    note(paint("yellow", `Could not update the ship names for completion: ${error}`));
  }
}
