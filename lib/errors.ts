/**
 * The errors ohcommodore throws. Callers catch {@link OhcommodoreError} for any of them and the
 * subclasses for conditions they handle differently. An error says what went wrong and carries
 * its fields; its `next` names the `ohcommodore` command a person would run next, which the CLI
 * prints after the message on its one `error:` line, with the error's exit code.
 *
 * Where errors live:
 * - Here: every error whose fields are plain data (names, codes, text), whichever layer throws
 *   it. How errors cross a process boundary (`errorToData`, `errorFromData`) is error_data.ts.
 * - Beside their concept: an error that carries that concept's own types, so that this file, at
 *   the bottom of the layers, imports none of them. Each registers itself with
 *   `registerErrorClass` (error_data.ts) and is exported with the rest: for the inbox
 *   `NoSchedulerError`, `SchedulerNotStartedError` (the waiting message) and
 *   `DeliveryInterruptedError` (what the look-up found); for the fleet `CommandFailedError` (the
 *   finished message), `ProvisionError` (the step), `CreateShipsError` (the ships made),
 *   `FleetExecError` (every ship's result), `AgentStartError`, `ResumeRefusedError` and
 *   `BranchInUseError` (the tasks); for agents `GitError` (git's own error lines); for plans
 *   `PlanFileError` (the file and the key).
 * - Neither: limits on untrusted input are the built-in `RangeError` (a line past its size), and
 *   signals a module gives itself and catches are not errors a caller sees.
 *
 * @module
 */

import { dirname } from "node:path";
import { lastLine } from "./process.ts";

/**
 * The base of every error ohcommodore throws on purpose.
 *
 * @example Tell ohcommodore's errors from others
 * ```ts
 * import { OhcommodoreError } from "@smithclay/ohcommodore";
 * import { readIdentity } from "@smithclay/ohcommodore/inbox";
 *
 * try {
 *   await readIdentity();
 * } catch (error) {
 *   if (!(error instanceof OhcommodoreError)) throw error;
 *   console.error(`${error.name}: ${error.message} (exit ${error.exitCode})`);
 * }
 * ```
 */
export class OhcommodoreError extends Error {
  /** Exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  /**
   * What a person at the `ohcommodore` command line runs next, e.g.
   * `see "ohcommodore fleet status"`: the CLI prints it after the message. A script acts on the
   * error's class and fields instead. Set after construction only where the advice is learnt
   * later (a creation whose cleanup failed names the command that finishes it).
   */
  declare next?: string;

  /**
   * Creates the error.
   *
   * @param message Sentence-case description of what went wrong that quotes the offending value.
   * @param options `cause` keeps the underlying error; `next`, the command line to run next.
   */
  constructor(message: string, options?: OhcommodoreErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    if (options?.next !== undefined) this.next = options.next;
  }
}

/**
 * What every ohcommodore error takes besides its message: the standard `cause`, and the
 * command line a person runs next.
 */
export interface OhcommodoreErrorOptions extends ErrorOptions {
  /**
   * The `ohcommodore` command to run next, as the CLI prints it after the message:
   * `see "ohcommodore fleet status"`.
   */
  next?: string;
}

/**
 * Bad input from the user: a malformed address, an unknown status, an empty command.
 *
 * @example Reject bad input the way the CLI does
 * ```ts
 * import { UsageError } from "@smithclay/ohcommodore";
 * import { parseAddress } from "@smithclay/ohcommodore/inbox";
 *
 * try {
 *   parseAddress("nobody");
 * } catch (error) {
 *   if (error instanceof UsageError) console.error(error.message, error.exitCode); // 2
 * }
 * ```
 */
export class UsageError extends OhcommodoreError {
  /** Usage errors exit with 2. */
  override readonly exitCode: number = 2;
}

/**
 * Something named does not exist: an unknown message id, an unknown ship.
 *
 * @example Handle an unknown message id
 * ```ts
 * import { Inbox, NotFoundError } from "@smithclay/ohcommodore";
 *
 * const inbox = await Inbox.open({ home: await Deno.makeTempDir() });
 * try {
 *   await inbox.get("ffffffff");
 * } catch (error) {
 *   if (!(error instanceof NotFoundError)) throw error;
 *   console.error(error.message);
 * }
 * ```
 */
export class NotFoundError extends OhcommodoreError {
  /** What was looked for, as given (a ship name or prefix, a message id). */
  readonly query?: string;

  /**
   * Creates the error.
   *
   * @param message What was not found.
   * @param fields What was looked for; `next`, how to find what exists.
   */
  constructor(message: string, fields: { query?: string } & OhcommodoreErrorOptions = {}) {
    super(message, fields);
    if (fields.query !== undefined) this.query = fields.query;
  }
}

/**
 * A name prefix matches more than one thing.
 *
 * @example Tell a person which ships a prefix matched
 * ```ts
 * import { AmbiguousNameError, Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * try {
 *   await fleet.ship("web");
 * } catch (error) {
 *   if (!(error instanceof AmbiguousNameError)) throw error;
 *   console.error(`"${error.query}" matches ${error.matches.join(", ")}`);
 * }
 * ```
 */
