/**
 * Local sandboxes: each "VM" is a directory on this machine with its own home, identity, inbox,
 * scheduler and repository clone. No cloud account and no SSH needed, which makes it the way to
 * try ohcommodore (`deno task demo`) and to run a fleet of agents on one big machine.
 *
 * @module
 */

import { join } from "node:path";
import { SandboxTransport, type Transport } from "../transport.ts";
import { OhcommodoreError, ProviderError } from "../errors.ts";
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
        throw new ProviderError(`A sandbox named "${name}" already exists in ${this.root}`, {
          refused: true,
        });
      }
      throw error;
    }
    await Deno.writeTextFile(join(home, MARKER), `${new Date().toISOString()}\n`);
    return { name, destination: home, status: "running" };
  }

  /**
   * Copies a sandbox: every file, directory and link of its home, with their modes and times;
   * sockets and pipes are left out (their processes are not copied), and files that vanish
   * while it copies (a running scheduler's) are skipped. The copy is made aside and renamed, so
   * a half copy is never a sandbox.
   */
  async copy(source: string, name: string): Promise<VmInfo> {
    const from = join(this.root, source);
    if (!(await exists(join(from, MARKER)))) {
      throw new OhcommodoreError(`No sandbox named "${source}" in ${this.root} to copy`);
    }
    const home = join(this.root, name);
    if (await exists(home)) {
      throw new ProviderError(`A sandbox named "${name}" already exists in ${this.root}`, {
        refused: true,
      });
    }
    // Hidden: list() passes over it, and a failed copy leaves nothing that looks like a sandbox.
    const partial = join(this.root, `.${name}.copying-${crypto.randomUUID().slice(0, 8)}`);
    try {
      await copyTree(from, partial);
      await Deno.writeTextFile(join(partial, MARKER), `${new Date().toISOString()}\n`);
      await Deno.rename(partial, home);
    } catch (error) {
      await Deno.remove(partial, { recursive: true }).catch(() => {});
      throw error;
    }
    return { name, destination: home, status: "running" };
  }

  /** The sandboxes under the root. */
  async list(): Promise<VmInfo[]> {
    const vms: VmInfo[] = [];
    try {
      for await (const entry of Deno.readDir(this.root)) {
        const home = join(this.root, entry.name);
        if (entry.name.startsWith(".")) continue; // a copy under way
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

// A directory tree, as `cp -a` copies it but for sockets and pipes, and for what vanishes
// meanwhile. Written here rather than run as cp: GNU and BSD cp differ on both.
async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.lstat(from);
  await Deno.mkdir(to, { mode: 0o700 });
  for await (const entry of Deno.readDir(from)) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    try {
      if (entry.isSymlink) {
        await Deno.symlink(await Deno.readLink(source), target);
      } else if (entry.isDirectory) {
        await copyTree(source, target);
      } else if (entry.isFile) {
        const file = await Deno.lstat(source);
        await Deno.copyFile(source, target);
        await Deno.chmod(target, (file.mode ?? 0o600) & 0o7777);
        if (file.atime && file.mtime) await Deno.utime(target, file.atime, file.mtime);
      } // sockets, pipes, devices: nothing to copy
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  await Deno.chmod(to, (info.mode ?? 0o700) & 0o7777);
  if (info.atime && info.mtime) await Deno.utime(to, info.atime, info.mtime);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
