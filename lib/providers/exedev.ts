/**
 * exe.dev: VMs from an API that is SSH itself (`ssh exe.dev <command>`, "the lobby"). The lobby
 * runs no shell, answers in JSON, and drops bursts of new connections, so calls share one
 * multiplexed connection and connection failures are retried by {@link Ssh}.
 *
 * @module
 */

import { pLimit, pRetry } from "../deps.ts";
import { SshTransport, type Transport } from "../transport.ts";
import { ProviderError, SshError, TimeoutError } from "../errors.ts";
import { lastLine } from "../process.ts";
import { Ssh } from "../ssh.ts";
import {
  keyIdentity,
  type RegisteredKey,
  type VmInfo,
  type VmProvider,
  type WaitOptions,
} from "./provider.ts";

const LOBBY_TIMEOUT_MS = 120_000;
const LOBBY_CONCURRENCY = 4;

/**
 * The exe.dev provider.
 *
 * @example List the VMs of an exe.dev account
 * ```ts
 * import { ExeDevProvider } from "@smithclay/ohcommodore/providers";
 *
 * const provider = new ExeDevProvider(); // the lobby at exe.dev, through your ssh keys
 * for (const vm of await provider.list()) console.log(vm.name, vm.destination);
 * ```
 */
export class ExeDevProvider implements VmProvider {
  /** Always `exedev`. */
  readonly kind = "exedev" as const;
  /** Keys registered with the account enter its VMs and the lobby. */
  readonly managesKeys = true;
  /** exe.dev VMs are whole machines: every step applies. */
  readonly skippedSteps: readonly string[] = [];
  readonly #ssh: Ssh;
  readonly #lobby: string;
  // The lobby drops bursts of new connections: a few calls at a time, however many ships.
  readonly #lobbyLimit = pLimit(LOBBY_CONCURRENCY);

  /**
   * A provider talking to the lobby.
   *
   * @param ssh The ssh client.
   * @param lobby The lobby's SSH destination; `exe.dev` unless `OHCOMMODORE_LOBBY` says otherwise.
   */
  constructor(
    ssh: Ssh = new Ssh(),
    lobby: string = Deno.env.get("OHCOMMODORE_LOBBY") || "exe.dev",
  ) {
    this.#ssh = ssh;
    this.#lobby = lobby;
  }

