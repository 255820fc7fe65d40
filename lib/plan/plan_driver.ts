/**
 * The flagship's plan driver, run by its scheduler: it dispatches each task whose needs are done
 * to an idle ship as an agent task (one at a time per ship), takes in each outcome, sends a
 * failed verification or a conflict back to the same agent session within the task's attempts,
 * brings verified work onto the plan's branch one task at a time, and stops new work when the
 * budget is used up. Every step is recorded before it is taken (an attempt's message id is
 * chosen and stored before the message is sent, and delivery is idempotent by id), so a driver
 * started again after a crash finds its attempts on the ships and sends none twice.
 *
 * The driver holds the plans in memory (`live_plan.ts`) and takes one step at a time on them;
 * the steps live beside it: a new plan (`new_plan.ts`), what goes out next (`attempt_dispatch.ts`), each
 * attempt followed on its ship (`attempt_watch.ts`), what its end makes of it
 * (`attempt_outcomes.ts`), when a plan ends (`plan_end.ts`), the ships (`plan_ships.ts`) and who
 * follows a plan's events (`plan_followers.ts`).
 *
 * @module
 */

import type { FinishedMessage } from "../inbox/message.ts";
import { recordAttempt, recordPlanPr, sendNext, settleNeeds } from "./attempt_dispatch.ts";
import { takeLostAttempt, takeOutcome } from "./attempt_outcomes.ts";
import { watchAttempt } from "./attempt_watch.ts";
import { hasBudgetLeft, type LivePlan, LivePlans, planEvent } from "./live_plan.ts";
import { newPlan, startedEvent } from "./new_plan.ts";
import { cancelTasks, endingOf, endPlan } from "./plan_end.ts";
import { checkPlan } from "./plan_check.ts";
import type { PlanFile } from "./plan_schema.ts";
import { PlanFollowers } from "./plan_followers.ts";
import { checkPlanOptions, type PlanRunOptions, resolvePlanShips } from "./plan_options.ts";
import { type PlanShip, PlanShips } from "./plan_ships.ts";
import type { AttemptRecord, PlanChanges } from "./plan_records.ts";
import type { PlanStore } from "./plan_store.ts";
import { listingOf, summaryOf } from "./plan_summary.ts";
import type {
  PlanAssignment,
  PlanEvent,
  PlanListing,
  PlanStatus,
  PlanSummary,
} from "./plan_types.ts";

export type { PlanShip } from "./plan_ships.ts";

// A ship unreachable this long loses its attempt, unless the plan says otherwise.
const DEFAULT_LOST_AFTER_MS = 120_000;

/** What the driver needs of its flagship. */
export interface PlanDriverOptions {
  /** The plans database. */
  store: PlanStore;
  /** The fleet's ships, as the registry has them now. */
  ships: () => Promise<PlanShip[]>;
  /** Told a task's failure and a plan's end (the notify hook). */
  notify?: (event: "plan_task_failed" | "plan_ended", data: unknown) => void | Promise<void>;
  /** Told what goes wrong that nobody waits for. */
  log?: (line: string) => void;
  /**
   * How long a ship may be unreachable before its attempt goes to another ship.
   *
   * @default {120_000}
   */
  lostAfterMs?: number;
}

/** The flagship's plan driver. */
export class PlanDriver {
  readonly #options: PlanDriverOptions;
  readonly #store: PlanStore;
  readonly #plans: LivePlans;
  readonly #ships: PlanShips;
  readonly #followers = new PlanFollowers();
  #serial: Promise<unknown> = Promise.resolve();
  #notifying: Promise<unknown> = Promise.resolve();
  #stopped = false;
  readonly #stop = new AbortController();

