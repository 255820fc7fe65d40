/**
 * How the laptop asks the flagship: one versioned JSON request, answered by progress events and
 * then one result or one error as data. The flagship's scheduler answers it on its server's
 * socket (the `fleet` operation, through the shared connection's forward); where forwards are
 * refused, the flagship's own program (`ohcommodore fleet _call`) reads it on stdin and answers
 * with JSON lines on stdout. Arguments travel as JSON, so a ship name never reaches an option
 * parser, and errors come back as their own class with their fields.
 *
 * @module
 */

import { lineSplitter } from "../lines.ts";
import { UsageError } from "../errors.ts";
import { type ErrorData, errorToData, isErrorData } from "../error_data.ts";
import type { FleetBackend } from "./backend.ts";
import type { Settings } from "../settings.ts";
import type { FleetProgress } from "./progress.ts";

/** The version of the call protocol; the flagship refuses another. */
export const FLEET_CALL_VERSION = 1;

/** One call, as the laptop sends it. */
export type FleetCall =
  | { method: "status" }
  | { method: "ships" }
  | {
    method: "createShips";
    spec: string;
    count: number;
    settings: Settings;
    trusted?: boolean;
    from?: string;
    fresh?: boolean;
  }
  | { method: "templateShip"; prefix: string; unset?: boolean }
  | { method: "destroyShip"; prefix: string }
  | { method: "sink" }
  | { method: "keptTasks" }
  | { method: "shipTasks" }
  | { method: "locate"; name: string; prefix: boolean };

/** The request on stdin. */
export interface FleetCallRequest {
  /** {@link FLEET_CALL_VERSION}. */
  version: number;
  /** The call. */
  call: FleetCall;
}

/** One line of the answer on stdout. */
export type FleetCallLine =
  | { progress: FleetProgress }
  | { result: unknown }
  | { error: ErrorData };

/**
 * Serves one request with a backend, writing the answer's lines as they happen. Never throws:
 * failures are answered as data.
 *
 * @param input The request text.
 * @param backend Opens the flagship (its failure is answered too).
 * @param write Writes one line (without its newline); its failures are ignored, because the
 *   flagship finishes what it started when the laptop stops listening.
 * @returns The exit code: 0 when the call succeeded, else the error's.
 */
export async function serveFleetCall(
  input: string,
  backend: () => Promise<FleetBackend>,
  write: (line: string) => void,
): Promise<number> {
  const say = (line: FleetCallLine) => {
    try {
      write(JSON.stringify(line));
    } catch {
      // nobody listens any more
    }
  };
  try {
    const call = parseRequest(input).call;
    const onProgress = (progress: FleetProgress) => say({ progress });
    say({ result: (await dispatch(await backend(), call, onProgress)) ?? null });
    return 0;
  } catch (error) {
    const data = errorToData(error);
    say({ error: data });
    return data.exitCode || 1;
  }
}

/**
 * Answers a fleet call that came to the flagship's server (its `fleet` operation): the same
 * checks and the same answer as over exec. A change goes on when its caller stops listening,
 * as over exec: the flagship finishes what it started.
 *
 * @param request The request: `{ version, call }`.
 * @param backend The flagship.
 * @param onProgress Told each progress event (the server streams them to the caller).
 * @returns The call's answer.
 * @throws {UsageError} For a bad request.
 */
export async function answerFleetCall(
  request: unknown,
  backend: FleetBackend,
  onProgress: (progress: FleetProgress) => void = () => {},
): Promise<unknown> {
  const { call } = parseRequest(JSON.stringify(request ?? null));
  const tell = (progress: FleetProgress) => {
    try {
      onProgress(progress);
    } catch {
      // nobody listens any more: the change goes on
    }
  };
  return (await dispatch(backend, call, tell)) ?? null;
}

