/**
 * One command on many ships at once, with one settled result per ship. A ship that cannot be
 * reached, a command that fails or times out, a run that is cancelled: each is a result, never
 * a throw, so one ship never hides the others.
 *
 * @module
 */

import { pLimit } from "../deps.ts";
import { checkDurationMs } from "../duration.ts";
import { OhcommodoreError, SshError, TimeoutError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import { DEFAULT_COMMAND_TIMEOUT_MS, type Message, newMessageId } from "../inbox/message.ts";
import { send } from "../inbox/send.ts";
import type { Ssh } from "../ssh.ts";
import { parseWholeNumber } from "../whole_number.ts";
import type { Ship } from "./member.ts";
import { matchByPrefix } from "./registry.ts";

/** How a ship's run ended. */
export type ExecStatus = "done" | "error" | "timeout" | "unreachable" | "cancelled";

/** One ship's result. */
export interface ExecResult {
  /** The ship's name. */
  ship: string;
  /** True when the command ran and exited 0. */
  ok: boolean;
  /** How it ended. */
  status: ExecStatus;
  /** The command's exit code; null when it never ran or did not finish. */
  exitCode: number | null;
  /** Its stdout (the tail, when capped). */
  stdout: string;
  /** Its stderr (the tail, when capped). */
  stderr: string;
  /** When the command started on the ship (else when the delivery began), ISO 8601. */
  startedAt: string;
  /** How long it ran on the ship (else how long the attempt took). */
  durationMs: number;
  /** The message's id in the ship's inbox. */
  messageId: string;
  /** Why it did not succeed. */
  error?: string;
}

/** Progress of a fleet exec, one event per ship as it starts and as it ends. */
export type ExecProgress =
  | { ship: string; phase: "running" }
  | { ship: string; phase: "finished"; result: ExecResult };

/** Options for `Fleet.exec`. */
export interface ExecOptions {
  /**
   * Which ships: names or unique prefixes, or a predicate.
   *
   * @default {every ship}
   */
  ships?: readonly string[] | ((ship: Ship) => boolean);
  /**
   * How long the command may run on each ship; at most 7 days.
   *
   * @default {30 * 60_000}
   */
  timeoutMs?: number;
  /**
   * How many ships at once.
   *
   * @default {32}
   */
  concurrency?: number;
  /** Stops waiting and cancels the command on the ships where it was sent. */
  signal?: AbortSignal;
  /** Told as each ship starts and ends. */
  onProgress?: (progress: ExecProgress) => void;
}

/**
 * The results of a fleet exec, one per ship, in the order of the ships.
 *
 * @example Fail a script when any ship failed
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const results = await fleet.exec("git -C ~/web pull --ff-only");
 * console.log(`${results.succeeded.length} ok, ${results.failed.length} failed`);
 * results.throwIfAnyFailed();
 * ```
 */
export class ExecResults extends Array<ExecResult> {
  /** `map`, `filter` and friends return plain arrays. */
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** The results that did not succeed. */
  get failed(): ExecResult[] {
    return this.filter((result) => !result.ok);
  }

  /** The results that succeeded. */
  get succeeded(): ExecResult[] {
    return this.filter((result) => result.ok);
  }

  /**
   * Throws when any ship did not succeed.
   *
   * @throws {FleetExecError} Naming the ships that failed, with every result.
   */
  throwIfAnyFailed(): void {
    if (this.failed.length) throw new FleetExecError([...this]);
  }
}

/**
 * Some ships of a fleet exec did not succeed.
 *
 * @example Report every ship of a failed exec
 * ```ts
 * import { Fleet, FleetExecError } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * try {
 *   (await fleet.exec("deno task test")).throwIfAnyFailed();
 * } catch (error) {
 *   if (!(error instanceof FleetExecError)) throw error;
 *   for (const result of error.results) console.log(result.ship, result.status);
 * }
 * ```
 */
export class FleetExecError extends OhcommodoreError {
  /** Every ship's result. */
  readonly results: ExecResult[];

  /**
   * Creates the error.
   *
   * @param results Every ship's result.
   */
  constructor(results: ExecResult[]) {
    const failed = results.filter((result) => !result.ok);
    super(
      `${failed.length} of ${results.length} ship(s) failed: ` +
        failed.map((result) => `${result.ship} (${result.error ?? result.status})`).join(", "),
    );
    this.results = results;
  }
}

// Read back from data (another process's --json), it is itself again.
registerErrorClass(FleetExecError);

/** What a fleet exec needs of its fleet. */
export interface ExecContext {
  /** The ssh client. */
  ssh: Ssh;
  /** The sender's home. */
  home?: string;
}

/** The most ships at once by default: every ship of a large `ship create` and more. */
export const DEFAULT_EXEC_CONCURRENCY = 32;
/** The most ships at once an exec may ask for. */
export const MAX_EXEC_CONCURRENCY = 1000;
// The wait on the ship outlives the command by this much, so its own timeout is what ends it.
const WAIT_GRACE_MS = 60_000;
// How long an interrupted exec waits to hear that a ship stopped its command.
const CANCEL_WAIT_MS = 15_000;

// The promise's value, or undefined when it fails or takes longer than `ms`.
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) =>
    timer = setTimeout(() => resolve(undefined), ms)
  );
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a command on the chosen ships.
 *
 * @param ships Every ship of the fleet.
 * @param command The shell command.
 * @param options Selection, timeout, concurrency, signal, progress.
 * @param context The ssh client and the sender's home.
 * @returns One result per chosen ship.
 * @throws {NotFoundError} When a name matches no ship; nothing is sent then.
 * @throws {UsageError} When `timeoutMs` is not above zero or longer than 7 days.
 */
