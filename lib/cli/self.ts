/**
 * How this program runs itself again (for the detached scheduler).
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/**
 * The argv that runs this CLI: the compiled binary itself, or `deno run` of `cli.ts`.
 *
 * @returns The program and its leading arguments.
 */
export function selfCommand(): string[] {
  const cli = new URL("../../cli.ts", import.meta.url);
  // A compiled binary is not called deno and serves its modules from inside itself.
  if (cli.protocol !== "file:" || Deno.execPath().split("/").at(-1) !== "deno") {
    return [Deno.execPath()];
  }
  return [Deno.execPath(), "run", "-A", "--quiet", fileURLToPath(cli)];
}
