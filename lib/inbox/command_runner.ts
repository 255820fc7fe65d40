/**
 * The scheduler's commands: the queue of unread messages, claiming them while there is room
 * (`MAX_RUNNING`), running each with `runCommand` and storing its outcome, its live output for
 * followers, stopping a process group on cancel, and stopping as a whole (the running commands
 * finish first). The scheduler (`scheduler.ts`) serves requests around it.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { commandCredentials } from "../member_env.ts";
import { setLongTimeout } from "../timer.ts";
import type { HeldDatabase } from "./held_database.ts";
import type { Inbox } from "./inbox.ts";
import type { FinishedMessage, Message } from "./message.ts";
import { OutputLog } from "./output_log.ts";
import { notStarted, OUTPUT_CAP_BYTES, runCommand, signalGroup } from "./run_command.ts";
import type { SchedulerEvent, SchedulerOptions } from "./scheduler_options.ts";
import type { OutputChunk } from "./server_protocol.ts";
import type { Outcome } from "./store.ts";

/** What the runner needs of its scheduler. */
export interface RunnerContext {
  /** The inbox whose commands it runs. */
  inbox: Inbox;
  /** The scheduler's tuning. */
  options: SchedulerOptions;
  /** The database, one step at a time. */
  database: HeldDatabase;
  /** Tells of what it does. */
  emit: (event: SchedulerEvent) => void;
  /** The messages changed (a report is due). */
  changed: () => void;
  /** A message finished (waiters hear it). */
  finished: (message: FinishedMessage) => void;
}

/** A message the scheduler runs now. */
interface Running {
  message: Message;
  pgid?: number;
  cancelled: boolean;
  output: OutputLog;
}

/** Runs an inbox's commands for its scheduler. */
export class CommandRunner {
  /** Resolves once stopping and no command runs any more. */
  readonly idle: Promise<void>;
  readonly #context: RunnerContext;
  #maxRunning: number;
  #stopping = false;
  readonly #running = new Map<string, Running>();
  // Unread messages in the order they run: the database is the truth (a claim checks the row
  // is still unread), this saves looking for the oldest each time.
  readonly #unread: Message[] = [];
  #pumping = false;
  #pumpAgain = false;
  #idle: () => void = () => {};
  // Followers of messages that have not started yet, handed to their log when they do.
  readonly #earlyFollowers = new Map<string, Set<(chunk: OutputChunk) => void>>();

  /**
   * A runner.
   *
   * @param context Its scheduler's side.
   * @param maxRunning How many commands run at once, at first.
   */
  constructor(context: RunnerContext, maxRunning: number) {
    this.#context = context;
    this.#maxRunning = maxRunning;
    this.idle = new Promise((resolve) => this.#idle = resolve);
  }

  /** How many commands run at once, at most. */
  get maxRunning(): number {
    return this.#maxRunning;
  }

  /** Sets how many commands run at once; more start at once when there is room. */
  set maxRunning(count: number) {
    this.#maxRunning = count;
    this.#pump();
  }

  /**
   * Queues unread messages, in the order they run, and starts what there is room for.
   *
   * @param messages The messages.
   * @param soon Start them after the current task (a delivery's reply goes first).
   */
  enqueue(messages: readonly Message[], soon = false): void {
    this.#unread.push(...messages);
    if (soon) queueMicrotask(() => this.#pump());
    else this.#pump();
  }

  /** Stops starting messages; the running commands finish or time out first. */
  stop(): void {
    this.#stopping = true;
    // A claim under way ends the pump first, which then says it is idle.
    if (this.#running.size === 0 && !this.#pumping) this.#idle();
  }

  /**
   * Stops a running message's process group (TERM, then KILL after the grace).
   *
   * @param id The message's id.
   */
  cancel(id: string): void {
    const running = this.#running.get(id);
    if (running) this.#stopGroup(running);
  }

  /**
   * Hands a message's output to a follower as it is written: at once for a running message,
   * from its start for one that has not started yet.
   *
   * @param id The message's id.
   * @param emit Told each piece.
   * @returns Stops following.
   */
  follow(id: string, emit: (chunk: OutputChunk) => void): () => void {
    const running = this.#running.get(id);
    if (running) return running.output.follow(emit);
    const early = this.#earlyFollowers.get(id) ?? new Set();
    this.#earlyFollowers.set(id, early);
    early.add(emit);
    return () => {
      early.delete(emit);
      if (early.size === 0) this.#earlyFollowers.delete(id);
    };
  }

  // Starts unread messages while there is room. One pump at a time; a call during one makes
  // it look again, so that no delivery waits for the next.
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        while (!this.#stopping && this.#running.size < this.#maxRunning) {
          // Registered as running in the claim's own step: a cancel queued behind the claim
          // finds it there.
          const next = this.#unread.shift();
          if (next === undefined) break;
          const running = await this.#context.database.stepUntilDone(async (store) => {
            // Stopped while this step waited: the message stays unread for the next one.
            if (this.#stopping) return undefined;
            const message = await store.claim(next);
            return message ? this.#register(message) : undefined;
          });
          if (running) this.#run(running); // else cancelled, deleted or taken by hand meanwhile
        }
      } while (this.#pumpAgain && !this.#stopping);
    } finally {
      this.#pumping = false;
      if (this.#stopping && this.#running.size === 0) this.#idle();
    }
  }

  #register(message: Message): Running {
    const capBytes = this.#context.options.outputCapBytes ?? OUTPUT_CAP_BYTES;
    const running: Running = { message, cancelled: false, output: new OutputLog(capBytes) };
    this.#running.set(message.id, running);
    for (const follower of this.#earlyFollowers.get(message.id) ?? []) {
      running.output.follow(follower);
    }
    this.#earlyFollowers.delete(message.id);
    return running;
  }