export class AmbiguousNameError extends UsageError {
  /** The prefix as given. */
  readonly query: string;
  /** Every name it matches. */
  readonly matches: string[];

  /**
   * Creates the error.
   *
   * @param message Which names match.
   * @param fields The prefix and what it matches; `next`, what to do.
   */
  constructor(
    message: string,
    fields: { query: string; matches: string[] } & OhcommodoreErrorOptions,
  ) {
    super(message, fields);
    this.query = fields.query;
    this.matches = fields.matches;
  }
}

/**
 * SSH itself failed (ssh exited 255): the host is unreachable, refused us, or dropped.
 *
 * @example Retry later when a ship cannot be reached
 * ```ts
 * import { Fleet, SshError } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const ship = await fleet.ship("web");
 * await ship.send("true").catch((error) => {
 *   if (error instanceof SshError) console.error(`${error.destination} is down`);
 *   else throw error;
 * });
 * ```
 */
export class SshError extends OhcommodoreError {
  /** The SSH destination that failed. */
  readonly destination: string;
  /** True when the failure happened before the remote command could start. */
  readonly beforeCommand: boolean;

  /**
   * Creates the error.
   *
   * @param destination The SSH destination.
   * @param message What went wrong.
   * @param beforeCommand Whether ssh failed before the remote command started.
   * @param options The `cause`, and the command to run next.
   */
  constructor(
    destination: string,
    message: string,
    beforeCommand: boolean,
    options?: OhcommodoreErrorOptions,
  ) {
    super(message, options);
    this.destination = destination;
    this.beforeCommand = beforeCommand;
  }
}

/**
 * A remote command ran and failed with a non-zero exit code.
 *
 * @example Read the remote exit code and stderr
 * ```ts
 * import { RemoteCommandError, send } from "@smithclay/ohcommodore";
 * await send("captain@ship-web-k3f9a1b2", "true").catch((error) => {
 *   if (error instanceof RemoteCommandError) console.error(error.remoteExitCode, error.stderrTail);
 *   else throw error;
 * });
 * ```
 */
export class RemoteCommandError extends OhcommodoreError {
  /** The SSH destination the command ran on. */
  readonly destination: string;
  /** The exit code of the remote command. */
  readonly remoteExitCode: number;
  /** The last lines of the command's stderr. */
  readonly stderrTail: string;

  /**
   * Creates the error.
   *
   * @param destination The SSH destination.
   * @param remoteExitCode The remote exit code.
   * @param stderrTail The tail of stderr.
   * @param message What ran.
   * @param options The `cause`, and the command to run next.
   */
  constructor(
    destination: string,
    remoteExitCode: number,
    stderrTail: string,
    message: string,
    options?: OhcommodoreErrorOptions,
  ) {
    super(message, options);
    this.destination = destination;
    this.remoteExitCode = remoteExitCode;
    this.stderrTail = stderrTail;
  }
}

/**
 * A step did not finish within its deadline.
 *
 * @example Give up waiting for a command
 * ```ts
 * import { Inbox, TimeoutError } from "@smithclay/ohcommodore";
 *
 * const inbox = await Inbox.open();
 * const message = await inbox.deliver({ recipient: inbox.address, command: "sleep 600" });
 * try {
 *   await inbox.waitFor(message.id, { timeoutMs: 5_000 });
 * } catch (error) {
 *   if (!(error instanceof TimeoutError)) throw error;
 *   console.error(`still waiting: ${error.message}`);
 * }
 * ```
 */
export class TimeoutError extends OhcommodoreError {
  /** Timeouts exit with 124, as `timeout(1)` does. */
  override readonly exitCode: number = 124;
  /** The message waited for, when the wait was for one. */
  readonly messageId?: string;
  /** That message's status when the wait gave up. */
  readonly status?: string;

  /**
   * Creates the error.
   *
   * @param message What did not finish, and how long it was given.
   * @param fields The message waited for and its status when the wait gave up; `next`, how to
   *   see how it ends.
   */
  constructor(
    message: string,
    fields: { messageId?: string; status?: string } & OhcommodoreErrorOptions = {},
  ) {
    super(message, fields);
    if (fields.messageId !== undefined) this.messageId = fields.messageId;
    if (fields.status !== undefined) this.status = fields.status;
  }
}

/**
 * The recipient refused a message (wrong address, invalid payload).
 *
 * @example See that a member refused a message
 * ```ts
 * import { DeliveryRefusedError, send } from "@smithclay/ohcommodore";
 * await send("commodore@ship-web-k3f9a1b2", "true").catch((error) => {
 *   if (error instanceof DeliveryRefusedError) console.error(error.message); // wrong role
 * });
 * ```
 */
export class DeliveryRefusedError extends OhcommodoreError {}

/**
 * The inbox database could not be opened or written.
 *
 * @example Tell a broken database from other failures
 * ```ts
 * import { DatabaseError, Inbox } from "@smithclay/ohcommodore";
 * const inbox = await Inbox.open();
 * await inbox.list().catch((error) => {
 *   if (error instanceof DatabaseError) console.error(`inbox unreadable: ${error.message}`);
 *   throw error;
 * });
 * ```
 */
