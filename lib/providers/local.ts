/**
 * Local sandboxes: each "VM" is a directory on this machine with its own home, identity, inbox,
 * scheduler and repository clone. No cloud account and no SSH needed, which makes it the way to
 * try ohcommodore (`deno task demo`) and to run a fleet of agents on one big machine.
 *
 * @module
 */

import { join } from "node:path";
import { SandboxTransport, type Transport } from "../transport.ts";
import { OhcommodoreError } from "../errors.ts";
import { Inbox } from "../inbox/inbox.ts";
import { schedulerState, stopSchedulerService } from "../inbox/scheduler_service.ts";
import type { VmInfo, VmProvider } from "./provider.ts";

// Marks a directory as a sandbox we made, so removal never touches anything else.
const MARKER = ".ohcommodore-sandbox";

/**
 * The local provider, keeping its sandboxes under one root directory.
 *
 * @example Make and remove a sandbox member
 * ```ts
 * import { LocalProvider } from "@smithclay/ohcommodore/providers";
 *
 * const provider = new LocalProvider(await Deno.makeTempDir());
 * const vm = await provider.create("ship-try-k3f9a1b2");
 * console.log(vm.name, vm.destination);
 * await provider.remove([vm.name]);
 * ```
 */
export class LocalProvider implements VmProvider {
  /** Always `local`. */
  readonly kind = "local" as const;
  /** Sandboxes are entered directly. */
  readonly managesKeys = false;
  /** Steps that would change this machine rather than the sandbox. */
  readonly skippedSteps: readonly string[] = [
    "zsh",
    "gh",
    "zellij",
    "rustup",
    "ohmyzsh",
    "chezmoi",
    "duckdb",
    "sshconfig",
    "shell",
  ];
  /** The directory holding the sandboxes. */
  readonly root: string;

  /**
   * A provider keeping sandboxes under `root`.
   *
   * @param root The directory holding the sandboxes (absolute).
   */
  constructor(root: string) {
    this.root = root;
  }

  /** Makes an empty sandbox home. */
  async create(name: string): Promise<VmInfo> {
    const home = join(this.root, name);
    await Deno.mkdir(this.root, { recursive: true, mode: 0o700 });
    try {
      await Deno.mkdir(home, { mode: 0o700 });
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new OhcommodoreError(`A sandbox named "${name}" already exists in ${this.root}`);
      }
      throw error;
    }
    await Deno.writeTextFile(join(home, MARKER), `${new Date().toISOString()}\n`);
    return { name, destination: home, status: "running" };
  }

  /** The sandboxes under the root. */
  async list(): Promise<VmInfo[]> {
    const vms: VmInfo[] = [];
    try {
      for await (const entry of Deno.readDir(this.root)) {
        const home = join(this.root, entry.name);
        if (entry.isDirectory && await exists(join(home, MARKER))) {
          vms.push({ name: entry.name, destination: home, status: "running" });
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return vms.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops each sandbox's scheduler and deletes its directory. */
  async remove(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const home = join(this.root, name);
      if (!(await exists(join(home, MARKER)))) continue;
      await stopScheduler(home);
      await Deno.remove(home, { recursive: true });
    }
  }

  /** A sandbox is reachable as soon as it exists. */
  waitUntilReachable(vm: VmInfo): Promise<Transport> {
    return Promise.resolve(new SandboxTransport(vm.destination));
  }

  /** Sandboxes need no keys. */
  addKey(): Promise<void> {
    return Promise.resolve();
  }

  /** Sandboxes need no keys. */
  removeKey(): Promise<void> {
    return Promise.resolve();
  }

  /** Sandboxes have no key registry. */
  listKeys(): Promise<null> {
    return Promise.resolve(null);
  }

  /** Nothing to activate. */
  activateKey(): Promise<void> {
    return Promise.resolve();
  }
}

async function stopScheduler(home: string): Promise<void> {
  // Only the database path matters here; the sandbox's identity may be half-written.
  const inbox = await Inbox.open({ home, identity: { role: "captain", name: "sandbox" } });
  try {
    await stopSchedulerService(inbox, 10_000);
  } catch {
    // A command that ignores SIGTERM: the sandbox is going away, so kill it.
    const { pid } = await schedulerState(inbox);
    if (pid !== null) Deno.kill(pid, "SIGKILL");
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
