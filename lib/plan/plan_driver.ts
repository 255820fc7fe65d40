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

import { NotFoundError, UsageError } from "../errors.ts";
import { newMessageId } from "../inbox/message.ts";
import type { FinishedMessage } from "../inbox/message.ts";
import type { InboxView } from "../inbox/remote_inbox.ts";
import { sleep } from "../timer.ts";
import { oneLine } from "../clip.ts";
import { outcomeOf, taskCommand, type TaskOutcome, type TaskSpec } from "../agent/task.ts";
import { integrateCommand, integrationOutcomeOf } from "../agent/integrate.ts";
import { prCommand, prOutcomeOf } from "../agent/open_pr.ts";
import { VERIFYING_TYPE } from "../agent/verify.ts";
import { checkPlan, type PlanFile, type PlanTask } from "./plan_file.ts";
import { conflictPrompt, taskPrompt, verifyFailedPrompt } from "./plan_prompts.ts";
import type {
  AttemptKind,
  AttemptRecord,
  PlanChanges,
  PlanRecord,
  PlanStore,
  TaskRecord,
} from "./plan_store.ts";
import {
  addTokens,
  FINAL_TASK_STATUSES,
  noTokens,
  type PlanAssignment,
  type PlanEvent,
  type PlanEventType,
  type PlanListing,
  type PlanStatus,
  type PlanSummary,
} from "./plan_types.ts";
import { checkPlanOptions, type PlanRunOptions, resolvePlanShips } from "./plan_options.ts";

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

// A task's agent run may last this long unless the plan says otherwise.
const DEFAULT_ATTEMPT_TIMEOUT_MS = 30 * 60_000;
// Integrations and pull requests are git and gh on the ship: minutes at most.
const STEP_TIMEOUT_MS = 15 * 60_000;
// An integration that fails for a reason of its own (not a conflict) is tried again so often.
const MAX_INTEGRATION_ERRORS = 3;
// What an attempt's kept outcome may hold.
const KEPT_OUTCOME_CHARS = 16 * 1024;
// The ship's task says it verifies with this line (agent/task_runner.ts).
const VERIFYING_MARK = `"${VERIFYING_TYPE}"`;

// A plan the driver works on, in memory; the store has the same.
interface LivePlan {
  record: PlanRecord;
  tasks: Map<string, TaskRecord>;
  seq: number;
  open: Map<string, AttemptRecord>;
}