export class DatabaseError extends OhcommodoreError {}

/**
 * A write failed because the disk is full (no space left, or the user's quota used up). It
 * passes once space is freed; nothing is damaged.
 *
 * @example Tell a full disk from a failure that needs repair
 * ```ts
 * import { DiskFullError, send } from "@smithclay/ohcommodore";
 * await send("captain@ship-web-k3f9a1b2", "make").catch((error) => {
 *   if (error instanceof DiskFullError) console.error(`free space on ${error.path}'s disk`);
 *   else throw error;
 * });
 * ```
 */
export class DiskFullError extends OhcommodoreError {
  /** What could not be written (a file, or the directory that holds it). */
  readonly path: string;

  /**
   * Creates the error; the message says what failed, where, and to free space.
   *
   * @param action What failed, in sentence case: `Cannot store message "0a1b2c3d"`.
   * @param path What could not be written.
   * @param options The `cause` (the system's or DuckDB's error), and the command to run next.
   */
  constructor(action: string, path: string, options?: OhcommodoreErrorOptions) {
    const where = dirname(path);
    super(
      `${action}: the disk is full (no space left to write "${path}"); free space on the disk ` +
        `that holds ${where} (see "df -h ${where}"), then try again`,
      options,
    );
    this.path = path;
  }
}

/**
 * Whether an error, or one of its causes, says the disk is full: `ENOSPC` or `EDQUOT` from the
 * system, or DuckDB's "No space left on device".
 *
 * @param error Any thrown value.
 * @returns True for a full disk.
 */
export function isDiskFull(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof DiskFullError) return true;
    const code = (e as { code?: unknown }).code;
    if (code === "ENOSPC" || code === "EDQUOT") return true;
    if (/No space left on device|Disk quota exceeded/i.test(e.message)) return true;
  }
  return false;
}

/**
 * A person or the system asked us to stop (SIGINT, SIGTERM, SIGHUP) part way through.
 *
 * @example Tell Ctrl-C from a failure
 * ```ts
 * import { Fleet, InterruptedError } from "@smithclay/ohcommodore";
 * const controller = new AbortController();
 * Deno.addSignalListener("SIGINT", () => controller.abort());
 * await using fleet = await Fleet.open();
 * await fleet.createShips("scratch", { signal: controller.signal }).catch((error) => {
 *   if (error instanceof InterruptedError) console.error("stopped; nothing half made is left");
 *   else throw error;
 * });
 * ```
 */
export class InterruptedError extends OhcommodoreError {
  /** Interrupted commands exit with 130, as a shell reports Ctrl-C. */
  override readonly exitCode: number = 130;
}

/**
 * A lobby command failed or answered with an error.
 *
 * @example Tell the provider refusing from other failures
 * ```ts
 * import { Fleet, ProviderError } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * await fleet.createShips("scratch").catch((error) => {
 *   if (error instanceof ProviderError) console.error(`exe.dev said: ${error.message}`);
 *   throw error;
 * });
 * ```
 */
export class ProviderError extends OhcommodoreError {
  /**
   * The provider answered that it made nothing (a name taken, a quota reached): nothing is
   * there to undo, and a VM of that name is someone else's.
   */
  readonly refused: boolean;

  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options `refused` when the provider said it made nothing; the cause, what to run next.
   */
  constructor(message: string, options: { refused?: boolean } & OhcommodoreErrorOptions = {}) {
    super(message, options);
    this.refused = options.refused ?? false;
  }
}

/**
 * The connection to an inbox server broke (or the server did not answer in time) before a
 * request's answer arrived: the request may or may not have been carried out.
 */
export class ServerConnectionError extends OhcommodoreError {}

/**
 * The flagship gave no answer to a fleet call (another version, a crash, a broken install).
 *
 * @example Notice a flagship that runs another version
 * ```ts
 * import { FlagshipError, Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * await fleet.status().catch((error) => {
 *   if (error instanceof FlagshipError) console.error(`flagship: ${error.stderrTail}`);
 *   throw error;
 * });
 * ```
 */
export class FlagshipError extends OhcommodoreError {
  /** The flagship's exit code. */
  override readonly exitCode: number;
  /** The last line the flagship wrote to stderr. */
  readonly stderrTail: string;

  /**
   * Creates the error.
   *
   * @param flagship The flagship's name.
   * @param method The call.
   * @param code Its exit code.
   * @param stderr What the flagship wrote to stderr.
   */
  constructor(flagship: string, method: string, code: number, stderr: string) {
    const tail = lastLine(stderr);
    super(
      `The flagship ${flagship} did not answer "${method}" (exit ${code}` +
        (tail ? `: ${tail}` : "") + `); it may run another ohcommodore version`,
      { next: `see "ohcommodore fleet status"` },
    );
    // Its usage error (exit 2: an older flagship without "fleet _call") is not ours.
    this.exitCode = code === 124 || code === 130 ? code : 1;
    this.stderrTail = tail;
  }
}
