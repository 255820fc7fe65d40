/**
 * Fleet members as handles: send them work, read their inboxes, run commands built like dax's,
 * log into them. The same handle works from the laptop and on the flagship.
 *
 * @module
 */

import { formatAddress, type Role } from "../address.ts";
import { type InteractiveOptions, transportFor } from "../transport.ts";
import type { FinishedMessage, Message } from "../inbox/message.ts";
import { type InboxView, RemoteInbox } from "../inbox/remote_inbox.ts";
import { send, type SendOptions } from "../inbox/send.ts";
import { SentMessage } from "../inbox/sent_message.ts";
import { shellQuote, Ssh } from "../ssh.ts";
import type { MemberLocation } from "./backend.ts";
import { CommandFailedError } from "./command_failed_error.ts";
import { OpenedInbox } from "./opened_inbox.ts";

/** How a member handle reaches its member. */
export interface MemberContext {
  /** The ssh client. */
  ssh: Ssh;
  /** The sender's home (identity). */
  home?: string;
  /** True when the member is the one this process runs on. */
  self?: boolean;
}

/** Options for {@link Member.send}. */
export type MemberSendOptions = Pick<SendOptions, "timeoutMs" | "signal" | "id">;

/**
 * One fleet member: the flagship or a ship.
 *
 * @example Send the flagship a report
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const sent = await fleet.flagship.send("echo nightly run finished");
 * console.log((await sent.wait()).result);
 * ```
 */
export class Member {
  /** Its VM name. */
  readonly name: string;
  /** Where it lives: an SSH destination, or a sandbox's home. */
  readonly destination: string;
  /** Its role, which with the name makes its address. */
  readonly role: Role;
  /** Its inbox: list, get, wait for, cancel, next. */
  readonly inbox: InboxView;
  readonly #context: MemberContext;

  /**
   * A member at a known destination.
   *
   * @param role `captain` for a ship, `commodore` for the flagship.
   * @param where Its name and destination.
   * @param context The ssh client and the sender's home.
   */
  constructor(role: Role, where: MemberLocation, context: MemberContext = { ssh: new Ssh() }) {
    this.role = role;
    this.name = where.name;
    this.destination = where.destination;
    this.#context = context;
    this.inbox = context.self
      ? new OpenedInbox(this.address, context.home)
      : new RemoteInbox(this.address, where.destination, context.ssh);
  }

  /** The member's inbox address, e.g. `captain@ship-web-k3f9a1b2`. */
  get address(): string {
    return formatAddress({ role: this.role, host: this.name });
  }

  /**
   * Delivers a command to the member's inbox and returns a handle on it.
   *
   * @example Send, then wait
   * ```ts
   * import { Fleet } from "@smithclay/ohcommodore";
   * await using fleet = await Fleet.open();
   * const sent = await (await fleet.ship("web")).send("git -C ~/web pull");
   * console.log((await sent.wait()).exitCode);
   * ```
   *
   * @param command The shell command (bash).
   * @param options Its timeout, an id of your choosing, a signal that stops the delivery.
   * @returns The handle.
   */
  async send(command: string, options: MemberSendOptions = {}): Promise<SentMessage> {
    const message = await send(this.address, command, {
      ...options,
      home: this.#context.home,
      ssh: this.#context.ssh,
      route: () =>
        Promise.resolve({
          destination: this.#context.self ? null : this.destination,
          viaDestination: false,
        }),
    });
    // A handle sends directly, never through the relay, so nothing comes back queued.
    return new SentMessage(message as Message, this.inbox);
  }

  /**
   * A command for the member, built as dax builds them: each `${}` is one bash-quoted argument
   * (an array, one argument per element). Awaiting it sends it, waits for it and throws
   * {@link CommandFailedError} on a non-zero exit unless `.noThrow()`.
   *
   * @example Run the tests of one file
   * ```ts
   * import { Fleet } from "@smithclay/ohcommodore";
   * await using fleet = await Fleet.open();
   * const ship = await fleet.ship("web");
   * const file = "tests/it's here_test.ts";
   * console.log(await ship.$`cd ~/web && deno test ${file}`.text());
   * const { exitCode } = await ship.$`test -f ${file}`.noThrow();
   * ```
   *
   * @param strings The template's text.
   * @param values The values, each quoted.
   * @returns The command, not yet sent.
   */
  $(strings: TemplateStringsArray, ...values: unknown[]): MemberCommand {
    return new MemberCommand(this, buildCommand(strings, values), {});
  }

