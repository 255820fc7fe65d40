/**
 * The laptop's side of the fleet: every call goes to the flagship (see fleet_call.ts), a request
 * to its scheduler on the shared connection's forward or, where forwards are refused,
 * `fleet _call` over exec, and comes back as the same value, the same progress events and the
 * same errors as on the flagship. Nothing is written to this process's stderr.
 *
 * @module
 */

import { transportFor } from "../transport.ts";
import {
  FlagshipError,
  InterruptedError,
  OhcommodoreError,
  ServerConnectionError,
} from "../errors.ts";
import { errorFromData } from "../error_data.ts";
import { askMember } from "../inbox/ask_member.ts";
import { reachMember } from "../inbox/member_connections.ts";
import { unlessUnreachable } from "../inbox/tunnel.ts";
import { MAX_REMOTE_REPLY_BYTES } from "../inbox/server_protocol.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import type { Ssh } from "../ssh.ts";
import { initScriptText, shipBinOf } from "./artifacts.ts";
import type {
  CreateShipsOptions,
  DestroyedShip,
  FleetBackend,
  FleetStatus,
  MemberLocation,
  ShipTasks,
  SinkReport,
  TemplateOptions,
} from "./backend.ts";
import { pickSettings } from "../settings.ts";
import type { FleetFacts } from "./config.ts";
import { loadSettings } from "../settings.ts";
import { checkCopyOptions, checkShipCount } from "./create_ships.ts";
import {
  answerReader,
  FLEET_CALL_VERSION,
  type FleetCall,
  type FleetCallLine,
  READ_METHODS,
} from "./fleet_call.ts";
import { parseShipSpec } from "./names.ts";
import type { FleetProgress } from "./progress.ts";
import { upload } from "./provision.ts";
import type { KeptTask, ShipRecord } from "./registry.ts";

/** What a client needs to know of its flagship. */
export type FlagshipFacts = Pick<FleetFacts, "flagshipVm" | "flagship">;

// Where the laptop's own choices of executable and setup script wait on the flagship.
const SHIP_BIN_ON_FLAGSHIP = "~/.local/share/ohcommodore/ship-bin";
const INIT_SCRIPT_ON_FLAGSHIP = "~/.local/share/ohcommodore/init.sh";
// Creating ships runs init.sh (toolchains) on each; everything else is quick.
const LONG_CALL_MS = 3 * 60 * 60_000;
const SHORT_CALL_MS = 5 * 60_000;
// How a flagship of an earlier version refuses a change on its socket.
const OLDER_FLAGSHIP = /^The flagship's socket answers only /;

interface CallOptions {
  long?: boolean;
  onProgress?: (progress: FleetProgress) => void;
  signal?: AbortSignal;
  /** Said after "interrupted" when the signal stops the call, and what a person runs next. */
  interrupted?: { also: string; next: string };
}

/** The fleet as the laptop reaches it: through the flagship. */
export class FlagshipClient implements FleetBackend {
  readonly #facts: FlagshipFacts;
  readonly #ssh: Ssh;

  /**
   * A client for a fleet's flagship.
   *
   * @param facts The fleet (from the laptop's config).
   * @param ssh The ssh client.
   */
  constructor(facts: FlagshipFacts, ssh: Ssh) {
    this.#facts = facts;
    this.#ssh = ssh;
  }

  /** The flagship's report on the fleet. */
  status(): Promise<FleetStatus> {
    return this.#call<FleetStatus>({ method: "status" });
  }

  /** The flagship's registry. */
  ships(): Promise<ShipRecord[]> {
    return this.#call<ShipRecord[]>({ method: "ships" });
  }

