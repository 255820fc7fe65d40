/**
 * One keyless ship's channel, kept by the flagship: its own connection to the ship (`ssh -M
 * -N`, watched as a child process), a relay socket for that ship alone, forwarded onto the ship
 * (`ssh -O forward -R <ship socket>:<relay socket>`), so that whatever connects to it on the ship
 * talks to the relay as that ship and as nothing else. Where the ship's sshd passes no forwards,
 * the flagship collects the ship's outbox instead, at the policy's interval. Either way the
 * outbox is collected when the channel opens and now and then after. A channel that drops is
 * opened again, soon and then less often while the ship stays away.
 *
 * @module
 */

import { join } from "node:path";
import { DeliveryRefusedError, OhcommodoreError, RemoteCommandError, SshError } from "../errors.ts";
import { InboxServer, type OperationHandlers, type ServerLimits } from "../inbox/server.ts";
import { serverHello } from "../inbox/server_protocol.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import { lastLine } from "../process.ts";
import type { Ssh } from "../ssh.ts";
import { sleep } from "../timer.ts";
import { flagshipChannelPaths } from "./channel_paths.ts";
import type { Policy } from "./policy.ts";
import type { Relay } from "./relay.ts";

/** How one ship's channel stands. */
export interface ChannelStatus {
  /** The ship. */
  ship: string;
  /** `forward` or `poll` while open; `down` while being opened again. */
  state: "forward" | "poll" | "down";
  /** Since when (ISO 8601). */
  since: string;
  /** Why it is down, when it is. */
  problem?: string;
}

// With a forward, ships hand messages over themselves; collecting now and then catches one whose
// sender died between the outbox and the hand-over.
const FORWARD_COLLECT_MS = 30_000;
const STEP_TIMEOUT_MS = 30_000;
const MAX_BACKOFF_MS = 5000;
// A ship's requests under way at once.
const MAX_REQUESTS_PER_CHANNEL = 8;
// The most a ship's answer to a collection may be: a ship hands over at most 8 MiB of commands
// at a time (OUTBOX_BATCH_BYTES), JSON-escaped.
const MAX_COLLECTED_CHARS = 64 * 1024 * 1024;
// What one ship's channel holds for it at most: connections at once, and bytes of requests not
// yet whole (a request is one message of at most 1 MiB, JSON-escaped). Memory a flood took is
// freed when its connections go.
const CHANNEL_LIMITS: ServerLimits = {
  maxClients: 16,
  maxLineBytes: 8 * 1024 * 1024,
  maxBufferedBytes: 32 * 1024 * 1024,
  // Replies a ship leaves unread (its finished messages, asked for and never read) are held
  // for it: a few answers' worth, per connection.
  maxQueuedBytes: 8 * 1024 * 1024,
};

/** What a ship's channel needs of the flagship. */
export interface ChannelContext {
  home: string;
  flagship: string;
  ssh: Ssh;
  relay: Relay;
  policy: () => Promise<Policy>;
  log: (line: string) => void;
}

/** One ship's channel: opened, watched, opened again, until closed. */
export class ShipChannel {
  readonly #ship: { name: string; destination: string };
  readonly #context: ChannelContext;
  readonly #paths: { relay: string; control: string };
  readonly #closed = new AbortController();
  readonly #running: Promise<void>;
  #server?: InboxServer;
  #master?: Deno.ChildProcess;
  status: ChannelStatus;

  constructor(ship: { name: string; destination: string }, context: ChannelContext) {
    this.#ship = ship;
    this.#context = context;
    this.#paths = flagshipChannelPaths(context.home, ship.name);
    this.status = { ship: ship.name, state: "down", since: new Date().toISOString() };
    this.#running = this.#keep();
  }

  async close(): Promise<void> {
    this.#closed.abort();
    this.#stopMaster();
    await this.#running;
    this.#server?.[Symbol.dispose]();
    await this.#control(["-O", "exit"]).catch(() => {});
  }

