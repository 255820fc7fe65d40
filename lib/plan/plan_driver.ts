/**
 * The flagship's plan driver, run by its scheduler: it dispatches each task whose needs are done
 * to an idle ship as an agent task (one at a time per ship), takes in each outcome, sends a
 * failed verification or a conflict back to the same agent session within the task's attempts,
 * brings verified work onto the plan's branch one task at a time, and stops new work when the
 * budget is used up. Every step is recorded before it is taken (an attempt's message id is
 * chosen and stored before the message is sent, and delivery is idempotent by id), so a driver
 * started again after a crash finds its attempts on the ships and sends none twice.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import { type FinishedMessage, newMessageId } from "../inbox/message.ts";
import type { InboxView } from "../inbox/remote_inbox.ts";
import { sleep } from "../timer.ts";
import { VERIFYING_TYPE } from "../agent/verify.ts";
import { attemptCommand } from "./attempt_commands.ts";
import {
  failTask,
  takeAgentOutcome,
  takeIntegrationOutcome,
  takePrOutcome,
} from "./attempt_outcomes.ts";
import { type LivePlan, now, planEvent, taskSpecOf } from "./live_plan.ts";
import { checkPlan, type PlanFile } from "./plan_file.ts";
import {
  checkPlanId,
  checkPlanOptions,
  type PlanRunOptions,
  resolvePlanShips,
} from "./plan_options.ts";
import type {
  AttemptKind,
  AttemptRecord,
  PlanChanges,
  PlanRecord,
  PlanStore,
  TaskRecord,
} from "./plan_store.ts";
import { summaryOf } from "./plan_summary.ts";
import {
  FINAL_TASK_STATUSES,
  noTokens,
  type PlanAssignment,
  type PlanEvent,
  type PlanListing,
  type PlanStatus,
  type PlanSummary,
} from "./plan_types.ts";

// A ship unreachable this long loses its attempt, unless the plan says otherwise.
const DEFAULT_LOST_AFTER_MS = 120_000;

/** A ship as the driver uses it: `Ship` handles are these. */
export interface PlanShip {
  /** Its VM name. */
  readonly name: string;
  /** Its repository. */
  readonly repo: string | null;
  /** Its inbox. */
  readonly inbox: InboxView;
  /** Delivers a command (idempotent by id). */
  send(command: string, options: { id?: string; timeoutMs?: number }): Promise<unknown>;
}

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

// The ship's task says it verifies with this line (agent/task_runner.ts).
const VERIFYING_MARK = `"${VERIFYING_TYPE}"`;

/** The flagship's plan driver. */
export class PlanDriver {
  readonly #options: PlanDriverOptions;
  readonly #store: PlanStore;
  readonly #plans = new Map<string, LivePlan>();
  // Which ship works on which attempt: one at a time per ship, across plans.
  readonly #busy = new Map<string, string>();
  readonly #listeners = new Map<string, Set<(event: PlanEvent) => void>>();
  #ships = new Map<string, PlanShip>();
  // Ships that did not answer, given no work for now.
  readonly #resting = new Set<string>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #serial: Promise<unknown> = Promise.resolve();
  #notifying: Promise<unknown> = Promise.resolve();
  #stopped = false;
  readonly #stop = new AbortController();