  async #run(running: Running): Promise<void> {
    const message = running.message;
    this.#context.changed();
    this.#context.emit({ type: "running", message });
    // Cancelled between its claim and now: it never starts. One that cannot start (its script
    // cannot be written on a full disk, say) fails alone, with why; the scheduler goes on.
    const outcome = running.cancelled
      ? NOT_STARTED
      : await this.#start(running).catch((error) => notStarted(error));
    // Cancelled is what it was when a cancel stopped it, not a timeout, its own exit, or a
    // start that failed.
    const cancelled = running.cancelled && outcome.status === "error" &&
      outcome.exitCode !== 124 && outcome.exitCode !== null;
    const finished = await this.#context.database.stepUntilDone((store) =>
      store.finish(message, { ...outcome, cancelled })
    );
    this.#running.delete(message.id);
    this.#context.finished(finished);
    this.#context.changed();
    this.#context.emit({ type: "finished", message: finished });
    if (this.#stopping && this.#running.size === 0) this.#idle();
    else this.#pump();
  }

  async #start(running: Running): Promise<Outcome> {
    const message = running.message;
    return await runCommand(message.command, {
      cwd: await this.#workdir(),
      scratchDir: join(dirname(this.#context.inbox.database), "run"),
      timeoutMs: message.timeoutSec * 1000,
      capBytes: this.#context.options.outputCapBytes ?? OUTPUT_CAP_BYTES,
      killGraceMs: this.#context.options.killGraceMs,
      onSpawn: (pgid) => {
        running.pgid = pgid;
        if (running.cancelled) this.#stopGroup(running, true); // cancelled before it started
        // Not waited for: steps run in order, so it is written before the outcome is.
        this.#context.database.stepUntilDone((store) => store.recordProcessGroup(message.id, pgid))
          .catch(() => {}); // retried until stored; nothing for a caller to hear
      },
      onOutput: (stream, bytes) => running.output.write(stream, bytes),
      env: {
        ...await commandCredentials(this.#context.inbox.home),
        OHCOMMODORE_MESSAGE_ID: message.id,
        OHCOMMODORE_SENDER: message.sender ?? "",
        OHCOMMODORE_ADDRESS: this.#context.inbox.address,
        // So a command can tell its timeout from a cancel when SIGTERM comes.
        OHCOMMODORE_TIMEOUT_SEC: String(message.timeoutSec),
      },
    });
  }

  // Stops a running message's process group: TERM, then KILL after the grace.
  #stopGroup(running: Running, again = false): void {
    if (running.cancelled && !again) return;
    running.cancelled = true;
    const signal = (name: Deno.Signal) => {
      if (!this.#running.has(running.message.id) || running.pgid === undefined) return;
      signalGroup(running.pgid, name);
    };
    signal("SIGTERM");
    setLongTimeout(() => signal("SIGKILL"), this.#context.options.killGraceMs ?? 5000);
  }

  async #workdir(): Promise<string> {
    const candidate = this.#context.inbox.identity.workdir;
    if (candidate) {
      const info = await Deno.stat(candidate).catch(() => undefined);
      if (info?.isDirectory) return candidate;
    }
    return this.#context.inbox.home;
  }
}

// The outcome of a message cancelled before its command started.
const NOT_STARTED: Outcome = {
  status: "error",
  exitCode: 130,
  stdout: "",
  stderr: "",
  error: "cancelled before it started",
};
