/**
 * The error of a `ship create --count` of which some ships failed: it names the ships that were
 * made, and crosses from the flagship to the laptop as data.
 *
 * @module
 */

import { OhcommodoreError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import type { ShipRecord } from "./registry.ts";

/**
 * Some ships of a `ship create --count` failed; the others were made.
 *
 * @example Keep the ships that were made when others failed
 * ```ts
 * import { CreateShipsError, Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * try {
 *   await fleet.createShips("denoland/std", { count: 3 });
 * } catch (error) {
 *   if (!(error instanceof CreateShipsError)) throw error;
 *   console.log(error.created.map((ship) => ship.name), error.failures.length);
 * }
 * ```
 */
export class CreateShipsError extends OhcommodoreError {
  /** The ships that were made. */
  readonly created: ShipRecord[];
  /** Why the others failed. */
  readonly failures: Error[];
  /** 130 when they were interrupted, else 1. */
  override readonly exitCode: number = 1;

  /**
   * Creates the error.
   *
   * @param created The ships made.
   * @param failures The errors of the others; what they say to run next is said once.
   */
  constructor(created: ShipRecord[], failures: Error[]) {
    const made = created.length ? ` (made: ${created.map((ship) => ship.name).join(", ")})` : "";
    const next = [...new Set(failures.flatMap((error) => (error as OhcommodoreError).next ?? []))];
    super(
      failures.length === 1
        ? failures[0].message + made
        : `${failures.length} ships failed${made}:\n` +
          failures.map((error) => `  ${error.message}`).join("\n"),
      { next: next.length ? next.join("; ") : undefined },
    );
    this.created = created;
    this.failures = failures;
    if (failures.some((failure) => (failure as OhcommodoreError).exitCode === 130)) {
      this.exitCode = 130;
    }
  }

  /**
   * The error as data (`--json` prints it; the laptop reads it back with {@link fromJSON}).
   *
   * @returns The ships made and why the others failed.
   */
  toJSON(): { created: ShipRecord[]; failures: string[] } {
    return { created: this.created, failures: this.failures.map((failure) => failure.message) };
  }

  /**
   * Reads the error back from {@link toJSON}'s shape.
   *
   * @param answer Parsed JSON.
   * @returns The error, or undefined when the JSON is not one.
   */
  static fromJSON(answer: unknown): CreateShipsError | undefined {
    const { created, failures } = (answer ?? {}) as { created?: unknown; failures?: unknown };
    if (!Array.isArray(created) || !Array.isArray(failures)) return undefined;
    return new CreateShipsError(
      created as ShipRecord[],
      failures.map((text) => new OhcommodoreError(String(text))),
    );
  }
}

// It crosses from the flagship to the laptop as data and comes back as itself.
registerErrorClass(CreateShipsError);