  /** `ssh exe.dev new --json --name=<vm> --no-email`. */
  create(name: string): Promise<VmInfo> {
    return this.#make(
      name,
      ["new", "--json", `--name=${name}`, "--no-email"],
      `create VM "${name}"`,
    );
  }

  /**
   * `ssh exe.dev cp <source> <name> --json`: the lobby copies the VM's disk (not its
   * processes) into a new VM, which boots like a new one.
   */
  copy(source: string, name: string): Promise<VmInfo> {
    return this.#make(
      name,
      ["cp", source, name, "--json"],
      `copy VM "${source}" to "${name}"`,
      (data) => {
        // The reference documents the copy's JSON less than new's: without the fields, ls has
        // them.
        if (typeof data.vm_name === "string" && typeof data.ssh_dest === "string") {
          return toVmInfo(data, "cp");
        }
        throw new ProviderError(`exe.dev "cp" answered without vm_name and ssh_dest`);
      },
    );
  }

  // `new` or `cp`: sent once, never twice (ssh cannot always tell whether the lobby started
  // it). Without a clear answer the VM may exist now: look, so it is used (and later removed)
  // rather than left running unseen. A refusal is a clear answer: a VM of that name is then
  // someone else's (another ship's, say), never taken for this one, whose undo would remove it.
  async #make(
    name: string,
    argv: string[],
    doing: string,
    read: (data: Record<string, unknown>) => VmInfo = (data) => toVmInfo(data, argv[0]),
  ): Promise<VmInfo> {
    let refusal: string | undefined;
    try {
      const result = await this.#call(argv, { attempts: 1 });
      const data = parseJson(result.stdout, argv[0]);
      if (typeof data.error === "string") refusal = data.error;
      if (refusal !== undefined || result.code !== 0) {
        throw new ProviderError(
          `exe.dev refused to ${doing}: ${refusal ?? lastLine(result.stderr)}`,
          { refused: refusal !== undefined },
        );
      }
      return read(data);
    } catch (error) {
      if (refusal !== undefined) throw error;
      const made = await this.list().then(
        (vms) => vms.find((vm) => vm.name === name),
        () => undefined,
      );
      if (made) return made;
      throw error;
    }
  }

  /** `ssh exe.dev ls --json`. */
  async list(): Promise<VmInfo[]> {
    const result = await this.#call(["ls", "--json"], { idempotent: true });
    const text = result.stdout.trim();
    if (text === "" || /^No VMs found/i.test(text)) return [];
    const data = parseJson(text, "ls");
    if (!Array.isArray(data.vms)) throw new ProviderError(`exe.dev "ls" answered without "vms"`);
    return data.vms.map((vm: unknown) => toVmInfo(vm, "ls"));
  }

  /** `ssh exe.dev rm <vm>...`, for the ones that exist. */
  async remove(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const existing = new Set((await this.list()).map((vm) => vm.name));
    const present = names.filter((name) => existing.has(name));
    if (present.length === 0) return;
    // Removing twice is harmless, so a broken connection may retry.
    const result = await this.#call(["rm", ...present], { idempotent: true, judged: true });
    if (result.code !== 0) {
      const left = (await this.list()).filter((vm) => present.includes(vm.name));
      if (left.length) {
        throw new ProviderError(
          `exe.dev did not remove ${left.map((vm) => vm.name).join(", ")}: ` +
            `${lastLine(result.stderr) || lastLine(result.stdout)}; try again`,
        );
      }
    }
  }

  /** Polls the VM with `true` until it answers (DNS and sshd come up after `new`). */
  async waitUntilReachable(vm: VmInfo, options: WaitOptions): Promise<Transport> {
    const transport = new SshTransport(vm.destination, this.#ssh.with({ attempts: 1 }));
    const deadline = Date.now() + options.timeoutMs;
    const unanswered = (error: unknown) =>
      error instanceof SshError || error instanceof TimeoutError;
    try {
      // A VM that has not booted usually fails fast (no DNS name yet, or sshd not listening),
      // so asking about once a second costs little and finds it ready soon after its boot.
      await pRetry(async () => {
        const left = Math.max(1000, deadline - Date.now());
        await transport.run(["true"], {
          timeoutMs: Math.min(30_000, left),
          signal: options.signal,
        });
      }, {
        retries: Infinity,
        minTimeout: 250,
        factor: 1.5,
        maxTimeout: 1000,
        maxRetryTime: options.timeoutMs,
        signal: options.signal,
        shouldRetry: ({ error }) => unanswered(error),
      });
    } catch (error) {
      if (!unanswered(error)) throw error;
      throw new TimeoutError(
        `VM "${vm.name}" (${vm.destination}) did not answer over ssh within ` +
          `${Math.round(options.timeoutMs / 1000)}s: ${(error as Error).message}`,
      );
    }
    return new SshTransport(vm.destination, this.#ssh);
  }

  /** `ssh exe.dev ssh-key add "<key>"`. */
  async addKey(publicKey: string): Promise<void> {
    const result = await this.#call(["ssh-key", "add", publicKey.trim()], {
      idempotent: true,
      judged: true,
    });
    if (result.code !== 0 && !/already/i.test(result.stdout + result.stderr)) {
      throw new ProviderError(`exe.dev refused the SSH key: ${lastLine(result.stderr)}`);
    }
  }

  /** `ssh exe.dev ssh-key remove "<key>"`, when it is registered. */
  async removeKey(publicKey: string): Promise<void> {
    // One call in the usual case; the list is consulted only when the lobby objects.
    const result = await this.#call(["ssh-key", "remove", publicKey.trim()], {
      idempotent: true,
      judged: true,
    });
    const registered = async () =>
      (await this.listKeys()).some((entry) => entry.key === keyIdentity(publicKey));
    if (result.code !== 0 && await registered()) {
      throw new ProviderError(`exe.dev did not remove the SSH key: ${lastLine(result.stderr)}`);
    }
  }

  /** `ssh exe.dev ssh-key list --json`. */
  async listKeys(): Promise<RegisteredKey[]> {
    const result = await this.#call(["ssh-key", "list", "--json"], { idempotent: true });
    const data = parseJson(result.stdout, "ssh-key list");
    if (!Array.isArray(data.ssh_keys)) {
      throw new ProviderError(`exe.dev "ssh-key list" answered without "ssh_keys"`);
    }
    return data.ssh_keys.map((entry: { public_key?: string; comment?: string }) => ({
      key: keyIdentity(entry.public_key ?? ""),
      // The comment travels in its own field, or at the end of the key line.
      comment: entry.comment ?? (entry.public_key ?? "").trim().split(/\s+/).slice(2).join(" "),
    }));
  }

  /** Runs `ssh exe.dev whoami` from the member, which completes its key's registration. */
  async activateKey(transport: Transport, signal?: AbortSignal): Promise<void> {
    const argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"];
    const result = await this.#lobbyLimit(() =>
      transport.run([...argv, this.#lobby, "whoami"], { timeoutMs: 60_000, signal })
    );
    if (result.code !== 0) {
      throw new ProviderError(
        `${transport.destination} cannot reach exe.dev with its new key: ${
          lastLine(result.stderr)
        }`,
      );
    }
  }

  /**
   * One lobby command. A non-zero exit without a JSON answer throws, unless `judged`: the
   * caller then reads the answer itself (a key that is already there, or already gone).
   */
  async #call(
    argv: string[],
    options: { idempotent?: boolean; attempts?: number; judged?: boolean } = {},
  ) {
    const ssh = options.attempts ? this.#ssh.with({ attempts: options.attempts }) : this.#ssh;
    const result = await this.#lobbyLimit(() =>
      ssh.run(this.#lobby, argv, {
        timeoutMs: LOBBY_TIMEOUT_MS,
        retry: options.idempotent ? "idempotent" : "connect",
        // A Ctrl-C must not cut a lobby call short: what it made (a VM, a key) is then unknown.
        // The call finishes, and the creation stops at its next step and undoes it.
        shielded: true,
      })
    );
    if (result.code !== 0 && !options.judged && !result.stdout.trim().startsWith("{")) {
      throw new ProviderError(
        `exe.dev "${argv.slice(0, 2).join(" ")}" failed (exit ${result.code}): ` +
          (lastLine(result.stderr) || lastLine(result.stdout)),
      );
    }
    return result;
  }
}

// deno-lint-ignore no-explicit-any
function parseJson(text: string, command: string): Record<string, any> {
  try {
    const data = JSON.parse(text);
    if (data && typeof data === "object") return data;
  } catch {
    // reported below
  }
  throw new ProviderError(
    `exe.dev "${command}" answered with something other than JSON: ` +
      JSON.stringify(text.slice(0, 200)),
  );
}

function toVmInfo(value: unknown, command: string): VmInfo {
  const vm = value as Record<string, unknown>;
  if (typeof vm?.vm_name !== "string" || typeof vm.ssh_dest !== "string") {
    throw new ProviderError(`exe.dev "${command}" answered without vm_name and ssh_dest`);
  }
  return {
    name: vm.vm_name,
    destination: vm.ssh_dest,
    status: typeof vm.status === "string" ? vm.status : "unknown",
  };
}

// It crosses from the flagship to the laptop as data and comes back as itself.