  private constructor(options: PlanDriverOptions) {
    this.#options = options;
    this.#store = options.store;
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
    await driver.#refreshShips().catch((error) => driver.#log(`ships: ${error.message}`));
    for (const record of await options.store.plans("running")) {
      const tasks = await options.store.tasks(record.id);
      const plan: LivePlan = {
        record,
        tasks: new Map(tasks.map((task) => [task.id, task])),
        seq: await options.store.lastSeq(record.id),
        open: new Map(),
      };
      driver.#plans.set(record.id, plan);
      for (const attempt of await options.store.openAttempts(record.id)) {
        plan.open.set(attempt.messageId, attempt);
        driver.#busy.set(attempt.ship, attempt.messageId);
        // Sent before the crash, or only recorded: found on the ship, or sent now (same id).
        driver.#watch(plan, attempt, { sent: true });
      }
    }
    await driver.#inTurn(async () => {
      for (const plan of driver.#plans.values()) await driver.#tick(plan);
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
    await this.#refreshShips();
    const { ships, repo } = resolvePlanShips([...this.#ships.values()], checked);
    const id = newMessageId().slice(0, 8);
    const integrate = checked.integrate ?? plan.integrate ?? `plan-${id}`;
    const now = new Date().toISOString();
    const record: PlanRecord = {
      id,
      status: "running",
      repo,
      integrate,
      costUsd: 0,
      budgetUsd: checked.budgetUsd ?? plan.budgetUsd ?? null,
      tokens: noTokens(),
      pr: null,
      note: null,
      createdAt: now,
      finishedAt: null,
      spec: {
        file: plan,
        ships: ships.map((ship) => ship.name),
        maxAttempts: checked.maxAttempts ?? plan.maxAttempts ?? 2,
        pr: checked.pr ?? plan.pr ?? "none",
      },
    };
    const tasks = plan.tasks.map((task, position): TaskRecord => ({
      plan: id,
      id: task.id,
      position,
      status: task.needs?.length ? "waiting" : "ready",
      ship: null,
      attempts: 0,
      costUsd: 0,
      tokens: noTokens(),
      branch: `plan/${id}/${task.id}`,
      pr: null,
      startedAt: null,
      finishedAt: null,
      error: null,
      memory: {},
    }));
    const live: LivePlan = {
      record,
      tasks: new Map(tasks.map((task) => [task.id, task])),
      seq: 0,
      open: new Map(),
    };
    await this.#inTurn(async () => {
      const started = planEvent(
        live,
        "started",
        null,
        null,
        [
          `${tasks.length} task(s) in ${repo} on ${record.spec.ships.join(", ")}`,
          `onto ${integrate}`,
          record.budgetUsd === null ? "no budget" : `budget $${record.budgetUsd}`,
          `${record.spec.maxAttempts} attempt(s) per task`,
        ].join("; "),
      );
      await this.#store.save({ plan: record, tasks, events: [started] });
      this.#plans.set(id, live);
      this.#tell([started]);
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
    return await this.#inTurn(async () => this.#summary(await this.#find(id)));
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
      const { tasks: _, ...summary } = summaryOf(live?.record ?? record, tasks);
      return {
        ...summary,
        tasks: tasks.length,
        tasksDone: tasks.filter((task) => task.status === "done").length,
      };
    }));
  }

