/**
 * Making a fresh VM a fleet member: put the program on it, hand it its files (settings, keys,
 * the setup script) over stdin, and run `cloudinit/init.sh`, which ends with the member's
 * identity, inbox and scheduler.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Transport } from "../transport.ts";
import { InterruptedError, OhcommodoreError, RemoteCommandError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import type { ProvisionStep } from "./progress.ts";

/**
 * A step failed: says which, and keeps the cause.
 *
 * @example Name the step at which a ship failed
 * ```ts
 * import { CreateShipsError, Fleet, ProvisionError } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * await fleet.createShips("denoland/std").catch((error) => {
 *   const failures = error instanceof CreateShipsError ? error.failures : [error];
 *   for (const failure of failures) {
 *     if (failure instanceof ProvisionError) console.error(failure.vm, failure.step);
 *   }
 * });
 * ```
 */
export class ProvisionError extends OhcommodoreError {
  /** The VM being provisioned. */
  readonly vm: string;
  /** The step that failed. */
  readonly step: ProvisionStep;
  /** 130 when it was interrupted, else 1. */
  override readonly exitCode: number = 1;

  /**
   * Creates the error.
   *
   * @param vm The VM.
   * @param step The failed step.
   * @param cause What went wrong; what it says to run next is this error's `next`.
   */
  constructor(vm: string, step: ProvisionStep, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Setting up ${vm} failed at step "${step}": ${reason}`, {
      cause,
      next: (cause as OhcommodoreError | undefined)?.next,
    });
    this.vm = vm;
    this.step = step;
    if (cause instanceof InterruptedError) this.exitCode = cause.exitCode;
  }
}

/** A file to place on the member. */
export interface RemoteFile {
  /** Path on the member; `~/` is its home. */
  path: string;
  /** Contents. */
  data: string | Uint8Array;
  /** Permission bits, e.g. 0o600. */
  mode: number;
}

// Written to a side file and renamed, so a broken transfer never leaves half a program; umask
// 077 keeps secrets private from the first byte.
const UPLOAD_SCRIPT = 'set -e; umask 077; mkdir -p "$(dirname "$1")"; cat >"$1.part"; ' +
  'chmod "$2" "$1.part"; mv -f "$1.part" "$1"';

/**
 * Writes a file on a member from our stdin (never argv).
 *
 * @param transport The member.
 * @param file What to write where.
 * @param signal Stops the transfer (the file is then left as it was).
 */
export async function upload(
  transport: Transport,
  file: RemoteFile,
  signal?: AbortSignal,
): Promise<void> {
  const mode = file.mode.toString(8);
  const result = await transport.run(["sh", "-c", UPLOAD_SCRIPT, "sh", file.path, mode], {
    signal,
    stdin: file.data,
    timeoutMs: 300_000,
    retry: "idempotent", // rewriting the same file is harmless
  });
  if (result.code !== 0) {
    throw new RemoteCommandError(
      transport.destination,
      result.code,
      result.stderr.trim(),
      `Cannot write ${file.path} on ${transport.destination}: ${result.stderr.trim()}`,
    );
  }
}

// Several small files in one session: a line each, `<path>\t<mode>\t<base64 contents>`, paths
// relative to the home directory; each is written beside and renamed, as by UPLOAD_SCRIPT.
// GNU and newer Macs decode with -d; older Macs only with -D.
const UPLOAD_FILES_SCRIPT = 'set -e; umask 077; cd "$HOME"; tab=$(printf "\\t"); decode=-d; ' +
  '[ "$(printf eA== | base64 -d 2>/dev/null)" = x ] || decode=-D; ' +
  'while IFS=$tab read -r path mode data; do mkdir -p "$(dirname "$path")"; ' +
  'printf "%s" "$data" | base64 "$decode" >"$path.part"; chmod "$mode" "$path.part"; ' +
  'mv -f "$path.part" "$path"; done';

/**
 * Writes several small files on a member in one session (one round trip, not one each), from
 * our stdin (never argv). For the program, which may be large, use {@link upload}.
 *
 * @param transport The member.
 * @param files What to write where; paths start with `~/` or are absolute.
 * @param signal Stops the transfer (files not yet renamed are left as they were).
 */
export async function uploadFiles(
  transport: Transport,
  files: readonly RemoteFile[],
  signal?: AbortSignal,
): Promise<void> {
  const lines = files.map((file) => {
    const path = file.path.startsWith("~/") ? file.path.slice(2) : file.path;
    // A tab or newline would break the framing; a leading "-" would read as an option.
    if (!path || /[\t\n]|^-/.test(path)) {
      throw new OhcommodoreError(`Bad remote path "${file.path}"`);
    }
    const data = Buffer.from(file.data).toString("base64");
    return `${path}\t${file.mode.toString(8)}\t${data}\n`;
  });
  const result = await transport.run(["sh", "-c", UPLOAD_FILES_SCRIPT], {
    signal,
    stdin: lines.join(""),
    timeoutMs: 300_000,
    retry: "idempotent", // rewriting the same files is harmless
  });
  if (result.code !== 0) {
    const names = files.map((file) => file.path).join(", ");
    throw new RemoteCommandError(
      transport.destination,
      result.code,
      result.stderr.trim(),
      `Cannot write ${names} on ${transport.destination}: ${result.stderr.trim()}`,
    );
  }
}

/** What a new member gets. */
export interface ProvisionPlan {
  /** The VM's name. */
  vm: string;
  /** The executable to install as `~/.local/bin/ohcommodore`. */
  program: Uint8Array;
  /** The setup script. */
  initScript: string;
  /** Other files: `.env`, keys, fleet facts. */
  files: RemoteFile[];
  /**
   * Work that needs the uploaded files but not init.sh (a ship activating its new key), run
   * while init.sh runs: it costs the creation no time of its own. Its failure fails `step` and
   * stops init.sh.
   */
  alongsideInit?: { step: ProvisionStep; run: () => Promise<void> };
  /** Called as each step starts. */
  onStep?: (step: ProvisionStep) => void;
  /** Stops provisioning (an interrupted person); the step then fails with its reason. */
  signal?: AbortSignal;
}

/** How long init.sh may take: it installs toolchains on a real VM. */
export const INIT_TIMEOUT_MS = 30 * 60_000;

/**
 * Installs the program and files and runs init.sh, whose output is kept in
 * `~/.ohcommodore/init.log` on the member.
 *
 * @param transport The member.
 * @param plan What to install.
 * @throws {ProvisionError} Naming the failed step (for init.sh, the script's own step).
 */
export async function provision(transport: Transport, plan: ProvisionPlan): Promise<void> {
  const signal = plan.signal;
  const step = async (name: ProvisionStep, work: () => Promise<void>) => {
    plan.onStep?.(name);
    signal?.throwIfAborted();
    try {
      await work();
    } catch (error) {
      throw error instanceof ProvisionError ? error : new ProvisionError(plan.vm, name, error);
    }
  };
  // init.sh's essential "program" step checks that it runs.
  await step(
    "program",
    () => upload(transport, { path: REMOTE_PROGRAM, data: plan.program, mode: 0o755 }, signal),
  );
  await step("files", async () => {
    const script = { path: INIT_SCRIPT_PATH, data: plan.initScript, mode: 0o700 };
    await uploadFiles(transport, [...plan.files, script], signal);
  });
  await step("init.sh", async () => {
    // When the work alongside fails, the member fails: init.sh is stopped rather than waited for.
    const alongsideFailed = new AbortController();
    const alongside = plan.alongsideInit?.run().then(() => null, (error: unknown) => {
      const failure = new ProvisionError(plan.vm, plan.alongsideInit!.step, error);
      alongsideFailed.abort(failure);
      return failure;
    });
    const stop = signal
      ? AbortSignal.any([signal, alongsideFailed.signal])
      : alongsideFailed.signal;
    // The work alongside is waited for however init.sh ends: nothing outlives provisioning.
    const result = await transport.run(["bash", "-c", RUN_INIT_SCRIPT], {
      timeoutMs: INIT_TIMEOUT_MS,
      signal: stop,
    }).finally(() => alongside);
    if (result.code !== 0) {
      const lines = result.stdout.trim().split("\n");
      const failed = lines.findLast((line) => /step \S+ failed/.test(line));
      throw new OhcommodoreError(
        `${failed ?? `init.sh exited with ${result.code}`}; the end of ~/.ohcommodore/init.log ` +
          `on ${plan.vm}:\n${lines.slice(-8).join("\n")}`,
      );
    }
    const failure = await alongside;
    if (failure) throw failure;
  });
}

/** Where the setup script lives on a member. */
export const INIT_SCRIPT_PATH = "~/.ohcommodore/init.sh";

// pipefail: the script's exit code, not tee's, decides.
const RUN_INIT_SCRIPT = 'set -o pipefail; cd "$HOME" && ' +
  'bash "$HOME/.ohcommodore/init.sh" 2>&1 | tee "$HOME/.ohcommodore/init.log"';

// It crosses from the flagship to the laptop as data and comes back as itself.
registerErrorClass(ProvisionError);
