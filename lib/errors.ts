/**
 * The errors ohcommodore throws. Callers catch {@link OhcommodoreError} for any of them and the
 * subclasses for conditions they handle differently; the CLI maps them to one `error:` line and
 * an exit code.
 *
 * @module
 */

/**
 * The base of every error ohcommodore throws on purpose.
 *
 * @example Tell ohcommodore's errors from others
 * ```ts
 * import { OhcommodoreError, readIdentity } from "@smithclay/ohcommodore";
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
   * Creates the error.
   *
   * @param message Sentence-case description that quotes the offending value.
   * @param options Standard error options; `cause` keeps the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Bad input from the user: a malformed address, an unknown status, an empty command.
 *
 * @example Reject bad input the way the CLI does
 * ```ts
 * import { parseAddress, UsageError } from "@smithclay/ohcommodore";
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
export class NotFoundError extends OhcommodoreError {}

/** A name prefix matches more than one thing. */
export class AmbiguousNameError extends UsageError {}

/** SSH itself failed (ssh exited 255): the host is unreachable, refused us, or dropped. */
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
   * @param options Error options with the `cause`.
   */
  constructor(
    destination: string,
    message: string,
    beforeCommand: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.destination = destination;
    this.beforeCommand = beforeCommand;
  }
}

/** A remote command ran and failed with a non-zero exit code. */
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
   */
  constructor(destination: string, remoteExitCode: number, stderrTail: string, message: string) {
    super(message);
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
}

/** The recipient refused a message (wrong address, invalid payload). */
export class DeliveryRefusedError extends OhcommodoreError {}

/** The inbox database could not be opened or written. */
export class DatabaseError extends OhcommodoreError {}

/** A person or the system asked us to stop (SIGINT, SIGTERM, SIGHUP) part way through. */
export class InterruptedError extends OhcommodoreError {
  /** Interrupted commands exit with 130, as a shell reports Ctrl-C. */
  override readonly exitCode: number = 130;
}