  private constructor(options: PlanDriverOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#plans = new LivePlans(options.store);
    // A ship that rested may take work again: every plan looks.
    this.#ships = new PlanShips(options.ships, (name) => {
      if (this.#stopped) return;
      this.#inTurn(async () => {
        for (const plan of this.#plans.all()) await this.#tick(plan);
      }).catch((error) => this.#log(`after ${name} rested: ${error.message}`));
    });
  }

  /**
   * Starts the driver: plans that were running when a driver stopped are taken up again, and
   * their attempts found on their ships.
   *
   * @param options The store and the fleet.
   * @returns The driver.
   */
  static async start(options: PlanDriverOptions): Promise<PlanDriver> {
    const driver = new PlanDriver(options);
    await driver.#ships.refresh().catch((error) => driver.#log(`ships: ${error.message}`));
    for (const plan of await driver.#plans.loadRunning()) {
      for (const attempt of plan.open.values()) {
        driver.#ships.take(attempt.ship, attempt.messageId);
        // Sent before the crash, or only recorded: found on the ship, or sent now (same id).
        driver.#watch(plan, attempt, { sent: true });
      }
    }
    await driver.#inTurn(async () => {
      for (const plan of driver.#plans.all()) await driver.#tick(plan);
    });
    return driver;
  }

  /**
   * Takes a plan and starts it.
   *
   * @param file The plan (checked again here: it may come from any client).
   * @param options Ships, budget, attempts, integration branch, pull requests.
   * @returns The plan as it starts.
   */
  async submit(file: PlanFile, options: PlanRunOptions = {}): Promise<PlanSummary> {
    const plan = checkPlan(file, "the plan");
    const checked = checkPlanOptions(options);
    await this.#ships.refresh();
    const { ships, repo } = resolvePlanShips(this.#ships.all(), checked);
    const live = newPlan(plan, checked, ships.map((ship) => ship.name), repo);
    await this.#inTurn(async () => {
      const started = startedEvent(live);
      const tasks = [...live.tasks.values()];
      await this.#store.save({ plan: live.record, tasks, events: [started] });
      this.#plans.add(live);
      this.#followers.tell([started]);
      await this.#tick(live);
    });
    return this.#summary(live);
  }

  /**
   * A plan as it stands.
   *
   * @param id Its id or a unique prefix.
   * @returns Its summary.
   */
  async status(id: string): Promise<PlanSummary> {
    return await this.#inTurn(async () => this.#summary(await this.#plans.find(id)));
  }

  /**
   * Every plan, newest first.
   *
   * @returns The plans, without their tasks' details.
   */
  async list(): Promise<PlanListing[]> {
    const plans = await this.#store.plans();
    return await Promise.all(plans.map(async (record) => {
      const live = this.#plans.get(record.id);
      const tasks = live ? [...live.tasks.values()] : await this.#store.tasks(record.id);
      return listingOf(live?.record ?? record, tasks);
    }));
  }

  /**
   * Which ship works for which plan now.
   *
   * @returns One entry per busy ship.
   */
  assignments(): PlanAssignment[] {
    return this.#plans.all().flatMap((plan) =>
      [...plan.open.values()].map((attempt) => ({
        ship: attempt.ship,
        plan: plan.record.id,
        task: attempt.task,
        kind: attempt.kind,
      }))
    );
  }

  /**
   * Cancels a plan: its running attempts are stopped on their ships, nothing more starts.
   *
   * @param id Its id or a unique prefix.
   * @returns The plan as it ends.
   */
  async cancel(id: string): Promise<PlanSummary> {
    const stopping: AttemptRecord[] = [];
    const summary = await this.#inTurn(async () => {
      const plan = await this.#plans.find(id);
      if (plan.record.status !== "running") return this.#summary(plan);
      stopping.push(...plan.open.values());
      await this.#end(plan, "cancelled", "cancelled", cancelTasks(plan));
      return this.#summary(plan);
    });
    // Outside the turn: a ship may take its time to stop, and outcomes must still come in.
    await Promise.all(stopping.map(async (attempt) => {
      const ship = this.#ships.get(attempt.ship);
      await ship?.inbox.cancel(attempt.messageId).catch((error) =>
        this.#log(`cancel ${attempt.messageId} on ${attempt.ship}: ${error.message}`)
      );
    }));
    return summary;
  }

  /**
   * A plan's events: those after `after`, then each as it happens, until the plan ends.
   *
   * @param id Its id or a unique prefix.
   * @param onEvent Told each event.
   * @param options `after`: the last event already seen; `signal` stops following.
   * @returns The plan once it has ended (or as it stands when the signal stopped following).
   */
  async follow(
    id: string,
    onEvent: (event: PlanEvent) => void,
    options: { after?: number; signal?: AbortSignal } = {},
  ): Promise<PlanSummary> {
    const plan = await this.#inTurn(() => this.#plans.find(id));
    const planId = plan.record.id;
    return await this.#followers.follow(
      plan,
      (after) => this.#store.events(planId, after),
      onEvent,
      options,
      () => this.status(planId),
    );
  }

  /** Stops the driver: attempts go on on their ships and are found again at the next start. */
  stop(): void {
    this.#stopped = true;
    this.#stop.abort();
    this.#ships.stop();
  }

  // ---- the work ----

  // Looks at a plan and starts what can start. In turn.
  async #tick(plan: LivePlan): Promise<void> {
    if (plan.record.status !== "running" || this.#stopped) return;
    const changes: PlanChanges = { tasks: [], events: [] };
    settleNeeds(plan, changes);
    const budgetLeft = hasBudgetLeft(plan);
    // Each attempt of a task is recorded first, then delivered and followed in the background.
    await sendNext(
      plan,
      this.#ships,
      budgetLeft,
      (task, ship, kind) =>
        this.#send(plan, recordAttempt(plan, task, ship.name, kind, changes), changes),
    );
    await this.#save(plan, changes);
    const ending = endingOf(plan, budgetLeft, this.#ships);
    if (ending && "prOn" in ending) {
      // The plan's own pull request (`--pr one`), sent like an attempt with no task.
      const pr = recordPlanPr(plan, ending.prOn.name);
      await this.#send(plan, pr.attempt, pr.changes);
    } else if (ending) await this.#end(plan, ending.status, ending.note, ending.changes);
  }

  // An attempt recorded in `changes` goes out: stored before it is sent, so a crash in between
  // finds it recorded and sends it then.
  async #send(plan: LivePlan, attempt: AttemptRecord, changes: PlanChanges): Promise<void> {
    this.#ships.take(attempt.ship, attempt.messageId);
    await this.#save(plan, changes);
    this.#watch(plan, attempt, { sent: false });
  }

  // Delivers an attempt (unless it was) and follows it to its end, through dropped connections;
  // a ship gone from the fleet, or unreachable past lostAfterMs, loses it.
  #watch(plan: LivePlan, attempt: AttemptRecord, state: { sent: boolean }): void {
    watchAttempt(plan, attempt, state, {
      ships: this.#ships,
      lostAfterMs: plan.record.spec.file.reassignAfterMs ?? this.#options.lostAfterMs ??
        DEFAULT_LOST_AFTER_MS,
      signal: this.#stop.signal,
      verifying: () => {
        this.#inTurn(() => this.#verifying(plan, attempt)).catch(() => {});
      },
      ended: (message) => this.#inTurn(() => this.#ended(plan, attempt, message)),
      lost: (why) => this.#lose(plan, attempt, why),
      log: (line) => this.#log(line),
    });
  }

  async #verifying(plan: LivePlan, attempt: AttemptRecord): Promise<void> {
    const task = plan.tasks.get(attempt.task);
    if (!task || task.status !== "running" || attempt.status !== "sent") return;
    task.status = "verifying";
    await this.#save(plan, {
      tasks: [task],
      events: [planEvent(plan, "verifying", task.id, attempt.ship, "the agent ended: verifying")],
    });
  }

  // An attempt's outcome taken in. In turn.
  async #ended(plan: LivePlan, attempt: AttemptRecord, message: FinishedMessage): Promise<void> {
    if (attempt.status !== "sent") return;
    const changes = takeOutcome(plan, attempt, message, (line) => this.#log(line));
    this.#ships.free(attempt.ship, attempt.messageId);
    const failures = changes.tasks!.filter((task) => task.status === "failed");
    await this.#save(plan, changes);
    for (const failed of failures) {
      const [task] = summaryOf(plan.record, [failed]).tasks;
      this.#notify("plan_task_failed", { plan: plan.record.id, task });
    }
    await this.#tick(plan);
    // A finished plan's ships may be wanted by another.
    for (const other of this.#plans.all()) if (other !== plan) await this.#tick(other);
  }

  // A ship gone or silent: its attempt is given up on and the task goes to another ship.
  async #lose(plan: LivePlan, attempt: AttemptRecord, why: string): Promise<void> {
    await this.#inTurn(async () => {
      if (attempt.status !== "sent") return;
      const changes = takeLostAttempt(plan, attempt, why);
      this.#ships.free(attempt.ship, attempt.messageId);
      // Should the ship come back, its agent stops rather than push over the task's new attempt.
      this.#ships.get(attempt.ship)?.inbox.cancel(attempt.messageId).catch(() => {});
      await this.#save(plan, changes);
      await this.#tick(plan);
    });
  }

  async #end(
    plan: LivePlan,
    status: PlanStatus,
    note: string,
    changes: PlanChanges,
  ): Promise<void> {
    endPlan(plan, status, note, changes);
    await this.#save(plan, changes);
    this.#notify("plan_ended", this.#summary(plan));
  }

  // ---- helpers ----

  async #save(plan: LivePlan, changes: PlanChanges): Promise<void> {
    const empty = !changes.plan && !changes.tasks?.length && !changes.attempts?.length &&
      !changes.events?.length;
    if (empty) return;
    // A task changed twice in one step is written once.
    const tasks = [...new Set(changes.tasks ?? [])];
    await this.#store.save({ ...changes, tasks, plan: changes.plan ?? plan.record });
    this.#followers.tell(changes.events ?? []);
    changes.tasks = [];
    changes.attempts = [];
    changes.events = [];
  }

  #summary(plan: LivePlan): PlanSummary {
    return summaryOf(plan.record, [...plan.tasks.values()]);
  }

  // Work on the plans, one step at a time: outcomes, submissions and cancels never interleave.
  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#serial.catch(() => {}).then(work);
    this.#serial = next;
    return next;
  }

  // The hook hears events one at a time, in the order they happened.
  #notify(event: "plan_task_failed" | "plan_ended", data: unknown): void {
    const notify = this.#options.notify;
    if (!notify) return;
    this.#notifying = this.#notifying.then(() => notify(event, data)).catch((error) =>
      this.#log(`notify: ${(error as Error).message}`)
    );
  }

  #log(line: string): void {
    this.#options.log?.(`plans: ${line}`);
  }
}