  /**
   * Opens a login shell on the member on this terminal. The SSH agent is not forwarded unless
   * asked for: a ship is a place where someone else's code may run, and while a session is open
   * an agent lends it every key the agent holds (for an exe.dev key, the lobby and every VM).
   *
   * @example A shell on a ship, without the agent
   * ```ts
   * import { Fleet } from "@smithclay/ohcommodore";
   * await using fleet = await Fleet.open();
   * Deno.exitCode = await (await fleet.ship("web")).ssh();
   * ```
   *
   * @param options Whether to forward the agent ({@link InteractiveOptions.agent}).
   * @returns The session's exit code.
   */
  ssh(options: InteractiveOptions = {}): Promise<number> {
    return transportFor(this.destination, this.#context.ssh).interactive([], options);
  }
}

/**
 * One ship.
 *
 * @example Every ship, and a command on each
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * for (const ship of await fleet.ships()) {
 *   console.log(ship.name, ship.repo, await ship.$`uptime`.text());
 * }
 * ```
 */
export class Ship extends Member {
  /** Its repository, when it was made for one and the handle came from the registry. */
  readonly repo: string | null;

  /**
   * A ship at a known destination.
   *
   * @param where Its name and destination (and repository, when known).
   * @param context The ssh client and the sender's home.
   */
  constructor(
    where: MemberLocation & { repo?: string | null },
    context: MemberContext = { ssh: new Ssh() },
  ) {
    super("captain", { name: where.name, destination: where.destination }, context);
    this.repo = where.repo ?? null;
  }
}

/**
 * Builds the command text of a template: every value becomes one quoted argument.
 *
 * @param strings The template's text.
 * @param values The values.
 * @returns The command.
 */
export function buildCommand(strings: TemplateStringsArray, values: readonly unknown[]): string {
  // A template with an invalid escape (`C:\users`) has no cooked text: say so, never "undefined".
  if (strings.some((text) => text === undefined)) {
    throw new TypeError(`A command template has an invalid escape: write \\ for a backslash`);
  }
  let command = strings[0];
  values.forEach((value, i) => {
    const args = Array.isArray(value) ? value : [value];
    command += args.map((arg) => shellQuote(String(arg))).join(" ") + strings[i + 1];
  });
  return command;
}

/** The outcome of a {@link MemberCommand}. */
export interface CommandOutcome {
  /** The command's exit code. */
  exitCode: number;
  /** Its stdout. */
  stdout: string;
  /** Its stderr. */
  stderr: string;
  /** The finished message. */
  message: FinishedMessage;
}

interface CommandSettings {
  timeoutMs?: number;
  noThrow?: boolean;
}

/**
 * A command for a member, not yet sent. Immutable: each method returns a new command; awaiting
 * it (or `.text()`, `.json()`, `.lines()`) runs it.
 *
 * @example Build, run and read a command
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const ship = await fleet.ship("web");
 * const files: string[] = await ship.$`ls ${"~/web"}`.timeout(30_000).lines();
 * console.log(files);
 * ```
 */
export class MemberCommand implements PromiseLike<CommandOutcome> {
  /** The command text, quoted. */
  readonly command: string;
  readonly #member: Member;
  readonly #settings: CommandSettings;

  /**
   * A command for a member.
   *
   * @param member Where it runs.
   * @param command The command text.
   * @param settings Timeout and whether a failure throws.
   */
  constructor(member: Member, command: string, settings: CommandSettings) {
    this.#member = member;
    this.command = command;
    this.#settings = settings;
  }

  /**
   * The same command with a time limit on the member.
   *
   * @param ms How long it may run.
   * @returns The new command.
   */
  timeout(ms: number): MemberCommand {
    return new MemberCommand(this.#member, this.command, { ...this.#settings, timeoutMs: ms });
  }

  /**
   * The same command, whose non-zero exit is returned instead of thrown.
   *
   * @returns The new command.
   */
  noThrow(): MemberCommand {
    return new MemberCommand(this.#member, this.command, { ...this.#settings, noThrow: true });
  }

  /**
   * Runs it and returns stdout without its trailing newlines.
   *
   * @returns The text.
   */
  async text(): Promise<string> {
    return (await this).stdout.replace(/\n+$/, "");
  }

  /**
   * Runs it and parses stdout as JSON.
   *
   * @returns The value.
   */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse((await this).stdout) as T;
  }

  /**
   * Runs it and splits stdout into lines.
   *
   * @returns The lines, without a last empty one.
   */
  async lines(): Promise<string[]> {
    const text = await this.text();
    return text === "" ? [] : text.split("\n");
  }

  /** Runs it: sends it, waits for it. */
  then<A = CommandOutcome, B = never>(
    onDone?: ((value: CommandOutcome) => A | PromiseLike<A>) | null,
    onFailed?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#run().then(onDone, onFailed);
  }

  /** Runs it, handling a failure. */
  catch<B = never>(
    onFailed?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<CommandOutcome | B> {
    return this.#run().catch(onFailed);
  }

  async #run(): Promise<CommandOutcome> {
    const timeoutMs = this.#settings.timeoutMs;
    const sent = await this.#member.send(this.command, { timeoutMs });
    const message = await sent.wait();
    const outcome = {
      exitCode: message.exitCode,
      stdout: message.result ?? "",
      stderr: message.stderr ?? "",
      message,
    };
    if (message.exitCode !== 0 && !this.#settings.noThrow) {
      throw new CommandFailedError(this.#member.address, message);
    }
    return outcome;
  }
}
