/**
 * Making a fleet member is a sequence of steps, each with a way to undo it. {@link UndoableSteps}
 * runs them, tells of each as it begins, and on failure undoes what was made, newest first:
 * making the flagship and making each ship share it, so cleanup is written once.
 *
 * @module
 */

import type { FleetProgress, ProvisionStep } from "./progress.ts";
import { ProvisionError } from "./provision.ts";
import { ProviderError } from "../errors.ts";

/** Undoes one piece of work. It must be harmless when that work never took effect. */
export type Undo = () => Promise<unknown>;

/** How a {@link UndoableSteps} reports, stops and recovers. */
export interface UndoableStepsOptions {
  /** The step a failure names until the first one begins (say, work done before any step). */
  startsAt: ProvisionStep;
  /**
   * The command a person runs to remove what an undo could not, e.g. `ohcommodore fleet sink`:
   * the failure's `next`.
   */
  recovery: string;
  /** Told as each step begins, and when the member is ready. */
  onProgress?: (progress: FleetProgress) => void;
  /** Stops the creation at the next step (Ctrl-C); what it made is then undone. */
  signal?: AbortSignal;
}

/**
 * One member's creation under way: its current step and the undo of everything done so far.
 *
 * @example Create a VM, wait for it, and leave nothing behind when either fails
 * ```ts
 * import { UndoableSteps } from "./undoable_steps.ts";
 * import { LocalProvider } from "../providers/local.ts";
 * const provider = new LocalProvider("/tmp/sandboxes");
 * const steps = new UndoableSteps("ship-web-k3f9aaaa", {
 *   startsAt: "create",
 *   recovery: "ohcommodore fleet sink",
 * });
 * try {
 *   const vm = await steps.step(
 *     "create",
 *     () => provider.create("ship-web-k3f9aaaa"),
 *     () => provider.remove(["ship-web-k3f9aaaa"]),
 *   );
 *   await steps.step("reach", () => provider.waitUntilReachable(vm));
 *   steps.done();
 * } catch (error) {
 *   throw await steps.fail(error);
 * }
 * ```
 */
export class UndoableSteps {
  /** The VM being created. */
  readonly vm: string;
  /** The creation's interruption signal, for the work of its steps to pass on. */
  readonly signal?: AbortSignal;
  readonly #recovery: string;
  readonly #onProgress?: (progress: FleetProgress) => void;
  readonly #undo: Undo[] = [];
  #current: ProvisionStep;

  /**
   * Starts a creation; nothing runs until a step does.
   *
   * @param vm The VM being created.
   * @param options The first step's name, the recovery command, progress and interruption.
   */
  constructor(vm: string, options: UndoableStepsOptions) {
    this.vm = vm;
    this.signal = options.signal;
    this.#recovery = options.recovery;
    this.#onProgress = options.onProgress;
    this.#current = options.startsAt;
  }

  /** The step under way: the one a failure now would name. */
  get current(): ProvisionStep {
    return this.#current;
  }

  /**
   * Begins a step: from now on a failure names it; an interruption stops here; progress hears
   * of it unless `report` is false.
   *
   * @param step The step.
   * @param options `report: false` for a step the person is not told of; `message`, what it
   *   does in more words than the step's own (a copy names its source).
   * @throws The signal's reason when the creation was interrupted.
   */
  begin(step: ProvisionStep, options: { report?: boolean; message?: string } = {}): void {
    this.#current = step;
    this.signal?.throwIfAborted();
    if (options.report === false) return;
    this.#onProgress?.({
      vm: this.vm,
      step,
      ...(options.message ? { message: options.message } : {}),
    });
  }

  /**
   * Adds the undo of work that is about to be done (or was done outside any step).
   *
   * @param undo Removes what the work made.
   */
  onUndo(undo: Undo): void {
    this.#undo.push(undo);
  }

  /**
   * Runs a step: {@link begin}s it, registers its undo, then does the work. The undo is
   * registered before the work, because work may take effect and still fail (a VM made whose
   * answer was lost, a key added before the connection broke). Only a provider's refusal
   * ({@link ProviderError} `refused`) takes it back: nothing was made, and what the undo would
   * remove by name is someone else's.
   *
   * @param step The step.
   * @param work What it does.
   * @param undo How to take it back, if it leaves something behind.
   * @param options The progress line's words, when not the step's own.
   * @returns What the work returns.
   */
  async step<T>(
    step: ProvisionStep,
    work: () => Promise<T>,
    undo?: Undo,
    options: { message?: string } = {},
  ): Promise<T> {
    this.begin(step, options);
    if (undo) this.onUndo(undo);
    try {
      return await work();
    } catch (error) {
      if (undo && error instanceof ProviderError && error.refused) {
        this.#undo.splice(this.#undo.lastIndexOf(undo), 1);
      }
      throw error;
    }
  }

  /**
   * Says the member is ready (the last chance for an interruption to undo it all).
   *
   * @throws The signal's reason when the creation was interrupted.
   */
  done(): void {
    this.signal?.throwIfAborted();
    this.#onProgress?.({ vm: this.vm, step: "ready" });
  }

  /**
   * Undoes what the creation made, newest first and each undo on its own (one failing does not
   * stop the others), and returns the error to throw: which step failed, plus what could not be
   * undone, and as its `next` how to finish the job.
   *
   * @param error What went wrong.
   * @returns The error, naming the step (a {@link ProvisionError} from provisioning is kept).
   */
  async fail(error: unknown): Promise<ProvisionError> {
    // A killed ssh can fail a step before we hear the signal that killed it.
    const cause = this.signal?.aborted ? this.signal.reason : error;
    const failed = cause instanceof ProvisionError
      ? cause
      : new ProvisionError(this.vm, this.#current, cause);
    const left: string[] = [];
    for (const undo of this.#undo.splice(0).reverse()) {
      await undo().catch((reason) => left.push((reason as Error).message));
    }
    if (left.length) {
      failed.message += `\nCleaning up ${this.vm} failed too (${left.join("; ")})`;
      failed.next = `run "${this.#recovery}" to remove what is left`;
    } else if (failed.exitCode === 130) {
      failed.message += `; what it had made is removed`;
    }
    return failed;
  }
}
