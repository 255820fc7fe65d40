/**
 * Plans as a script holds them: `fleet.plans.run(file)` hands a plan to the flagship, which
 * drives it whether or not the script stays; a {@link Plan} handle follows, waits for or cancels
 * it.
 *
 * @module
 */

import type { PlanFile } from "./plan_schema.ts";
import type { PlanCaller } from "./plan_caller.ts";
import { checkPlanId, checkPlanOptions, type PlanRunOptions } from "./plan_options.ts";
import type { PlanAssignment, PlanEvent, PlanListing, PlanSummary } from "./plan_types.ts";

/**
 * The fleet's plans: `fleet.plans`.
 *
 * @example Run a plan of two tasks and wait for it
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const plan = await fleet.plans.run({
 *   verify: "deno task test",
 *   tasks: [
 *     { id: "parser", prompt: "Add a parser for the new config format" },
 *     { id: "cli", prompt: "Use the parser in the CLI", needs: ["parser"] },
 *   ],
 * }, { budgetUsd: 10, integrate: "release" });
 * for await (const event of plan.events()) console.log(event.type, event.task ?? "", event.text);
 * console.log((await plan.status()).status);
 * ```
 */
export class Plans {
  readonly #call: PlanCaller;

  /**
   * The plans of the flagship a caller reaches.
   *
   * @param call Asks the flagship's plan driver.
   */
  constructor(call: PlanCaller) {
    this.#call = call;
  }

  /**
   * Hands a plan to the flagship, which starts it at once.
   *
   * @param plan The plan, or the path of its file (YAML or JSON).
   * @param options Ships, budget, attempts, integration branch and pull requests (over the
   *   file's own settings).
   * @returns A handle on the plan.
   * @throws {PlanFileError} For a bad plan file, before anything is sent.
   * @throws {UsageError} For bad options, or ships of more than one repository.
   */
  async run(plan: PlanFile | string, options: PlanRunOptions = {}): Promise<Plan> {
    // The parser is loaded only for a file: it costs every program start otherwise.
    const file = typeof plan === "string"
      ? await (await import("./plan_file.ts")).readPlanFile(plan)
      : plan;
    checkPlanOptions(options);
    const summary = await this.#call({ method: "run", plan: file, options }) as PlanSummary;
    return new Plan(summary.id, this.#call);
  }

  /**
   * Every plan the flagship has, newest first.
   *
   * @returns The plans.
   */
  async list(): Promise<PlanListing[]> {
    return await this.#call({ method: "list" }) as PlanListing[];
  }

  /**
   * Which ship works for which plan now.
   *
   * @returns One entry per busy ship.
   */
  async assignments(): Promise<PlanAssignment[]> {
    return await this.#call({ method: "assignments" }) as PlanAssignment[];
  }

  /**
   * A handle on a plan.
   *
   * @param id Its id or a unique prefix.
   * @returns The handle (the plan is looked for when it is used).
   * @throws {UsageError} For an id that is not one (hex).
   */
  get(id: string): Plan {
    return new Plan(checkPlanId(id), this.#call);
  }
}

/** One plan on the flagship. */
export class Plan {
  /** Its id (or the prefix it was asked for by). */
  readonly id: string;
  readonly #call: PlanCaller;

  /**
   * A handle on a plan.
   *
   * @param id Its id.
   * @param call Asks the flagship's plan driver.
   */
  constructor(id: string, call: PlanCaller) {
    this.id = id;
    this.#call = call;
  }

  /**
   * How the plan stands.
   *
   * @returns Its summary.
   */
  async status(): Promise<PlanSummary> {
    return await this.#call({ method: "status", id: this.id }) as PlanSummary;
  }

  /**
   * Follows the plan: each event from the start of its history (or after `after`), as it
   * happens, until it ends.
   *
   * @param onEvent Told each event.
   * @param options `after`: the last event already seen; `signal` stops following.
   * @returns The plan once it has ended.
   */
  async follow(
    onEvent: (event: PlanEvent) => void,
    options: { after?: number; signal?: AbortSignal } = {},
  ): Promise<PlanSummary> {
    let seen = options.after ?? 0;
    return await this.#call({ method: "follow", id: this.id, after: options.after }, {
      onEvent: (event) => {
        // A follow asked again after a dropped connection replays what was seen.
        if (event.seq <= seen) return;
        seen = event.seq;
        onEvent(event);
      },
      signal: options.signal,
    }) as PlanSummary;
  }

  /**
   * The plan's events as an async iterable that ends with the plan.
   *
   * @param options `after`: the last event already seen.
   * @returns The events.
   */
  async *events(options: { after?: number } = {}): AsyncGenerator<PlanEvent> {
    const queue: PlanEvent[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const stop = new AbortController();
    const following = this.follow((event) => {
      queue.push(event);
      wake?.();
    }, { after: options.after, signal: stop.signal }).catch((error) => failure = error)
      .finally(() => {
        done = true;
        wake?.();
      });
    try {
      while (true) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        if (done) break;
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
      if (failure) throw failure;
    } finally {
      stop.abort();
      await following;
    }
  }

  /**
   * Waits for the plan to end.
   *
   * @returns Its summary.
   */
  async wait(): Promise<PlanSummary> {
    return await this.follow(() => {});
  }

  /**
   * Cancels the plan: running tasks are stopped, nothing more starts.
   *
   * @returns The plan as it ends.
   */
  async cancel(): Promise<PlanSummary> {
    return await this.#call({ method: "cancel", id: this.id }) as PlanSummary;
  }
}
