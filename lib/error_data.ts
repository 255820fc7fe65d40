/**
 * Errors as data, to cross a process boundary (the flagship's answer to the laptop, a member's
 * `--json`, the inbox server's reply): {@link errorToData} writes an error's class name, message,
 * exit code and fields; {@link errorFromData} gives it back as its own class where that class is
 * registered ({@link registerErrorClass}: errors.ts's classes here, each other error class beside
 * its definition), else as an `OhcommodoreError` with its name. Data from another process is
 * trusted no further than that: no keys that reach into objects, bounded nesting, an exit code
 * in 1..254.
 *
 * @module
 */

import {
  AmbiguousNameError,
  DatabaseError,
  DeliveryRefusedError,
  DiskFullError,
  FlagshipError,
  InterruptedError,
  NotFoundError,
  OhcommodoreError,
  ProviderError,
  RemoteCommandError,
  ServerConnectionError,
  SshError,
  TimeoutError,
  UsageError,
} from "./errors.ts";

/** An error as data, to cross a process boundary (the flagship's answer to the laptop). */
export interface ErrorData {
  /** The class name, e.g. `NotFoundError`. */
  name: string;
  /** The message. */
  message: string;
  /** The exit code the CLI uses for it. */
  exitCode: number;
  /** Its structured fields (`query`, `matches`, `messageId`, `next`, …); nested errors as data too. */
  fields: Record<string, unknown>;
}

/** Any error class, whatever its constructor takes. */
export type ErrorClass = abstract new (...args: never[]) => Error;

// Classes that come back as themselves; others come back as OhcommodoreError with their name.
const KNOWN_ERRORS = new Map<string, ErrorClass>();

/**
 * Lets errors of a class come back as that class from {@link errorFromData}. Modules that
 * define an error call it once, beside the class.
 *
 * @example Register an error class
 * ```ts
 * import { OhcommodoreError } from "@smithclay/ohcommodore";
 * import { registerErrorClass } from "@smithclay/ohcommodore/errors";
 * class QuotaError extends OhcommodoreError {}
 * registerErrorClass(QuotaError);
 * ```
 *
 * @param errorClass The class; its `name` is the key.
 */
export function registerErrorClass(errorClass: ErrorClass): void {
  KNOWN_ERRORS.set(errorClass.name, errorClass);
}

// The classes errors.ts defines, which cannot register themselves (it is below this file).
for (
  const errorClass of [
    OhcommodoreError,
    UsageError,
    NotFoundError,
    AmbiguousNameError,
    SshError,
    RemoteCommandError,
    TimeoutError,
    DeliveryRefusedError,
    DatabaseError,
    DiskFullError,
    InterruptedError,
    ProviderError,
    ServerConnectionError,
    FlagshipError,
  ]
) registerErrorClass(errorClass);

const NOT_FIELDS = new Set(["name", "message", "stack", "cause", "exitCode"]);
// Keys that would reach into objects rather than be data.
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);
// Errors nest (CreateShipsError.failures); data from another process is cut off below this.
const MAX_DEPTH = 8;

/**
 * An error as data: its class name, message, exit code and own fields.
 *
 * @example Send an error across a pipe and get it back
 * ```ts
 * import { NotFoundError } from "@smithclay/ohcommodore";
 * import { errorFromData, errorToData } from "@smithclay/ohcommodore/errors";
 * const data = errorToData(new NotFoundError(`No ship matches "web"`, { query: "web" }));
 * const back = errorFromData(JSON.parse(JSON.stringify(data)));
 * console.log(back instanceof NotFoundError, (back as NotFoundError).query); // true "web"
 * ```
 *
 * @param error Any thrown value.
 * @returns The data.
 */
export function errorToData(error: unknown): ErrorData {
  if (!(error instanceof Error)) {
    return { name: "Error", message: String(error), exitCode: 1, fields: {} };
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (!NOT_FIELDS.has(key) && !UNSAFE_KEYS.has(key)) fields[key] = fieldToData(value);
  }
  const exitCode = error instanceof OhcommodoreError ? error.exitCode : 1;
  return { name: error.name, message: error.message, exitCode, fields };
}

/**
 * The error that {@link errorToData} described, as its own class where that class is known.
 *
 * @param data The data.
 * @param depth How deep in nested errors this one is (deeper data is dropped).
 * @returns The error (not thrown).
 */
export function errorFromData(data: ErrorData, depth = 0): OhcommodoreError {
  const known = KNOWN_ERRORS.get(data.name);
  const errorClass = known && known.prototype instanceof Error ? known : OhcommodoreError;
  // Built without its constructor (whose parameters differ by class): the fields say it all.
  const error = Reflect.construct(Error, [String(data.message)], errorClass) as OhcommodoreError;
  const own = (key: string, value: unknown) =>
    Object.defineProperty(error, key, { value, enumerable: true, writable: true });
  Object.defineProperty(error, "name", { value: String(data.name), writable: true });
  // A failure never exits 0, and exit codes live in 1..254 (255 is ssh's own).
  const code = Number(data.exitCode);
  own("exitCode", Number.isInteger(code) && code >= 1 && code <= 254 ? code : 1);
  for (const [key, value] of Object.entries(data.fields ?? {})) {
    if (NOT_FIELDS.has(key) || UNSAFE_KEYS.has(key) || key in errorClass.prototype) continue;
    own(key, fieldFromData(value, depth + 1));
  }
  return error;
}

/**
 * Whether a value has the shape of {@link ErrorData}.
 *
 * @param value Parsed JSON.
 * @returns True for an error's data.
 */
export function isErrorData(value: unknown): value is ErrorData {
  const data = value as ErrorData;
  return typeof data === "object" && data !== null && typeof data.name === "string" &&
    typeof data.message === "string";
}

function fieldToData(value: unknown): unknown {
  if (value instanceof Error) return { $error: errorToData(value) };
  if (Array.isArray(value)) return value.map(fieldToData);
  return value;
}

function fieldFromData(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) return value.map((item) => fieldFromData(item, depth));
  const nested = (value as { $error?: unknown } | null)?.$error;
  return isErrorData(nested) ? errorFromData(nested, depth) : value;
}