/** The flagship's plan driver. */
export class PlanDriver {
  readonly #options: PlanDriverOptions;
  readonly #store: PlanStore;
  readonly #plans = new Map<string, LivePlan>();
  // Which ship works on which attempt: one at a time per ship, across plans.
  readonly #busy = new Map<string, string>();
  readonly #listeners = new Map<string, Set<(event: PlanEvent) => void>>();
  #ships = new Map<string, PlanShip>();
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
      const started = this.#event(
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
      changes.events!.push(this.#event(plan, "cancelled", null, null, "the plan was cancelled"));
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
        const needs = this.#taskSpec(plan, task).needs ?? [];
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
          changes.events!.push(this.#event(plan, "blocked", task.id, null, task.error!));
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
    const attempt: AttemptRecord = {
      messageId: newMessageId(),
      plan: plan.record.id,
      task: task.id,
      kind,
      ship: ship.name,
      status: "sent",
      costUsd: null,
      sentAt: now(),
      endedAt: null,
      outcome: null,
    };
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
      this.#event(
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
    const attempt: AttemptRecord = {
      messageId: newMessageId(),
      plan: plan.record.id,
      task: "",
      kind: "pr",
      ship: ship.name,
      status: "sent",
      costUsd: null,
      sentAt: now(),
      endedAt: null,
      outcome: null,
    };
    plan.record.spec.prAsked = true;
    const event = this.#event(
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

  // The command an attempt runs on its ship: built again from the records after a crash.
  #command(plan: LivePlan, attempt: AttemptRecord): { command: string; timeoutMs: number } {
    const file = plan.record.spec.file;
    if (attempt.kind === "pr") {
      return { command: prCommand(this.#prSpec(plan, attempt.task)), timeoutMs: STEP_TIMEOUT_MS };
    }
    const task = plan.tasks.get(attempt.task)!;
    const taskSpec = this.#taskSpec(plan, task);
    const verify = taskSpec.verify ?? file.verify;
    if (attempt.kind === "integrate") {
      return {
        command: integrateCommand({ branch: task.branch, onto: plan.record.integrate, verify }),
        timeoutMs: STEP_TIMEOUT_MS,
      };
    }
    const memory = task.memory;
    const resume = memory.feedback && memory.sessionShip === attempt.ship
      ? memory.sessionId ?? undefined
      : undefined;
    const spec: TaskSpec = {
      prompt: memory.feedback ?? taskPrompt(taskSpec, {
        plan: plan.record.id,
        branch: task.branch,
        integrate: plan.record.integrate,
        verify,
      }),
      branch: task.branch,
      push: true,
      forcePush: true,
      startFrom: plan.record.integrate,
      verify,
      model: file.model,
      maxTurns: file.maxTurns,
      permissionMode: file.permissionMode,
      stallMs: file.stallMs,
      resume,
      rebaseOnto: memory.rebase ? plan.record.integrate : undefined,
    };
    return {
      command: taskCommand(spec),
      timeoutMs: file.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    };
  }

  #prSpec(plan: LivePlan, taskId: string) {
    const file = plan.record.spec.file;
    if (taskId) {
      const task = plan.tasks.get(taskId)!;
      const spec = this.#taskSpec(plan, task);
      return {
        head: task.branch,
        title: oneLine(spec.prompt, 100),
        body: [
          spec.prompt,
          "",
          `Task "${task.id}" of plan ${plan.record.id}, verified and brought onto ` +
          `${plan.record.integrate}.`,
          ...(spec.issue ? ["", `Fixes #${spec.issue}`] : []),
        ].join("\n"),
      };
    }
    const done = [...plan.tasks.values()].filter((task) => task.status === "done");
    const notDone = [...plan.tasks.values()].filter((task) => task.status !== "done");
    const issues = file.tasks.flatMap((task) =>
      task.issue && plan.tasks.get(task.id)?.status === "done" ? [`Fixes #${task.issue}`] : []
    );
    return {
      head: plan.record.integrate,
      title: `Plan ${plan.record.id}: ${done.length} task(s)`,
      body: [
        `The work of plan ${plan.record.id}, each task verified and brought onto this branch:`,
        "",
        ...done.map((task) => `- ${task.id}: ${oneLine(this.#taskSpec(plan, task).prompt, 100)}`),
        ...(notDone.length
          ? ["", `Not done: ${notDone.map((task) => `${task.id} (${task.status})`).join(", ")}`]
          : []),
        ...(issues.length ? ["", ...issues] : []),
      ].join("\n"),
    };
  }

  // Delivers an attempt (unless it was) and follows it to its end, through dropped connections;
  // a ship gone from the fleet, or unreachable past lostAfterMs, loses it.
  #watch(plan: LivePlan, attempt: AttemptRecord, state: { sent: boolean }): void {
    const lostAfter = this.#options.lostAfterMs ?? 120_000;
    const signal = this.#stop.signal;
    (async () => {
      let failingSince: number | null = null;
      let delay = 250;
      while (!signal.aborted) {
        let ship = this.#ships.get(attempt.ship);
        if (!ship) {
          await this.#refreshShips().catch(() => {});
          ship = this.#ships.get(attempt.ship);
          if (!ship) return await this.#lose(plan, attempt, "it is no longer in the fleet");
        }
        try {
          if (!state.sent) {
            const { command, timeoutMs } = this.#command(plan, attempt);
            await ship.send(command, { id: attempt.messageId, timeoutMs });
            state.sent = true;
          }
          const message = await ship.inbox.follow(attempt.messageId, (chunk) => {
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
          await this.#refreshShips().catch(() => {});
          if (!this.#ships.has(attempt.ship)) continue; // lost at the top of the loop
          if (Date.now() - failingSince > lostAfter) {
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
      events: [this.#event(plan, "verifying", task.id, attempt.ship, "the agent ended: verifying")],
    });
  }

  // An attempt's outcome taken in. In turn.
  async #ended(plan: LivePlan, attempt: AttemptRecord, message: FinishedMessage): Promise<void> {
    if (attempt.status !== "sent") return;
    attempt.status = "ended";
    attempt.endedAt = now();
    plan.open.delete(attempt.messageId);
    if (this.#busy.get(attempt.ship) === attempt.messageId) this.#busy.delete(attempt.ship);
    const changes: PlanChanges = { tasks: [], attempts: [attempt], events: [] };
    const task = plan.tasks.get(attempt.task);
    if (attempt.kind === "agent" && task) {
      this.#agentEnded(plan, task, attempt, outcomeOf(attempt.ship, message), changes);
    } else if (attempt.kind === "integrate" && task) {
      this.#integrationEnded(plan, task, attempt, message, changes);
    } else {
      const outcome = prOutcomeOf(message);
      attempt.outcome = keep(outcome);
      const text = outcome.url ?? `no pull request: ${outcome.error ?? "gh said nothing"}`;
      if (task) {
        task.pr = outcome.url;
        changes.tasks!.push(task);
      } else plan.record.pr = outcome.url;
      changes.events!.push(this.#event(plan, "pr", task?.id ?? null, attempt.ship, text));
      changes.plan = plan.record;
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

  #agentEnded(
    plan: LivePlan,
    task: TaskRecord,
    attempt: AttemptRecord,
    outcome: TaskOutcome,
    changes: PlanChanges,
  ): void {
    attempt.costUsd = outcome.costUsd;
    attempt.outcome = keep(outcome);
    const cost = outcome.costUsd ?? 0;
    task.costUsd = round(task.costUsd + cost);
    task.tokens = addTokens(task.tokens, outcome.usage);
    plan.record.costUsd = round(plan.record.costUsd + cost);
    plan.record.tokens = addTokens(plan.record.tokens, outcome.usage);
    changes.plan = plan.record;
    changes.tasks!.push(task);
    if (outcome.sessionId) {
      task.memory.sessionId = outcome.sessionId;
      task.memory.sessionShip = attempt.ship;
    }
    if (task.status === "cancelled" || plan.record.status !== "running") return;
    const verify = outcome.verify;
    if (outcome.status === "done") {
      Object.assign(task.memory, { feedback: null, rebase: false, verifiedAt: now() });
      task.status = "integrating";
      changes.events!.push(this.#event(
        plan,
        "verify_passed",
        task.id,
        attempt.ship,
        verify ? `verified: ${verify.command} passed` : "done (the plan verifies nothing)",
      ));
    } else if (verify && !verify.passed) {
      changes.events!.push(
        this.#event(plan, "verify_failed", task.id, attempt.ship, verifyText(verify)),
      );
      this.#retryOrFail(plan, task, changes, verifyFailedPrompt(verify), task.memory.rebase);
    } else {
      const why = oneLine(outcome.error ?? outcome.status, 300);
      changes.events!.push(this.#event(plan, "attempt_failed", task.id, attempt.ship, why));
      // Not the agent's work that failed: a fresh attempt, resolving conflicts again if it was.
      const rebase = task.memory.rebase;
      const feedback = rebase ? task.memory.feedback ?? null : null;
      this.#retryOrFail(plan, task, changes, feedback, rebase, why);
    }
  }

  #integrationEnded(
    plan: LivePlan,
    task: TaskRecord,
    attempt: AttemptRecord,
    message: FinishedMessage,
    changes: PlanChanges,
  ): void {
    const outcome = integrationOutcomeOf(message);
    attempt.outcome = keep(outcome);
    changes.tasks!.push(task);
    if (task.status === "cancelled" || plan.record.status !== "running") return;
    const ship = attempt.ship;
    if (outcome.status === "integrated") {
      Object.assign(task, { status: "done", finishedAt: now(), error: null });
      const at = outcome.sha ? ` at ${outcome.sha.slice(0, 12)}` : "";
      changes.events!.push(
        this.#event(plan, "integrated", task.id, ship, `on ${plan.record.integrate}${at}`),
        this.#event(plan, "done", task.id, ship, `done after ${task.attempts} attempt(s)`),
      );
    } else if (outcome.status === "conflict") {
      const files = outcome.files ?? [];
      changes.events!.push(this.#event(
        plan,
        "conflict",
        task.id,
        ship,
        `conflicts with ${plan.record.integrate} in ${
          files.join(", ") || "files git did not name"
        }`,
      ));
      this.#retryOrFail(plan, task, changes, conflictPrompt(plan.record.integrate, files), true);
    } else if (outcome.status === "verify_failed" && outcome.verify) {
      changes.events!.push(this.#event(
        plan,
        "verify_failed",
        task.id,
        ship,
        `after the rebase onto ${plan.record.integrate}: ${verifyText(outcome.verify)}`,
      ));
      this.#retryOrFail(plan, task, changes, verifyFailedPrompt(outcome.verify), true);
    } else {
      const why = oneLine(outcome.error ?? "the integration failed", 300);
      const errors = (task.memory.integrationErrors ?? 0) + 1;
      task.memory.integrationErrors = errors;
      changes.events!.push(this.#event(plan, "attempt_failed", task.id, ship, why));
      if (errors >= MAX_INTEGRATION_ERRORS) this.#fail(plan, task, changes, why);
    }
  }

  // Back to the agent with what failed while attempts remain; else the task failed.
  #retryOrFail(
    plan: LivePlan,
    task: TaskRecord,
    changes: PlanChanges,
    feedback: string | null,
    rebase = false,
    why?: string,
  ): void {
    if (task.attempts < plan.record.spec.maxAttempts) {
      Object.assign(task.memory, { feedback, rebase });
      task.status = "ready";
      return;
    }
    const last = why ?? (feedback ? oneLine(feedback, 300) : "its last attempt failed");
    this.#fail(plan, task, changes, `no attempts left (${task.attempts}): ${last}`);
  }

  #fail(plan: LivePlan, task: TaskRecord, changes: PlanChanges, why: string): void {
    Object.assign(task, { status: "failed", finishedAt: now(), error: why });
    changes.events!.push(this.#event(plan, "failed", task.id, task.ship, why));
  }

  // A ship gone or silent: its attempt is given up on and the task goes to another ship.
  async #lose(plan: LivePlan, attempt: AttemptRecord, why: string): Promise<void> {
    await this.#inTurn(async () => {
      if (attempt.status !== "sent") return;
      attempt.status = "lost";
      attempt.endedAt = now();
      plan.open.delete(attempt.messageId);
      if (this.#busy.get(attempt.ship) === attempt.messageId) this.#busy.delete(attempt.ship);
      const changes: PlanChanges = { tasks: [], attempts: [attempt], events: [] };
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
      changes.events!.push(this.#event(
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
    if (unfinished.length === 0) {
      const done = tasks.filter((task) => task.status === "done");
      if (plan.record.spec.pr === "one" && done.length && !plan.record.spec.prAsked) {
        const ship = this.#shipFor(plan, done.at(-1)!.ship);
        if (ship) return await this.#dispatchPlanPr(plan, ship);
      }
      const status: PlanStatus = done.length === tasks.length ? "done" : "failed";
      const notDone = tasks.filter((task) => task.status !== "done");
      const note = notDone.length
        ? `not done: ${notDone.map((task) => `${task.id} (${task.status})`).join(", ")}`
        : `all ${tasks.length} task(s) done, on ${plan.record.integrate}`;
      return await this.#end(plan, status, note, changes);
    }
    // Waiting on work that cannot start: the budget is used up, or no ship of the plan is left.
    const integrating = unfinished.some((task) => task.status === "integrating");
    const shipsLeft = plan.record.spec.ships.some((name) => this.#ships.has(name));
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
      changes.events!.push(this.#event(plan, "budget_exhausted", null, null, note));
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
      this.#event(plan, "ended", null, null, `${status}: ${note}`),
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
    const idle = (name: string) =>
      plan.record.spec.ships.includes(name) && this.#ships.has(name) && !this.#busy.has(name);
    if (wanted && idle(wanted)) return this.#ships.get(wanted);
    if (wanted && options.wait && this.#ships.has(wanted)) return undefined;
    const name = plan.record.spec.ships.find(idle);
    return name ? this.#ships.get(name) : undefined;
  }

  #hasOpen(plan: LivePlan, task: string): boolean {
    for (const attempt of plan.open.values()) if (attempt.task === task) return true;
    return false;
  }

  #budgetLeft(plan: LivePlan): boolean {
    return plan.record.budgetUsd === null || plan.record.costUsd < plan.record.budgetUsd;
  }

  #taskSpec(plan: LivePlan, task: TaskRecord): PlanTask {
    return plan.record.spec.file.tasks.find((spec) => spec.id === task.id)!;
  }

  #event(
    plan: LivePlan,
    type: PlanEventType,
    task: string | null,
    ship: string | null,
    text: string,
  ): PlanEvent {
    return { plan: plan.record.id, seq: ++plan.seq, at: now(), type, task, ship, text };
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
    const wanted = String(id).trim().toLowerCase();
    if (!/^[0-9a-f]{1,16}$/.test(wanted)) {
      throw new UsageError(
        `Invalid plan id ${JSON.stringify(id)}: plan ids are hex, e.g. 3f9a07c2`,
      );
    }
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

/**
 * A plan's record and tasks as `plan status --json` prints them.
 *
 * @param record The plan.
 * @param tasks Its tasks.
 * @returns The summary.
 */
export function summaryOf(record: PlanRecord, tasks: readonly TaskRecord[]): PlanSummary {
  const specs = new Map(record.spec.file.tasks.map((task) => [task.id, task]));
  return {
    id: record.id,
    status: record.status,
    costUsd: record.costUsd,
    budgetUsd: record.budgetUsd,
    tokens: record.tokens,
    repo: record.repo,
    integrate: record.integrate,
    pr: record.pr,
    ships: record.spec.ships,
    createdAt: record.createdAt,
    finishedAt: record.finishedAt,
    note: record.note,
    tasks: [...tasks].sort((a, b) => a.position - b.position).map((task) => ({
      id: task.id,
      status: task.status,
      ship: task.ship,
      attempts: task.attempts,
      costUsd: task.costUsd,
      tokens: task.tokens,
      branch: task.branch,
      pr: task.pr,
      startedAt: task.startedAt,
      finishedAt: task.finishedAt,
      needs: specs.get(task.id)?.needs ?? [],
      error: task.error,
    })),
  };
}

function verifyText(verify: { command: string; exitCode: number | null; output: string }): string {
  const how = verify.exitCode === null ? "did not finish" : `exited ${verify.exitCode}`;
  const last = verify.output.trimEnd().split("\n").at(-1) ?? "";
  return `${verify.command} ${how}${last ? `: ${oneLine(last, 200)}` : ""}`;
}

function keep(outcome: unknown): string {
  const text = JSON.stringify(outcome);
  return text.length <= KEPT_OUTCOME_CHARS
    ? text
    : JSON.stringify({ clipped: text.slice(0, 4096) });
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

function now(): string {
  return new Date().toISOString();
}
