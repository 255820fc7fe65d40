/**
 * The flagship's channels to its keyless ships: for each ship the registry holds without a key,
 * a {@link ShipChannel} kept open while the flagship's scheduler runs, opened for ships made and
 * closed for ships destroyed (the registry is looked at every two seconds); the relay they share;
 * and the status file `fleet status` reads.
 *
 * @module
 */

import { join } from "node:path";
import { formatAddress } from "../address.ts";
import { memberPaths } from "../paths.ts";
import { writePrivateFile } from "../private_files.ts";
import { Ssh } from "../ssh.ts";
import { sleep } from "../timer.ts";
import { type Policy, policyPath, readPolicy } from "./policy.ts";
import { Relay } from "./relay.ts";
import { type ChannelStatus, ShipChannel } from "./ship_channel.ts";

export type { ChannelStatus } from "./ship_channel.ts";

/** A ship of the registry, as the channels need it. */
export interface RegistryShip {
  /** Its VM name. */
  name: string;
  /** Its SSH destination. */
  destination: string;
  /** Whether it holds a key of its own (then it needs no channel). */
  trusted: boolean;
  /** `ready` once made. */
  status: string;
}

/** What {@link ShipChannels} need. */
export interface ShipChannelsOptions {
  /** The flagship's home. */
  home: string;
  /** The flagship's VM name. */
  flagship: string;
  /**
   * The registry's ships (read again when its file, `fleet.duckdb` in the home, changes): the
   * keyless ones that are ready get a channel.
   */
  ships: () => Promise<RegistryShip[]>;
  /** Writes a line to the flagship's log. */
  log: (line: string) => void;
  /** The ssh client for relaying to ships; the channels' own connections derive from it. */
  ssh?: Ssh;
}

// How often the registry is looked at for ships made or destroyed (its file is only read when
// it changed, or this many looks later).
const SYNC_MS = 2000;
const SYNC_READ_EVERY = 15;
/** The flagship's channels, kept open while it runs. */
export class ShipChannels {
  readonly #options: ShipChannelsOptions;
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

  private constructor(options: ShipChannelsOptions) {
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
   * @returns The channels.
   */
  static start(options: ShipChannelsOptions): ShipChannels {
    return new ShipChannels(options);
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
  // two seconds): an unknown name reads the registry again, at most once a second. Only the
  // names are refreshed here; channels open and close in the sync loop alone, one look at a
  // time, so a ship asking for names cannot race it (nor reopen channels after a stop).
  async #shipOf(name: string): Promise<{ destination: string; trusted: boolean } | undefined> {
    const known = this.#ships.get(name);
    if (known || Date.now() - this.#lookedAt < 1000 || this.#stopped.signal.aborted) return known;
    this.#lookedAt = Date.now();
    try {
      this.#ships = shipMap(await this.#options.ships());
    } catch {
      // the sync loop reports a registry it cannot read
    }
    return this.#ships.get(name);
  }

  // Opens channels to keyless ships that have none, closes those of ships that are gone.
  async #follow(ships: RegistryShip[]) {
    this.#ships = shipMap(ships);
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

// Where the flagship records how its channels stand, for `fleet status`.
function channelStatusFile(home?: string): string {
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

async function fileStamp(path: string): Promise<string> {
  const stamps = await Promise.all(
    [path, `${path}.wal`].map((file) =>
      Deno.stat(file).then((info) => `${info.mtime?.getTime()}:${info.size}`, () => "-")
    ),
  );
  return stamps.join("/");
}

function shipMap(ships: RegistryShip[]): Map<string, { destination: string; trusted: boolean }> {
  return new Map(
    ships.map((ship) => [ship.name, { destination: ship.destination, trusted: ship.trusted }]),
  );
}