  /**
   * Creates ships on the flagship; the settings this laptop has (tokens, dotfiles, SKIP_STEPS,
   * INIT_PATH/INIT_URL, OHCOMMODORE_SHIP_BIN) go along.
   */
  async createShips(spec: string, options: CreateShipsOptions = {}): Promise<ShipRecord[]> {
    // Bad input fails here, before any round trip to the flagship.
    parseShipSpec(spec);
    const count = checkShipCount(options.count ?? 1);
    checkCopyOptions(options);
    const settings = { ...await loadSettings(), ...options.settings };
    const forwarded = pickSettings(settings, "forwardedToFlagship");
    const flagship = transportFor(this.#facts.flagship, this.#ssh);
    if (settings.INIT_PATH || settings.INIT_URL) {
      const data = await initScriptText(settings);
      const file = { path: INIT_SCRIPT_ON_FLAGSHIP, data, mode: 0o600 };
      await upload(flagship, file, options.signal);
      forwarded.INIT_PATH = INIT_SCRIPT_ON_FLAGSHIP;
    }
    const shipBin = await shipBinOf(settings);
    if (shipBin) {
      const file = { path: SHIP_BIN_ON_FLAGSHIP, data: shipBin, mode: 0o755 };
      await upload(flagship, file, options.signal);
      forwarded.OHCOMMODORE_SHIP_BIN = SHIP_BIN_ON_FLAGSHIP;
    }
    return await this.#call<ShipRecord[]>(
      {
        method: "createShips",
        spec,
        count,
        settings: forwarded,
        trusted: options.trusted === true,
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.fresh ? { fresh: true } : {}),
      },
      {
        long: true,
        onProgress: options.onProgress,
        // The flagship does not hear that we stopped listening: it finishes what it started.
        signal: options.signal,
        interrupted: {
          also: `the flagship ${this.#facts.flagshipVm} carries on with the ships it started`,
          next: `see them with "ohcommodore fleet status", remove them with ` +
            `"ohcommodore ship destroy <name>"`,
        },
      },
    );
  }

  /** Makes a ship its repository's template (or, with `unset`, not), on the flagship. */
  templateShip(prefix: string, options: TemplateOptions = {}): Promise<ShipRecord> {
    return this.#call<ShipRecord>({
      method: "templateShip",
      prefix,
      unset: options.unset === true,
    });
  }

  /** Destroys a ship through the flagship (which keeps its agent tasks first). */
  destroyShip(prefix: string): Promise<DestroyedShip> {
    return this.#call<DestroyedShip>({ method: "destroyShip", prefix });
  }

  /** The agent tasks of destroyed ships, as the flagship kept them. */
  keptTasks(): Promise<KeptTask[]> {
    return this.#call<KeptTask[]>({ method: "keptTasks" });
  }

  /** Every ship's agent tasks, asked by the flagship (its connections to ships are warm). */
  shipTasks(): Promise<ShipTasks> {
    return this.#call<ShipTasks>({ method: "shipTasks" }, { long: true });
  }

  /** Sinks every ship through the flagship. */
  sink(onProgress?: (progress: FleetProgress) => void): Promise<SinkReport> {
    return this.#call<SinkReport>({ method: "sink" }, { long: true, onProgress });
  }

  /** Asks the flagship where a member lives (the flagship itself is known here). */
  async locate(name: string, prefix = false): Promise<MemberLocation | null> {
    if (name === this.#facts.flagshipVm) return { name, destination: this.#facts.flagship };
    return await this.#call<MemberLocation | null>({ method: "locate", name, prefix });
  }

  async #call<T>(call: FleetCall, options: CallOptions = {}): Promise<T> {
    const reads = READ_METHODS.includes(call.method);
    const timeoutMs = options.long ? LONG_CALL_MS : SHORT_CALL_MS;
    // Progress is told as it streams in; the caller's callback failing must not stop the call.
    const tell = (progress: FleetProgress) => {
      try {
        options.onProgress?.(progress);
      } catch {
        // the caller's own failure: the call goes on
      }
    };
    const interrupted = (error: unknown) => {
      if (!(error instanceof InterruptedError) || !options.interrupted) throw error;
      const { also, next } = options.interrupted;
      throw new InterruptedError(`${error.message}; ${also}`, { next });
    };
    // A request to the flagship's scheduler on the shared connection's forward: no program
    // starts for it. The flagship reaches the provider's lobby with its own registered key, so
    // no agent is lent to it.
    const answered = await this.#overSocket(call, {
      reads,
      timeoutMs,
      tell,
      signal: options.signal,
    })
      .catch(interrupted);
    if (answered) return answered.value as T;
    // Where forwards are refused: the flagship's program over exec. The answer is read from the
    // last attempt's output alone, so a retried read never mixes two attempts.
    const read = answerReader((line) => {
      if ("progress" in line) tell(line.progress);
    });
    const result = await transportFor(this.#facts.flagship, this.#ssh).run(
      [REMOTE_PROGRAM, "fleet", "_call"],
      {
        stdin: JSON.stringify({ version: FLEET_CALL_VERSION, call }),
        timeoutMs,
        retry: reads ? "idempotent" : "connect",
        signal: options.signal,
        onStdout: read,
      },
    ).catch(interrupted);
    let answer: FleetCallLine | undefined;
    answerReader((line) => {
      if (!("progress" in line)) answer = line;
    })(result.stdout + "\n");
    if (answer && "error" in answer) throw errorFromData(answer.error);
    if (answer && "result" in answer) return answer.result as T;
    throw new FlagshipError(this.#facts.flagshipVm, call.method, result.code, result.stderr);
  }

  // The call on the flagship's server; undefined where no forward reaches it, or where an older
  // flagship's server answers only reads (the exec path serves it then).
  async #overSocket(
    call: FleetCall,
    options: {
      reads: boolean;
      timeoutMs: number;
      tell: (progress: FleetProgress) => void;
      signal?: AbortSignal;
    },
  ): Promise<{ value: unknown } | undefined> {
    const flagship = {
      destination: this.#facts.flagship,
      address: `commodore@${this.#facts.flagshipVm}`,
    };
    const request = { version: FLEET_CALL_VERSION, call };
    if (options.reads) {
      // A read's answer is held to its size on a connection of its own, and never starts a
      // stopped scheduler (the exec path answers then).
      return await askMember(flagship, this.#ssh, "fleet", request, {
        timeoutMs: Math.min(options.timeoutMs, SHORT_CALL_MS),
        maxReplyBytes: MAX_REMOTE_REPLY_BYTES,
      });
    }
    const server = await reachMember(flagship.destination, this.#ssh, flagship.address)
      .catch(unlessUnreachable);
    if (!server) return undefined;
    try {
      const value = await server.call("fleet", request, {
        onEvent: (event) => {
          const progress = (event as { progress?: FleetProgress } | null)?.progress;
          if (progress) options.tell(progress);
        },
        signal: options.signal,
        timeoutMs: options.timeoutMs,
        // A change is sent again only when it surely was not sent.
        retry: "connect",
      });
      return { value };
    } catch (error) {
      const reason = options.signal?.aborted ? options.signal.reason : undefined;
      if (reason !== undefined) {
        throw reason instanceof InterruptedError
          ? reason
          : new InterruptedError("interrupted", { cause: error });
      }
      if (OLDER_FLAGSHIP.test((error as Error).message ?? "")) return undefined;
      // A change whose answer was lost (its scheduler stopped, the connection broke): the
      // flagship finishes what it started, and says how it went in its status.
      if (error instanceof ServerConnectionError) {
        throw new OhcommodoreError(
          `The flagship ${this.#facts.flagshipVm} stopped answering during "${call.method}" ` +
            `(${error.message}); it finishes what it started`,
          { next: `see how it went with "ohcommodore fleet status"`, cause: error },
        );
      }
      throw error;
    }
  }
}
