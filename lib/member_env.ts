/**
 * Credentials a member's commands need (`claude -p`, `gh`), from the member's private
 * `~/.ohcommodore/.env`, so every command the scheduler runs has them however it was started
 * (systemd, `scheduler start` from any shell, init.sh).
 *
 * @module
 */

import { join } from "node:path";
import { parseEnv } from "node:util";
import { memberPaths } from "./paths.ts";
import { settingNames } from "./settings.ts";

/** The variables passed on to commands (the settings table's `passedToCommands`). */
export const COMMAND_CREDENTIALS: readonly string[] = settingNames("passedToCommands");

/**
 * The credentials in a member's `.env`, for commands' environment. Only a file private to its
 * owner is trusted.
 *
 * @param home The member's home.
 * @returns The variables that are set.
 */
export async function commandCredentials(home: string): Promise<Record<string, string>> {
  const file = join(memberPaths(home).configDir, ".env");
  try {
    const info = await Deno.stat(file);
    if (((info.mode ?? 0) & 0o077) !== 0 || info.uid !== Deno.uid()) return {};
    const values = parseEnv(await Deno.readTextFile(file));
    return Object.fromEntries(
      COMMAND_CREDENTIALS.flatMap((name) => values[name] ? [[name, values[name]]] : []),
    );
  } catch {
    return {};
  }
}
