/**
 * How this program runs itself again: the detached scheduler, and the launcher a sandbox gets.
 *
 * @module
 */

import { basename } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The argv that runs this CLI: the compiled binary itself, or `deno run` of `cli.ts` (local
 * or remote).
 *
 * @returns The program and its leading arguments.
 */
export function selfCommand(): string[] {
  const deno = Deno.execPath();
  // A compiled binary is the CLI itself.
  if (!/^deno(\.exe)?$/.test(basename(deno))) return [deno];
  const cli = new URL("../cli.ts", import.meta.url);
  if (cli.protocol !== "file:") return [deno, "run", "-A", "--quiet", cli.href];
  // From a checkout, npm packages come from its node_modules: no registry, nothing written.
  return [deno, "run", "-A", "--quiet", "--node-modules-dir=manual", fileURLToPath(cli)];
}
