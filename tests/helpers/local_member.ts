/**
 * A fleet member in a temporary home on this machine, driven through the real CLI as a
 * subprocess (no ssh): for tests of behaviour that does not cross machines.
 */

import { removeMemberHome } from "./member_processes.ts";
import { fileURLToPath } from "node:url";
import { type Identity, writeIdentity } from "../../lib/identity.ts";
import { Inbox } from "../../lib/inbox/inbox.ts";
import { schedulerState } from "../../lib/inbox/scheduler_service.ts";
import { runProcess } from "../../lib/process.ts";

const CLI = fileURLToPath(new URL("../../cli.ts", import.meta.url));

/** The outcome of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A member with its own home, identity and inbox. */
export class LocalMember implements AsyncDisposable {
  readonly home: string;
  readonly identity: Identity;
  #children: Deno.ChildProcess[] = [];

  private constructor(home: string, identity: Identity) {
    this.home = home;
    this.identity = identity;
  }

  static async create(identity: Identity = { role: "captain", name: "tester" }) {
    const home = await Deno.makeTempDir({ prefix: "ohc-member-" });
    await writeIdentity(identity, home);
    return new LocalMember(home, identity);
  }

  get address(): string {
    return `${this.identity.role}@${this.identity.name}`;
  }

  /** Runs `ohcommodore ...args` with this member's HOME. */
  async cli(
    args: string[],
    options: { stdin?: string; env?: Record<string, string> } = {},
  ): Promise<CliResult> {
    const { code, stdout, stderr } = await runProcess(
      Deno.execPath(),
      ["run", "-A", "--quiet", CLI, ...args],
      { stdin: options.stdin, timeoutMs: 120_000, env: { ...this.#env(), ...options.env } },
    );
    return { code, stdout, stderr };
  }

  /** Starts the scheduler in the foreground as a child process; killed on dispose. */
  spawnScheduler(): Deno.ChildProcess {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CLI, "_scheduler"],
      env: this.#env(),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#children.push(child);
    return child;
  }

  /** Waits until this member's scheduler answers on its socket. */
  async schedulerAnswers(timeoutMs = 20_000): Promise<void> {
    const inbox = await Inbox.open({ home: this.home });
    await eventually(
      async () => (await schedulerState(inbox)).running || undefined,
      timeoutMs,
      "the scheduler to answer",
    );
  }

  #env(): Record<string, string> {
    return { HOME: this.home, NO_COLOR: "1", DENO_DIR: denoDir() };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
    }
    await removeMemberHome(this.home);
  }
}

/** Keeps Deno's cache where it was, although HOME changes. */
function denoDir(): string {
  return Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
}