// Every call: what it needs as strings, whether it only reads (a read may be asked twice; a
// change is sent again only when it surely was not sent), and how the backend carries it out.
// One entry per method: the checks, the retries and the dispatch read it.
const CALLS: {
  [M in FleetCall["method"]]: {
    strings?: readonly string[];
    reads?: true;
    run: (
      backend: FleetBackend,
      call: Extract<FleetCall, { method: M }>,
      onProgress: (progress: FleetProgress) => void,
    ) => Promise<unknown>;
  };
} = {
  status: { reads: true, run: (backend) => backend.status() },
  ships: { reads: true, run: (backend) => backend.ships() },
  createShips: {
    strings: ["spec"],
    run: (backend, call, onProgress) =>
      backend.createShips(call.spec, {
        count: call.count,
        settings: call.settings,
        trusted: call.trusted === true,
        from: call.from,
        fresh: call.fresh === true,
        onProgress,
      }),
  },
  templateShip: {
    strings: ["prefix"],
    run: (backend, call) => backend.templateShip(call.prefix, { unset: call.unset === true }),
  },
  destroyShip: { strings: ["prefix"], run: (backend, call) => backend.destroyShip(call.prefix) },
  sink: { run: (backend, _, onProgress) => backend.sink(onProgress) },
  keptTasks: { reads: true, run: (backend) => backend.keptTasks() },
  shipTasks: { reads: true, run: (backend) => backend.shipTasks() },
  locate: {
    strings: ["name"],
    reads: true,
    run: (backend, call) => backend.locate(call.name, call.prefix),
  },
};

/** The calls that only read: asking them twice is harmless. */
export const READ_METHODS: readonly FleetCall["method"][] = (
  Object.keys(CALLS) as FleetCall["method"][]
).filter((method) => CALLS[method].reads);

/**
 * Whether a request (as it came, unchecked) is a call that only reads: anything else may change
 * the fleet, and a stopping flagship waits for it.
 *
 * @param request The request: `{ version, call }`.
 * @returns True for a read.
 */
export function isReadRequest(request: unknown): boolean {
  const method = (request as { call?: { method?: unknown } } | null)?.call?.method;
  return (READ_METHODS as readonly unknown[]).includes(method);
}

function dispatch(
  backend: FleetBackend,
  call: FleetCall,
  onProgress: (progress: FleetProgress) => void,
): Promise<unknown> {
  const entry = CALLS[call.method] as {
    run: (
      backend: FleetBackend,
      call: FleetCall,
      onProgress: (p: FleetProgress) => void,
    ) => Promise<unknown>;
  };
  return entry.run(backend, call, onProgress);
}

function parseRequest(input: string): FleetCallRequest {
  let request: FleetCallRequest;
  try {
    request = JSON.parse(input);
  } catch {
    throw new UsageError(`The fleet call on stdin is not JSON`);
  }
  if (request?.version !== FLEET_CALL_VERSION) {
    throw new UsageError(
      `This flagship speaks fleet call version ${FLEET_CALL_VERSION}, not ` +
        `${JSON.stringify(request?.version)}: run the same ohcommodore version on both ends`,
    );
  }
  const call = request.call as Record<string, unknown>;
  if (!Object.hasOwn(CALLS, String(call?.method))) {
    throw new UsageError(`Unknown fleet call "${String(call?.method)}"`);
  }
  for (const key of CALLS[call.method as FleetCall["method"]].strings ?? []) {
    if (typeof call[key] !== "string") {
      throw new UsageError(`The fleet call "${call.method}" needs a "${key}" string`);
    }
  }
  if (call.method === "createShips" && (typeof call.settings !== "object" || !call.settings)) {
    call.settings = {};
  }
  if (call.method === "createShips" && call.from !== undefined && typeof call.from !== "string") {
    throw new UsageError(`The fleet call "createShips" wants "from" as a string`);
  }
  return request;
}

/**
 * Reads the answer's lines as they arrive.
 *
 * @param onLine Called for each complete line that is an answer line.
 * @returns A function to feed stdout's text to, chunk by chunk.
 */
export function answerReader(onLine: (line: FleetCallLine) => void): (text: string) => void {
  const lines = lineSplitter((line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // not ours: a login banner, a stray print
    }
    if (isAnswerLine(parsed)) onLine(parsed);
  });
  return (text) => lines.push(text);
}

function isAnswerLine(value: unknown): value is FleetCallLine {
  if (typeof value !== "object" || value === null) return false;
  if ("result" in value) return true;
  if ("error" in value) return isErrorData((value as { error: unknown }).error);
  return "progress" in value;
}