  async #keep(): Promise<void> {
    let backoff = 500;
    while (!this.#closed.signal.aborted) {
      const began = Date.now();
      try {
        await this.#openAndWatch();
      } catch (error) {
        if (!this.#closed.signal.aborted) {
          const problem = (error as Error).message;
          if (problem !== this.status.problem) {
            this.#context.log(`channel to ${this.#ship.name} is down: ${problem}`);
          }
          this.status = { ...this.#down(), problem };
        }
      } finally {
        this.#stopMaster(); // however it ended: no connection outlives its channel
      }
      if (this.#closed.signal.aborted) break;
      if (Date.now() - began > 30_000) backoff = 500; // it was up a while: a fresh drop
      await sleep(backoff, this.#closed.signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  #down(): ChannelStatus {
    return { ship: this.#ship.name, state: "down", since: new Date().toISOString() };
  }

  async #openAndWatch(): Promise<void> {
    await Deno.mkdir(join(this.#paths.relay, ".."), { recursive: true, mode: 0o700 });
    this.#server ??= InboxServer.listen(
      this.#paths.relay,
      channelHandlers(this.#ship.name, this.#context.relay, this.#context.flagship),
      CHANNEL_LIMITS,
    );
    // A connection an earlier flagship process left would hold the ship's socket: end it.
    await this.#control(["-O", "exit"]).catch(() => {});
    this.#closed.signal.throwIfAborted(); // closed meanwhile: start nothing
    const master = this.#startMaster();
    await this.#untilMasterAnswers(master);
    const opened = await this.#exec([REMOTE_PROGRAM, "inbox", "_channel"]);
    const socket = parseSocket(opened.stdout);
    const forwarded = await this.#control(["-O", "forward", "-R", `${socket}:${this.#paths.relay}`])
      .then(() => true, (error: Error) => {
        this.#context.log(
          `channel to ${this.#ship.name}: no forward (${error.message}); collecting its outbox`,
        );
        return false;
      });
    const mode = forwarded ? "forward" : "poll";
    this.status = { ship: this.#ship.name, state: mode, since: new Date().toISOString() };
    this.#context.log(`channel to ${this.#ship.name} open (${mode})`);
    const ended = master.status.then(() => "ended" as const);
    for (;;) {
      const pollSec = (await this.#context.policy()).pollIntervalSec;
      await this.#collect(mode, pollSec);
      const pause = mode === "poll" ? pollSec * 1000 : FORWARD_COLLECT_MS;
      const next = await Promise.race([ended, sleep(pause, this.#closed.signal)]);
      if (next === "ended" || this.#closed.signal.aborted) break;
    }
    if (!this.#closed.signal.aborted) {
      this.#context.log(`channel to ${this.#ship.name} dropped; opening it again`);
    }
    this.status = this.#down();
  }

  // Takes what waits in the ship's outbox, relays it, and tells the ship what became of it.
  async #collect(mode: "forward" | "poll", pollSec: number): Promise<void> {
    const taken = await this.#exec([
      REMOTE_PROGRAM,
      "inbox",
      "_outbox",
      "--mode",
      mode,
      "--poll-sec",
      String(pollSec),
    ]);
    let entries: unknown;
    try {
      entries = JSON.parse(taken.stdout);
    } catch {
      throw new OhcommodoreError(`its outbox answered with something other than JSON`);
    }
    if (!Array.isArray(entries)) throw new OhcommodoreError(`its outbox answered with no list`);
    const settled: { id: string; refused?: string }[] = [];
    for (const entry of entries.slice(0, 100)) {
      const id = (entry as { id?: unknown })?.id;
      try {
        await this.#context.relay.relay(this.#ship.name, entry);
        if (typeof id === "string") settled.push({ id });
      } catch (error) {
        if (error instanceof DeliveryRefusedError) {
          if (typeof id === "string") settled.push({ id, refused: error.message });
        } else {
          // Left in the outbox: the next collection tries again, and the id keeps it once.
          this.#context.log(
            `channel to ${this.#ship.name}: ${id} not delivered yet: ` +
              (error as Error).message,
          );
        }
      }
    }
    if (settled.length === 0) return;
    await this.#exec([REMOTE_PROGRAM, "inbox", "_outbox", "--settle"], JSON.stringify(settled));
  }

  #startMaster(): Deno.ChildProcess {
    const master = this.#channelSsh().openMaster(this.#ship.destination, this.#paths.control);
    this.#master = master;
    return master;
  }

  async #untilMasterAnswers(master: Deno.ChildProcess): Promise<void> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    let exited = false;
    master.status.then(() => exited = true);
    while (Date.now() < deadline && !this.#closed.signal.aborted) {
      if (exited) {
        const stderr = await new Response(master.stderr).text().catch(() => "");
        throw new SshError(
          this.#ship.destination,
          `ssh to ${this.#ship.destination} ended: ${lastLine(stderr) || "no reason"}`,
          true,
        );
      }
      if (await this.#control(["-O", "check"]).then(() => true, () => false)) {
        master.stderr.cancel().catch(() => {}); // nothing more to read; keep the pipe from filling
        return;
      }
      await sleep(100, this.#closed.signal);
    }
    master.stderr.cancel().catch(() => {});
    const destination = this.#ship.destination;
    throw new SshError(destination, `ssh to ${destination} did not connect within 30s`, true);
  }

  #stopMaster(): void {
    try {
      this.#master?.kill("SIGTERM");
    } catch {
      // already gone
    }
    this.#master = undefined;
  }

  // Keep-alives every 5 s: a ship that vanishes without a word is noticed within 15 s.
  #channelSsh(): Ssh {
    return this.#context.ssh.with({ multiplex: false, aliveIntervalSec: 5 });
  }

  async #exec(remote: string[], stdin?: string) {
    const result = await this.#channelSsh().run(this.#ship.destination, remote, {
      sshFlags: ["-S", this.#paths.control],
      timeoutMs: STEP_TIMEOUT_MS,
      stdin,
      retry: "connect",
      signal: this.#closed.signal,
      maxOutput: MAX_COLLECTED_CHARS,
    });
    if (result.code !== 0) {
      const tail = lastLine(result.stderr);
      throw new RemoteCommandError(
        this.#ship.destination,
        result.code,
        tail,
        `"${remote.slice(1).join(" ")}" on ${this.#ship.name} failed (exit ${result.code}): ` +
          (tail || "no message"),
      );
    }
    return result;
  }

  #control(flags: string[]): Promise<void> {
    return this.#channelSsh().control(this.#ship.destination, flags, {
      controlPath: this.#paths.control,
    });
  }
}

