/**
 * Smoke test of a built ohcommodore, run by the release workflow on each platform and by
 * tests/release_test.ts here: the program prints this checkout's version, one command goes
 * through the inbox and a background scheduler (the scheduler starting the program again
 * included), and the inbox is read again without the scheduler (DuckDB's native addon in the
 * program itself), in a throwaway HOME.
 *
 * Usage: `deno run -A .ci/smoke.ts <program> [its leading arguments...]`, e.g.
 * `.ci/smoke.ts dist/ohcommodore-x86_64-unknown-linux-gnu`, or
 * `.ci/smoke.ts deno run $(deno run lib/self_command.ts) cli.ts`. Exits 1 with the reason on failure.
 *
 * @module
 */

import { runProcess } from "../lib/process.ts";
import { VERSION } from "../lib/version.ts";

/**
 * Runs the smoke test.
 *
 * @param argv The program and its leading arguments.
 * @param log Where progress lines go.
 * @throws {Error} When a step does not give what it should.
 */
export async function smoke(argv: string[], log: (line: string) => void): Promise<void> {
  const [program, ...lead] = argv;
  if (!program) throw new Error("Missing the program to test: pass its argv");
  const home = await Deno.makeTempDir({ prefix: "ohc-smoke-" });
  const run = async (args: string[]) => {
    const result = await runProcess(program, [...lead, ...args], {
      timeoutMs: 120_000,
      env: { HOME: home, NO_COLOR: "1" },
    });
    log(`$ ohcommodore ${args.join(" ")} -> exit ${result.code}`);
    return result;
  };
  const expect = (what: string, actual: unknown, wanted: unknown, stderr: string) => {
    if (actual !== wanted) {
      throw new Error(
        `${what}: got ${JSON.stringify(actual)}, wanted ${JSON.stringify(wanted)}\n${stderr}`,
      );
    }
  };
  try {
    const version = await run(["--version"]);
    expect("The version", version.stdout.trim(), VERSION, version.stderr);
    // No identity.json: the member is local@<host name>, as on a new laptop.
    const identity = await run(["inbox", "identity"]);
    expect("The identity's exit code", identity.code, 0, identity.stderr);
    const address = identity.stdout.trim();
    const started = await run(["scheduler", "start", "--json"]);
    expect("Starting the scheduler", started.code, 0, started.stderr);
    const { pid } = JSON.parse(started.stdout) as { pid?: number };
    try {
      // Quotes and $ survive: the command reaches bash as one argument.
      const sent = await run([
        "inbox",
        "send",
        address,
        `printf '%s\\n' "round trip on $(uname -s)"`,
        "--wait",
        "--timeout",
        "60s",
      ]);
      expect("The command's exit code", sent.code, 0, sent.stderr);
      expect(
        "The command's output",
        sent.stdout,
        `round trip on ${Deno.build.os === "darwin" ? "Darwin" : "Linux"}\n`,
        sent.stderr,
      );
      const listed = await run(["inbox", "list", "--json"]);
      const messages = JSON.parse(listed.stdout) as { status: string }[];
      expect("The message's status", messages[0]?.status, "done", listed.stderr);
    } finally {
      const stopped = await run(["scheduler", "stop"]);
      // Never leave a scheduler behind whose home is about to go.
      if (stopped.code !== 0 && pid) Deno.kill(pid, "SIGKILL");
      expect("Stopping the scheduler", stopped.code, 0, stopped.stderr);
    }
    // With no scheduler to ask, the program opens the database itself (DuckDB in this binary).
    const direct = await run(["inbox", "list", "--json"]);
    expect("Reading the inbox without a scheduler", direct.code, 0, direct.stderr);
    expect("Messages read directly", JSON.parse(direct.stdout).length, 1, direct.stderr);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await smoke(Deno.args, console.error);
    console.error(`ok: ${Deno.args.join(" ")}`);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