export async function execOnShips(
  ships: readonly Ship[],
  command: string,
  options: ExecOptions,
  context: ExecContext,
): Promise<ExecResults> {
  const chosen = chooseShips(ships, options.ships);
  // Refused once, before anything is sent, rather than as one failure per ship.
  if (options.timeoutMs !== undefined) checkDurationMs(options.timeoutMs, "timeoutMs");
  const concurrency = options.concurrency ?? DEFAULT_EXEC_CONCURRENCY;
  parseWholeNumber(concurrency, "concurrency", { max: MAX_EXEC_CONCURRENCY });
  const limit = pLimit(concurrency);
  const results = await Promise.all(
    chosen.map((ship) => limit(() => runOn(ship, command, options, context))),
  );
  const all = new ExecResults();
  all.push(...results);
  return all;
}

/**
 * The ships a selection names: every ship, those a predicate keeps, or one per name or unique
 * prefix (each must find its ship: a typo must not quietly run on fewer ships).
 *
 * @param ships Every ship of the fleet.
 * @param which The selection.
 * @returns The chosen ships, in the fleet's order.
 * @throws {NotFoundError} When a name matches no ship.
 */
export function chooseShips(ships: readonly Ship[], which: ExecOptions["ships"]): Ship[] {
  if (which === undefined) return [...ships];
  if (typeof which === "function") return ships.filter(which);
  const picked = new Set(which.map((prefix) => matchByPrefix(ships, prefix)));
  return ships.filter((ship) => picked.has(ship));
}

async function runOn(
  ship: Ship,
  command: string,
  options: ExecOptions,
  context: ExecContext,
): Promise<ExecResult> {
  const id = newMessageId();
  const began = Date.now();
  const attempt = (status: ExecStatus, error: string): ExecResult => ({
    ship: ship.name,
    ok: false,
    status,
    exitCode: null,
    stdout: "",
    stderr: "",
    startedAt: new Date(began).toISOString(),
    durationMs: Date.now() - began,
    messageId: id,
    error,
  });
  if (options.signal?.aborted) return attempt("cancelled", "cancelled before it was sent");
  const tell = (progress: ExecProgress) => {
    try {
      options.onProgress?.(progress);
    } catch {
      // a failing callback must not turn one ship's result into everyone's throw
    }
  };
  tell({ ship: ship.name, phase: "running" });
  let result: ExecResult;
  try {
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const message = await send(ship.address, command, {
      id,
      timeoutMs,
      wait: true,
      waitMs: timeoutMs + WAIT_GRACE_MS,
      home: context.home,
      ssh: context.ssh,
      signal: options.signal,
      route: () => Promise.resolve({ destination: ship.destination, viaDestination: false }),
    });
    result = fromMessage(ship.name, message, began);
  } catch (error) {
    const reason = (error as Error).message;
    if (options.signal?.aborted) {
      // It may have been delivered: stop it there too, and hear that it stopped (bounded, so
      // an unreachable ship does not hold up the others' results).
      const cancelled = await withDeadline(ship.inbox.cancel(id), CANCEL_WAIT_MS);
      result = attempt(
        "cancelled",
        cancelled
          ? `cancelled (${cancelled.outcome} on the ship)`
          : "cancelled; the ship did not confirm",
      );
    } else if (error instanceof SshError) result = attempt("unreachable", reason);
    else if (error instanceof TimeoutError) result = attempt("timeout", reason);
    else result = attempt("error", reason);
  }
  tell({ ship: ship.name, phase: "finished", result });
  return result;
}

function fromMessage(ship: string, message: Message, began: number): ExecResult {
  const started = message.startedAt ? Date.parse(message.startedAt) : began;
  const finished = message.finishedAt ? Date.parse(message.finishedAt) : Date.now();
  const ok = message.status === "done" && message.exitCode === 0;
  const timedOut = message.exitCode === 124 && /^timed out/.test(message.error ?? "");
  const status: ExecStatus = ok
    ? "done"
    : timedOut
    ? "timeout"
    : message.error === "cancelled"
    ? "cancelled"
    : "error";
  return {
    ship,
    ok,
    status,
    exitCode: message.exitCode,
    stdout: message.result ?? "",
    stderr: message.stderr ?? "",
    startedAt: new Date(started).toISOString(),
    durationMs: Math.max(0, finished - started),
    messageId: message.id,
    ...(ok ? {} : { error: message.error ?? `status ${message.status}` }),
  };
}