function parseSocket(stdout: string): string {
  let socket: unknown;
  try {
    socket = JSON.parse(stdout).socket;
  } catch {
    // reported below
  }
  // A forward's path may not hold the ":" that separates it from ours.
  if (typeof socket !== "string" || !socket.startsWith("/") || /[:\s]/.test(socket)) {
    throw new OhcommodoreError(
      `the ship named no usable socket for its channel (${stdout.slice(0, 200)})`,
    );
  }
  return socket;
}

/**
 * What a ship's channel answers: hello, relay and relayWait, as that ship, and nothing of the
 * flagship's own inbox. A compromised ship must not make the flagship start ssh processes (or
 * hold waits) without bound: a few requests at a time.
 *
 * @param ship The ship the channel belongs to: every message through it is this ship's.
 * @param relay The flagship's relay.
 * @param flagship The flagship's address, as the channel's hello says it.
 * @returns The handlers.
 */
export function channelHandlers(ship: string, relay: Relay, flagship: string): OperationHandlers {
  let requests = 0;
  const limited = <A, T>(answer: (args: A) => Promise<T>) => async (args: A): Promise<T> => {
    if (requests >= MAX_REQUESTS_PER_CHANNEL) {
      throw new DeliveryRefusedError(
        `The flagship refused a request from ${ship}: ${MAX_REQUESTS_PER_CHANNEL} of its ` +
          `requests are under way already; wait for one to end`,
      );
    }
    requests++;
    try {
      return await answer(args);
    } finally {
      requests--;
    }
  };
  return {
    hello: limited(() => Promise.resolve(serverHello(flagship, 0))),
    relay: limited((args) => relay.relay(ship, args)),
    relayWait: limited((args) => relay.wait(ship, args)),
  };
}
