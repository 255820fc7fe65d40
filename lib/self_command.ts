/**
 * How this program runs itself again (the detached scheduler, a sandbox member's launcher), and
 * the permissions it runs with: the one list that `deno run` here, `deno compile` (tasks, the
 * release workflow, a build for a VM) and therefore every end-to-end test use.
 *
 * Run as a script it prints the permissions, for shells: `deno compile $(deno run
 * lib/self_command.ts) …`; with `--run`, also the flags `deno run` and `deno install` add
 * ({@link CLI_RUN_FLAGS}), which `deno compile` must not get.
 *
 * @module
 */

import { basename } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The permissions of the ohcommodore CLI, as `deno run`/`deno compile` flags. Each is as wide as
 * it is because of what the CLI must reach:
 *
 * - read, write: homes, `$TMPDIR`, INIT_PATH, OHCOMMODORE_SHIP_BIN, DuckDB files, the sandboxes
 *   of the local provider: paths that settings choose, so no fixed list.
 * - env: the settings (GH_TOKEN, OHCOMMODORE_*, HOME, …) and the environment passed on to ssh and
 *   to commands.
 * - run: ssh, scp, ssh-keygen, sh, bash, systemctl and this program itself (its path is wherever
 *   it was installed); the scheduler runs any command through bash, so a list of programs would
 *   not narrow what runs anyway.
 * - net: fetching INIT_URL (any host), and the unix sockets of inbox servers, here and through
 *   forwards (Deno checks those as `unix:<path>` net access; their paths depend on the uid).
 * - ffi: DuckDB is a native Node-API addon, which Deno loads only with FFI permission.
 * - sys=hostname,uid: a member's default name is its host name; private directories are checked
 *   against the process's uid.
 * - no-prompt: a missing permission fails at once, in a terminal too, rather than asking.
 */
export const CLI_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-ffi",
  "--allow-sys=hostname,uid",
  "--no-prompt",
];

/**
 * What `deno run` of the CLI adds to {@link CLI_PERMISSIONS}: a module behind a dynamic import
 * (the command tree, DuckDB, the YAML parser, each command's own code) loads when it is reached,
 * as it does in a compiled binary. Without it `deno run` walks all of them before the first line
 * runs: measured here, an agent task's runner started in 48 ms, and starts in 36 with it. Never
 * for `deno compile`: there it would leave those modules out of the binary.
 */
export const CLI_RUN_FLAGS: readonly string[] = ["--unstable-lazy-dynamic-imports"];

/**
 * The argv that runs this CLI: the compiled binary itself, or `deno run` of `cli.ts` (local
 * or remote) with {@link CLI_PERMISSIONS} and {@link CLI_RUN_FLAGS}.
 *
 * @returns The program and its leading arguments.
 */
export function selfCommand(): string[] {
  const deno = Deno.execPath();
  // A compiled binary is the CLI itself.
  if (!/^deno(\.exe)?$/.test(basename(deno))) return [deno];
  const run = [deno, "run", ...CLI_PERMISSIONS, ...CLI_RUN_FLAGS, "--quiet"];
  const cli = new URL("../cli.ts", import.meta.url);
  if (cli.protocol !== "file:") return [...run, cli.href];
  // From a checkout, npm packages come from its node_modules: no registry, nothing written.
  return [...run, "--node-modules-dir=manual", fileURLToPath(cli)];
}

if (import.meta.main) {
  const run = Deno.args.includes("--run") ? CLI_RUN_FLAGS : [];
  console.log([...CLI_PERMISSIONS, ...run].join(" "));
}
