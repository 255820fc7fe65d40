/**
 * The flagship's channels to its keyless ships. For each ship the registry holds without a key,
 * the flagship opens a connection of its own (`ssh -M -N`, watched as a child process), listens
 * on a relay socket for that ship alone, and forwards that socket onto the ship
 * (`ssh -O forward -R <ship socket>:<relay socket>`): whatever connects to it on the ship talks
 * to the relay as that ship, and as nothing else. Where the ship's sshd passes no forwards, the
 * flagship collects the ship's outbox instead, at the policy's interval. Either way the outbox is
 * collected when a channel opens (messages sent while it was down) and now and then after.
 * A channel that drops is opened again, soon and then less often while the ship stays away.
 *
 * @module
 */

import { join } from "node:path";
import { formatAddress } from "../address.ts";
import { DeliveryRefusedError } from "../errors.ts";
import { memberPaths, REMOTE_PROGRAM } from "../paths.ts";
import { lastLine, runProcess } from "../process.ts";
import { InboxServer, type OperationHandlers, type ServerLimits } from "../inbox/server.ts";
import { serverHello } from "../inbox/server_protocol.ts";
import { Ssh } from "../ssh.ts";
import { flagshipChannelPaths } from "./channel_paths.ts";
import { type Policy, policyPath, readPolicy } from "./policy.ts";
import { Relay } from "./relay.ts";
import { writePrivateFile } from "../private_files.ts";
import { sleep } from "../timer.ts";

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

/** A ship of the registry, as the harbor needs it. */
export interface HarborShip {
  /** Its VM name. */
  name: string;
  /** Its SSH destination. */
  destination: string;
  /** Whether it holds a key of its own (then it needs no channel). */
  trusted: boolean;
  /** `ready` once made. */
  status: string;
}

/** What a {@link Harbor} needs. */
export interface HarborOptions {
  /** The flagship's home. */
  home: string;
  /** The flagship's VM name. */
  flagship: string;
  /**
   * The registry's ships (read again when its file, `fleet.duckdb` in the home, changes): the
   * keyless ones that are ready get a channel.
   */
  ships: () => Promise<HarborShip[]>;
  /** Writes a line to the flagship's log. */
  log: (line: string) => void;
  /** The ssh client for relaying to ships; the channels' own connections derive from it. */
  ssh?: Ssh;
}

// How often the registry is looked at for ships made or destroyed (its file is only read when
// it changed, or this many looks later).
const SYNC_MS = 2000;
const SYNC_READ_EVERY = 15;
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
};

/** The flagship's channels, kept open while it runs. */
export class Harbor {
  readonly #options: HarborOptions;
  readonly #ssh: Ssh;
  readonly #relay: Relay;
  readonly #channels = new Map<string, ShipChannel>();
  readonly #stopped = new AbortController();
  readonly #syncing: Promise<void>;
  #ships = new Map<string, { destination: string; trusted: boolean }>();
  #lookedAt = 0;
  #policy: Policy | undefined;
  #policyStamp = "";
  #written = "[]";