  /**
   * Which ship works for which plan now.
   *
   * @returns One entry per busy ship.
   */
  assignments(): PlanAssignment[] {
    return [...this.#plans.values()].flatMap((plan) =>
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
      const plan = await this.#find(id);
      if (plan.record.status !== "running") return this.#summary(plan);
      stopping.push(...plan.open.values());
      const changes: PlanChanges = { tasks: [], events: [] };
      for (const task of plan.tasks.values()) {
        if (FINAL_TASK_STATUSES.includes(task.status)) continue;
        Object.assign(task, { status: "cancelled", finishedAt: now(), error: "cancelled" });
        changes.tasks!.push(task);
      }
      changes.events!.push(planEvent(plan, "cancelled", null, null, "the plan was cancelled"));
      await this.#end(plan, "cancelled", "cancelled", changes);
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
    const plan = await this.#inTurn(() => this.#find(id));
    const planId = plan.record.id;
    let seen = options.after ?? 0;
    const ended = Promise.withResolvers<void>();
    const pending: PlanEvent[] = [];
    let replaying = true;
    const take = (event: PlanEvent) => {
      if (event.seq <= seen) return;
      seen = event.seq;
      onEvent(event);
      if (event.type === "ended") ended.resolve();
    };
    const listener = (event: PlanEvent) => replaying ? pending.push(event) : take(event);
    const listeners = this.#listeners.get(planId) ?? new Set();
    listeners.add(listener);
    this.#listeners.set(planId, listeners);
    const onAbort = () => ended.resolve();
    options.signal?.addEventListener("abort", onAbort);
    try {
      for (const event of await this.#store.events(planId, seen)) take(event);
      replaying = false;
      for (const event of pending.splice(0)) take(event);
      if (plan.record.status !== "running" && seen >= plan.seq) ended.resolve();
      await ended.promise;
      return await this.status(planId);
    } finally {
      listeners.delete(listener);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Stops the driver: attempts go on on their ships and are found again at the next start. */
  stop(): void {
    this.#stopped = true;
    this.#stop.abort();
    for (const timer of this.#timers) clearTimeout(timer);
  }

  // ---- the work ----

  // Looks at a plan and starts what can start. In turn.
  async #tick(plan: LivePlan): Promise<void> {
    if (plan.record.status !== "running" || this.#stopped) return;
    const changes: PlanChanges = { tasks: [], events: [] };
    this.#settleNeeds(plan, changes);
    const spec = plan.record.spec;
    const open = [...plan.open.values()];
    // One integration at a time per plan: its branch moves one task at a time.
    if (!open.some((attempt) => attempt.kind === "integrate")) {
      const next = [...plan.tasks.values()]
        .filter((task) => task.status === "integrating" && !this.#hasOpen(plan, task.id))
        .sort((a, b) => (a.memory.verifiedAt ?? "").localeCompare(b.memory.verifiedAt ?? ""))[0];
      const ship = next && this.#shipFor(plan, next.ship);
      if (next && ship) await this.#dispatch(plan, next, ship, "integrate", changes);
    }
    if (spec.pr === "each") {
      for (const task of plan.tasks.values()) {
        if (task.status !== "done" || task.memory.prAsked) continue;
        const ship = this.#shipFor(plan, task.ship);
        if (ship) await this.#dispatch(plan, task, ship, "pr", changes);
      }
    }
    const budgetLeft = this.#budgetLeft(plan);
    if (budgetLeft) {
      for (const task of plan.tasks.values()) {
        if (task.status !== "ready" || this.#hasOpen(plan, task.id)) continue;
        // A retry goes back to the session it continues, on the ship that has it.
        const wanted = task.memory.feedback ? task.memory.sessionShip ?? null : null;
        const ship = this.#shipFor(plan, wanted, { wait: wanted !== null });
        if (ship) await this.#dispatch(plan, task, ship, "agent", changes);
      }
    }
    await this.#save(plan, changes);
    await this.#maybeEnd(plan, budgetLeft);
  }

  // Waiting tasks whose needs are done become ready; those whose needs cannot be, blocked.
  #settleNeeds(plan: LivePlan, changes: PlanChanges): void {
    let moved = true;
    while (moved) {
      moved = false;
      for (const task of plan.tasks.values()) {
        if (task.status !== "waiting" && task.status !== "ready") continue;
        const needs = taskSpecOf(plan, task).needs ?? [];
        const states = needs.map((id) => plan.tasks.get(id)?.status);
        const stuck = needs.filter((_, i) =>
          ["failed", "blocked", "cancelled"].includes(states[i]!)
        );
        if (stuck.length) {
          Object.assign(task, {
            status: "blocked",
            finishedAt: now(),
            error: `needs ${stuck.map((id) => `"${id}"`).join(", ")}, which did not get done`,
          });
          changes.tasks!.push(task);
          changes.events!.push(planEvent(plan, "blocked", task.id, null, task.error!));
          moved = true;
        } else if (task.status === "waiting" && states.every((state) => state === "done")) {
          task.status = "ready";
          changes.tasks!.push(task);
        }
      }
    }
  }

  // Sends one attempt: recorded first, then delivered and followed in the background.
  async #dispatch(
    plan: LivePlan,
    task: TaskRecord,
    ship: PlanShip,
    kind: AttemptKind,
    changes: PlanChanges,
  ): Promise<void> {
    const attempt = newAttempt(plan, task.id, kind, ship);
    const { maxAttempts } = plan.record.spec;
    let text: string;
    if (kind === "agent") {
      task.attempts++;
      task.status = "running";
      task.ship = ship.name;
      task.startedAt ??= attempt.sentAt;
      const how = task.memory.feedback
        ? task.memory.rebase ? "to resolve conflicts" : "to fix what failed"
        : "";
      text = `attempt ${task.attempts} of ${maxAttempts}${how ? ` ${how}` : ""}`;
    } else if (kind === "integrate") {
      text = `bringing ${task.branch} onto ${plan.record.integrate}`;
      task.ship = ship.name;
    } else {
      task.memory.prAsked = true;
      text = `opening a pull request for ${task.branch}`;
    }
    changes.tasks!.push(task);
    changes.attempts = [...changes.attempts ?? [], attempt];
    changes.events!.push(
      planEvent(
        plan,
        kind === "integrate" ? "integrating" : "dispatched",
        task.id,
        ship.name,
        text,
      ),
    );
    plan.open.set(attempt.messageId, attempt);
    this.#busy.set(ship.name, attempt.messageId);
    // Stored before it is sent: a crash in between finds it recorded and sends it then.
    await this.#save(plan, changes);
    this.#watch(plan, attempt, { sent: false });
  }

  // The plan's own pull request (`--pr one`), sent like an attempt with no task.
  async #dispatchPlanPr(plan: LivePlan, ship: PlanShip): Promise<void> {
    const attempt = newAttempt(plan, "", "pr", ship);
    plan.record.spec.prAsked = true;
    const event = planEvent(
      plan,
      "dispatched",
      null,
      ship.name,
      `opening a pull request for ${plan.record.integrate}`,
    );
    plan.open.set(attempt.messageId, attempt);
    this.#busy.set(ship.name, attempt.messageId);
    await this.#save(plan, { plan: plan.record, attempts: [attempt], events: [event] });
    this.#watch(plan, attempt, { sent: false });
  }

  // Delivers an attempt (unless it was) and follows it to its end, through dropped connections;
  // a ship gone from the fleet, or unreachable past lostAfterMs, loses it.
  #watch(plan: LivePlan, attempt: AttemptRecord, state: { sent: boolean }): void {
    const lostAfter = plan.record.spec.file.reassignAfterMs ?? this.#options.lostAfterMs ??
      DEFAULT_LOST_AFTER_MS;
    const signal = this.#stop.signal;
    (async () => {
      let failingSince: number | null = null;
      let delay = 250;
      while (!signal.aborted) {
        let ship = this.#ships.get(attempt.ship);
        if (!ship) {
          // Only a registry that was read says the ship is gone; one that could not be is asked
          // again.
          const read = await this.#refreshShips().then(() => true, () => false);
          ship = this.#ships.get(attempt.ship);
          if (!ship && read) return await this.#lose(plan, attempt, "it is no longer in the fleet");
          if (!ship) {
            await sleep(delay, signal).catch(() => {});
            delay = Math.min(delay * 2, 10_000);
            continue;
          }
        }
        try {
          if (!state.sent) {
            const { command, timeoutMs } = attemptCommand(plan, attempt);
            await ship.send(command, { id: attempt.messageId, timeoutMs });
            state.sent = true;
          }
          const message = await ship.inbox.follow(attempt.messageId, (chunk) => {
            // The ship answers again: a later silence is counted from its own start.
            failingSince = null;
            delay = 250;
            if (chunk.stream === "stdout" && chunk.text.includes(VERIFYING_MARK)) {
              this.#inTurn(() => this.#verifying(plan, attempt)).catch(() => {});
            }
          }, { signal });
          return await this.#inTurn(() => this.#ended(plan, attempt, message));
        } catch (error) {
          if (signal.aborted) return;
          // Not on the ship: it was recorded but never delivered (a crash in between).
          if (error instanceof NotFoundError && state.sent) {
            state.sent = false;
            continue;
          }
          failingSince ??= Date.now();
          this.#log(`${attempt.messageId} on ${attempt.ship}: ${(error as Error).message}`);
          const read = await this.#refreshShips().then(() => true, () => false);
          if (read && !this.#ships.has(attempt.ship)) continue; // lost at the top of the loop
          if (Date.now() - failingSince > lostAfter) {
            this.#restShip(attempt.ship, lostAfter);
            return await this.#lose(plan, attempt, `it did not answer for ${lostAfter / 1000} s`);
          }
          await sleep(delay, signal).catch(() => {});
          delay = Math.min(delay * 2, 10_000);
        }
      }
    })().catch((error) => this.#log(`watching ${attempt.messageId}: ${error.message}`));
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
    const changes = this.#close(plan, attempt, "ended");
    const task = plan.tasks.get(attempt.task);
    try {
      if (attempt.kind === "agent" && task) {
        takeAgentOutcome(plan, task, attempt, message, changes);
      } else if (attempt.kind === "integrate" && task) {
        takeIntegrationOutcome(plan, task, attempt, message, changes);
      } else {
        takePrOutcome(plan, task, attempt, message, changes);
      }
    } catch (error) {
      // An answer that could not be taken in ends its task, never the plan's progress.
      this.#log(`${attempt.messageId} on ${attempt.ship}: ${(error as Error).message}`);
      if (task && !FINAL_TASK_STATUSES.includes(task.status)) {
        changes.tasks!.push(task);
        failTask(plan, task, changes, `the ship's answer could not be read`);
      }
    }
    const failures = changes.tasks!.filter((task) => task.status === "failed");
    await this.#save(plan, changes);
    for (const failed of failures) {
      const [task] = summaryOf(plan.record, [failed]).tasks;
      this.#notify("plan_task_failed", { plan: plan.record.id, task });
    }
    await this.#tick(plan);
    // A finished plan's ships may be wanted by another.
    for (const other of this.#plans.values()) if (other !== plan) await this.#tick(other);
  }

  // An attempt no longer out: its ship is free; the changes to save start with it.
  #close(plan: LivePlan, attempt: AttemptRecord, status: "ended" | "lost"): PlanChanges {
    attempt.status = status;
    attempt.endedAt = now();
    plan.open.delete(attempt.messageId);
    if (this.#busy.get(attempt.ship) === attempt.messageId) this.#busy.delete(attempt.ship);
    return { tasks: [], attempts: [attempt], events: [] };
  }

  // A ship gone or silent: its attempt is given up on and the task goes to another ship.
  async #lose(plan: LivePlan, attempt: AttemptRecord, why: string): Promise<void> {
    await this.#inTurn(async () => {
      if (attempt.status !== "sent") return;
      const changes = this.#close(plan, attempt, "lost");
      // Should the ship come back, its agent stops rather than push over the task's new attempt.
      this.#ships.get(attempt.ship)?.inbox.cancel(attempt.messageId).catch(() => {});
      const task = plan.tasks.get(attempt.task);
      if (attempt.kind === "pr") {
        if (task) task.memory.prAsked = false;
        else plan.record.spec.prAsked = false;
        changes.plan = plan.record;
      }
      if (task && attempt.kind === "agent" && task.status !== "cancelled") {
        // The agent did not fail: this attempt does not count, and its session stays behind.
        task.attempts = Math.max(0, task.attempts - 1);
        Object.assign(task.memory, { feedback: null, sessionShip: null, sessionId: null });
        if (plan.record.status === "running") task.status = "ready";
      }
      if (task) changes.tasks!.push(task);
      changes.events!.push(planEvent(
        plan,
        "reassigned",
        task?.id ?? null,
        attempt.ship,
        `${attempt.ship} lost its ${attempt.kind} attempt: ${why}; it goes to another ship`,
      ));
      await this.#save(plan, changes);
      await this.#tick(plan);
    });
  }

  // Ends the plan when nothing is left to run. In turn.
  async #maybeEnd(plan: LivePlan, budgetLeft: boolean): Promise<void> {
    if (plan.record.status !== "running" || plan.open.size > 0) return;
    const tasks = [...plan.tasks.values()];
    const unfinished = tasks.filter((task) => !FINAL_TASK_STATUSES.includes(task.status));
    const changes: PlanChanges = { tasks: [], events: [] };
    const shipsLeft = plan.record.spec.ships.some((name) => this.#ships.has(name));
    if (unfinished.length === 0) {
      const done = tasks.filter((task) => task.status === "done");
      // Pull requests are asked for before the plan ends, once a ship of it is idle (it may
      // work for another plan meanwhile); with no ship left, the plan ends without them.
      const prsWanted = plan.record.spec.pr === "each"
        ? done.some((task) => !task.memory.prAsked)
        : plan.record.spec.pr === "one" && done.length > 0 && !plan.record.spec.prAsked;
      if (prsWanted && plan.record.spec.pr === "one") {
        const ship = this.#shipFor(plan, done.at(-1)!.ship);
        if (ship) return await this.#dispatchPlanPr(plan, ship);
      }
      if (prsWanted && shipsLeft) return;
      const status: PlanStatus = done.length === tasks.length ? "done" : "failed";
      const notDone = tasks.filter((task) => task.status !== "done");
      const note = notDone.length
        ? `not done: ${notDone.map((task) => `${task.id} (${task.status})`).join(", ")}`
        : `all ${tasks.length} task(s) done, on ${plan.record.integrate}`;
      return await this.#end(plan, status, note, changes);
    }
    // Waiting on work that cannot start: the budget is used up, or no ship of the plan is left.
    const integrating = unfinished.some((task) => task.status === "integrating");
    if ((budgetLeft && shipsLeft) || (integrating && shipsLeft)) return;
    const reason = budgetLeft
      ? `no ship of the plan is left (${plan.record.spec.ships.join(", ")})`
      : `the budget of $${plan.record.budgetUsd} is used up ($${plan.record.costUsd})`;
    for (const task of unfinished) {
      Object.assign(task, { status: "cancelled", finishedAt: now(), error: `not run: ${reason}` });
      changes.tasks!.push(task);
    }
    const note = `not done: ${unfinished.map((task) => task.id).join(", ")}; ${reason}`;
    if (!budgetLeft) {
      changes.events!.push(planEvent(plan, "budget_exhausted", null, null, note));
    }
    await this.#end(plan, budgetLeft ? "failed" : "budget_exhausted", note, changes);
  }

  async #end(
    plan: LivePlan,
    status: PlanStatus,
    note: string,
    changes: PlanChanges,
  ): Promise<void> {
    Object.assign(plan.record, { status, note, finishedAt: now() });
    changes.plan = plan.record;
    changes.events = [
      ...changes.events ?? [],
      planEvent(plan, "ended", null, null, `${status}: ${note}`),
    ];
    await this.#save(plan, changes);
    this.#notify("plan_ended", this.#summary(plan));
  }

  // ---- helpers ----

  // An idle ship of the plan: the wanted one when it is idle; with `wait`, none while the
  // wanted one is busy but still in the fleet.
  #shipFor(
    plan: LivePlan,
    wanted: string | null,
    options: { wait?: boolean } = {},
  ): PlanShip | undefined {
    const usable = (name: string) => this.#ships.has(name) && !this.#resting.has(name);
    const idle = (name: string) =>
      plan.record.spec.ships.includes(name) && usable(name) && !this.#busy.has(name);
    if (wanted && idle(wanted)) return this.#ships.get(wanted);
    if (wanted && options.wait && usable(wanted)) return undefined;
    const name = plan.record.spec.ships.find(idle);
    return name ? this.#ships.get(name) : undefined;
  }

  // A ship that did not answer gets no work for a while; then every plan looks again.
  #restShip(name: string, ms: number): void {
    this.#resting.add(name);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#resting.delete(name);
      if (this.#stopped) return;
      this.#inTurn(async () => {
        for (const plan of this.#plans.values()) await this.#tick(plan);
      }).catch((error) => this.#log(`after ${name} rested: ${error.message}`));
    }, ms);
    this.#timers.add(timer);
  }

  #hasOpen(plan: LivePlan, task: string): boolean {
    for (const attempt of plan.open.values()) if (attempt.task === task) return true;
    return false;
  }

  #budgetLeft(plan: LivePlan): boolean {
    return plan.record.budgetUsd === null || plan.record.costUsd < plan.record.budgetUsd;
  }

  async #save(plan: LivePlan, changes: PlanChanges): Promise<void> {
    const empty = !changes.plan && !changes.tasks?.length && !changes.attempts?.length &&
      !changes.events?.length;
    if (empty) return;
    // A task changed twice in one step is written once.
    const tasks = [...new Set(changes.tasks ?? [])];
    await this.#store.save({ ...changes, tasks, plan: changes.plan ?? plan.record });
    this.#tell(changes.events ?? []);
    changes.tasks = [];
    changes.attempts = [];
    changes.events = [];
  }

  #tell(events: PlanEvent[]): void {
    for (const event of events) {
      for (const listener of this.#listeners.get(event.plan) ?? []) {
        try {
          listener(event);
        } catch {
          // a follower that fails is its own problem
        }
      }
    }
  }

  async #find(id: string): Promise<LivePlan> {
    const wanted = checkPlanId(id);
    const live = [...this.#plans.values()].filter((plan) => plan.record.id.startsWith(wanted));
    const stored = (await this.#store.plans()).filter((plan) => plan.id.startsWith(wanted));
    const ids = [...new Set([...live.map((plan) => plan.record.id), ...stored.map((p) => p.id)])];
    if (ids.length !== 1) {
      throw new NotFoundError(
        ids.length ? `Plan id "${wanted}" is ambiguous: ${ids.join(", ")}` : `No plan "${wanted}"`,
        { query: id, next: `"ohcommodore plan list" shows them` },
      );
    }
    const known = this.#plans.get(ids[0]);
    if (known) return known;
    const record = stored[0];
    const tasks = await this.#store.tasks(record.id);
    const plan: LivePlan = {
      record,
      tasks: new Map(tasks.map((task) => [task.id, task])),
      seq: await this.#store.lastSeq(record.id),
      open: new Map(),
    };
    // Ended plans stay in memory while they are asked about; there are few.
    this.#plans.set(record.id, plan);
    return plan;
  }

  #summary(plan: LivePlan): PlanSummary {
    return summaryOf(plan.record, [...plan.tasks.values()]);
  }

  async #refreshShips(): Promise<void> {
    const ships = await this.#options.ships();
    this.#ships = new Map(ships.map((ship) => [ship.name, ship]));
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

// An attempt about to go out, its message id chosen now (it is stored before it is sent).
function newAttempt(
  plan: LivePlan,
  task: string,
  kind: AttemptKind,
  ship: PlanShip,
): AttemptRecord {
  return {
    messageId: newMessageId(),
    plan: plan.record.id,
    task,
    kind,
    ship: ship.name,
    status: "sent",
    costUsd: null,
    sentAt: now(),
    endedAt: null,
    outcome: null,
  };
}