  private constructor(options: HarborOptions) {
    this.#options = options;
    this.#ssh = options.ssh ?? new Ssh();
    this.#relay = new Relay({
      home: options.home,
      flagship: options.flagship,
      ssh: this.#ssh,
      shipOf: (name) => this.#shipOf(name),
      policy: () => this.policy(),
      log: options.log,
    });
    this.#syncing = this.#sync();
  }

  /**
   * Starts keeping the channels of the registry's keyless ships.
   *
   * @param options The flagship, its fleet and its log.
   * @returns The harbor.
   */
  static start(options: HarborOptions): Harbor {
    return new Harbor(options);
  }

  /** The relay, for collecting by hand and for tests. */
  get relay(): Relay {
    return this.#relay;
  }

  /**
   * The policy: read again when its file changed (looked at every two seconds).
   *
   * @returns The policy.
   */
  async policy(): Promise<Policy> {
    return this.#policy ??= await readPolicy(this.#options.home);
  }

  /** How each channel stands. */
  statuses(): ChannelStatus[] {
    return [...this.#channels.values()].map((channel) => channel.status);
  }

  /** Closes every channel (the ships' outboxes keep what they send meanwhile). */
  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#syncing;
    await Promise.all([...this.#channels.values()].map((channel) => channel.close()));
    this.#channels.clear();
    await this.#writeStatus();
  }

  async #sync(): Promise<void> {
    const registry = memberPaths(this.#options.home).fleetDatabase;
    let seen = "";
    for (let look = 0; !this.#stopped.signal.aborted; look++) {
      try {
        const policyStamp = await fileStamp(policyPath(this.#options.home));
        if (policyStamp !== this.#policyStamp) {
          this.#policyStamp = policyStamp;
          this.#policy = undefined;
        }
        const stamp = await fileStamp(registry);
        if (stamp !== seen || look % SYNC_READ_EVERY === 0) {
          seen = stamp;
          await this.#follow(await this.#options.ships());
        }
      } catch (error) {
        this.#options.log(`channels: cannot read the registry: ${(error as Error).message}`);
      }
      await this.#writeStatus();
      await sleep(SYNC_MS, this.#stopped.signal);
    }
  }

  // A ship by name. One made a moment ago may not be in the last look at the registry (every
  // two seconds): an unknown name reads the registry again, at most once a second.
  async #shipOf(name: string): Promise<{ destination: string; trusted: boolean } | undefined> {
    if (this.#ships.has(name) || Date.now() - this.#lookedAt < 1000) return this.#ships.get(name);
    this.#lookedAt = Date.now();
    await this.#follow(await this.#options.ships()).catch(() => {});
    return this.#ships.get(name);
  }

  // Opens channels to keyless ships that have none, closes those of ships that are gone.
  async #follow(ships: HarborShip[]) {
    this.#ships = new Map(
      ships.map((ship) => [ship.name, { destination: ship.destination, trusted: ship.trusted }]),
    );
    const keyless = ships.filter((ship) => !ship.trusted && ship.status === "ready");
    const wanted = new Set(keyless.map((ship) => ship.name));
    for (const [name, channel] of this.#channels) {
      if (wanted.has(name)) continue;
      this.#channels.delete(name);
      await channel.close();
    }
    for (const ship of keyless) {
      if (this.#channels.has(ship.name)) continue;
      const channel = new ShipChannel(ship, {
        home: this.#options.home,
        flagship: formatAddress({ role: "commodore", host: this.#options.flagship }),
        ssh: this.#ssh,
        relay: this.#relay,
        policy: () => this.policy(),
        log: this.#options.log,
      });
      this.#channels.set(ship.name, channel);
    }
  }

  // Written when it changed: a flagship without keyless ships writes nothing.
  async #writeStatus(): Promise<void> {
    const text = JSON.stringify(this.statuses());
    if (text === this.#written) return;
    try {
      await writePrivateFile(channelStatusFile(this.#options.home), text + "\n");
      this.#written = text;
    } catch {
      // Only fleet status reads it; the channels work without it.
    }
  }
}

/**
 * Where the flagship records how its channels stand, for `fleet status`.
 *
 * @param home The flagship's home.
 * @returns The file's path.
 */
export function channelStatusFile(home?: string): string {
  return join(memberPaths(home).configDir, "channels", "status.json");
}

/**
 * Reads how the flagship's channels stood at its last look (a few seconds ago at most, while its
 * scheduler runs).
 *
 * @param home The flagship's home.
 * @returns The statuses, or an empty list.
 */
export async function readChannelStatuses(home?: string): Promise<ChannelStatus[]> {
  try {
    const data = JSON.parse(await Deno.readTextFile(channelStatusFile(home)));
    return Array.isArray(data) ? data : [];
  } catch {
    return [];
  }
}

interface ChannelContext {
  home: string;
  flagship: string;
  ssh: Ssh;
  relay: Relay;
  policy: () => Promise<Policy>;
  log: (line: string) => void;
}

// One ship's channel: opened, watched, opened again, until closed.
class ShipChannel {
  readonly #ship: { name: string; destination: string };
  readonly #context: ChannelContext;
  readonly #paths: { relay: string; control: string };
  readonly #closed = new AbortController();
  readonly #running: Promise<void>;
  #server?: InboxServer;
  #master?: Deno.ChildProcess;
  #requests = 0;
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
    this.#server ??= InboxServer.listen(this.#paths.relay, this.#handlers(), CHANNEL_LIMITS);
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
      throw new Error(`its outbox answered with something other than JSON`);
    }
    if (!Array.isArray(entries)) throw new Error(`its outbox answered with no list`);
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

  // What a ship's channel answers: nothing of the flagship's own inbox. A compromised ship
  // must not make the flagship start ssh processes (or hold waits) without bound: a few
  // requests at a time.
  #handlers(): OperationHandlers {
    return {
      hello: this.#limited(() => Promise.resolve(serverHello(this.#context.flagship, 0))),
      relay: this.#limited((args) => this.#context.relay.relay(this.#ship.name, args)),
      relayWait: this.#limited((args) => this.#context.relay.wait(this.#ship.name, args)),
    };
  }

  #limited<A, T>(answer: (args: A) => Promise<T>): (args: A) => Promise<T> {
    return async (args) => {
      if (this.#requests >= MAX_REQUESTS_PER_CHANNEL) {
        throw new DeliveryRefusedError(
          `The flagship refused a request from ${this.#ship.name}: ${MAX_REQUESTS_PER_CHANNEL} ` +
            `of its requests are under way already; wait for one to end`,
        );
      }
      this.#requests++;
      try {
        return await answer(args);
      } finally {
        this.#requests--;
      }
    };
  }

  #startMaster(): Deno.ChildProcess {
    const ssh = this.#channelSsh();
    const [program, ...args] = ssh.argv(this.#ship.destination, [], [
      "-M",
      "-N",
      "-S",
      this.#paths.control,
      "-o",
      "ControlPersist=no",
    ]);
    const master = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
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
        throw new Error(
          `ssh to ${this.#ship.destination} ended: ${lastLine(stderr) || "no reason"}`,
        );
      }
      if (await this.#control(["-O", "check"]).then(() => true, () => false)) {
        master.stderr.cancel().catch(() => {}); // nothing more to read; keep the pipe from filling
        return;
      }
      await sleep(100, this.#closed.signal);
    }
    master.stderr.cancel().catch(() => {});
    throw new Error(`ssh to ${this.#ship.destination} did not connect within 30s`);
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
      throw new Error(
        `"${remote.slice(1).join(" ")}" on ${this.#ship.name} failed (exit ${result.code}): ` +
          (lastLine(result.stderr) || "no message"),
      );
    }
    return result;
  }

  async #control(flags: string[]): Promise<void> {
    const [program, ...args] = this.#channelSsh().argv(this.#ship.destination, [], [
      "-S",
      this.#paths.control,
      ...flags,
    ]);
    const result = await runProcess(program, args, { timeoutMs: 10_000 });
    if (result.code !== 0 || result.timedOut) {
      throw new Error(lastLine(result.stderr) || `ssh ${flags.join(" ")} exited ${result.code}`);
    }
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
    throw new Error(`the ship named no usable socket for its channel (${stdout.slice(0, 200)})`);
  }
  return socket;
}

async function fileStamp(path: string): Promise<string> {
  const stamps = await Promise.all(
    [path, `${path}.wal`].map((file) =>
      Deno.stat(file).then((info) => `${info.mtime?.getTime()}:${info.size}`, () => "-")
    ),
  );
  return stamps.join("/");
}
