/**
 * The fleet as a live view sees it: one model that the page (`ohcommodore dashboard`) and the
 * terminal (`ohcommodore fleet watch`) both draw. A {@link FleetView} polls the fleet once per
 * interval whatever the number of viewers (the status of every member, the plans, the
 * flagship's held, recent and note messages; agents' tasks and costs less often), follows every
 * running plan so that its events arrive as they happen, and tells its subscribers.
 *
 * Everything here is data: a ship's name, an agent's words, a note's text are kept exactly as
 * they came. Escaping is the renderer's job (the terminal escapes controls, the page shows text).
 *
 * @example Print the fleet's ships as they change
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { FleetView } from "./fleet_view.ts";
 *
 * await using fleet = await Fleet.open();
 * await using view = await FleetView.open(fleet);
 * const stop = view.subscribe((event) => {
 *   if (event.type === "snapshot") console.log(event.snapshot.ships.map((ship) => ship.name));
 * });
 * await new Promise((resolve) => setTimeout(resolve, 10_000));
 * stop();
 * ```
 *
 * @module
 */

import { describeEvent } from "../agent/stream.ts";
import type { TaskOutcome } from "../agent/task.ts";
import type { Message } from "../inbox/message.ts";
import { AgentTask, type FleetCosts } from "../fleet/agents.ts";
import type { ShipStatus } from "../fleet/backend.ts";
import type { Fleet } from "../fleet/fleet.ts";
import type { PlanEvent, PlanListing, PlanSummary, PlanTaskSummary } from "../plan/plan_types.ts";

/** One ship as a view shows it. */
export interface ShipView {
  /** Its VM name. */
  name: string;
  /** Its repository, or null. */
  repo: string | null;
  /** True for a ship without a key of its own (it reaches the fleet through its channel). */
  keyless: boolean;
  /** A keyless ship's channel to the flagship: `forward`, `poll` or `down`; else null. */
  channel: string | null;
  /** Whether its scheduler answers; null when the ship could not be asked. */
  schedulerRunning: boolean | null;
  /** Messages waiting in its inbox; null when unknown. */
  unread: number | null;
  /** Messages running there; null when unknown. */
  running: number | null;
  /** Its current or last agent task, with the plan it works for. */
  task: {
    id: string;
    status: string;
    runningMs: number;
    costUsd: number | null;
    plan: { id: string; task: string } | null;
  } | null;
  /** Why it could not be asked, or what is wrong with its VM; null when all is well. */
  problem: string | null;
}

/** An agent task as the views list it (newest first); what the cost chart is drawn from. */
export interface TaskRow {
  /** Its id. */
  id: string;
  /** The ship it ran on. */
  ship: string;
  /** Its status (`running`, `done`, `error`, …). */
  status: string;
  /** When it started (ISO 8601), when known. */
  startedAt: string | null;
  /** When it ended (ISO 8601), once it has. */
  endedAt: string | null;
  /** What it cost, once it ended. */
  costUsd: number | null;
  /** Its prompt, as given. */
  prompt: string;
}

/** The whole fleet at one moment. */
export interface FleetSnapshot {
  /** When it was read (ISO 8601). */
  at: string;
  /** The flagship: its scheduler and inbox counts. */
  flagship: {
    name: string;
    schedulerRunning: boolean;
    unread: number;
    running: number;
    held: number;
  };
  /** Every ship. */
  ships: ShipView[];
  /** Every plan, newest first. */
  plans: PlanListing[];
  /** Recorded agent costs (read less often than the rest); null until read. */
  costs: FleetCosts | null;
  /** Commands from ships held on the flagship until a person approves them. */
  held: Message[];
  /** The flagship's recent messages, newest first. */
  recent: Message[];
  /** Notes sent to the flagship, newest first. */
  notes: Message[];
  /** The tasks of each plan that runs or ran lately, by plan id. */
  planTasks: Record<string, PlanTaskSummary[]>;
  /** The latest plan events, oldest first (at most {@link KEPT_PLAN_EVENTS}). */
  planEvents: PlanEvent[];
  /** Agent tasks of the fleet, newest first (read with the costs); empty until read. */
  tasks: TaskRow[];
  /** What the last poll could not read, a sentence each. */
  problems: string[];
}

/** What a view's subscribers are told. */
export type ViewEvent =
  | { type: "snapshot"; snapshot: FleetSnapshot }
  | { type: "plan"; event: PlanEvent }
  | { type: "error"; message: string };

/** Options for {@link FleetView.open}. */
export interface FleetViewOptions {
  /**
   * How often the fleet is read.
   *
   * @default {2000}
   */
  intervalMs?: number;
  /**
   * How often agents' tasks and costs are read (every ship is asked for them).
   *
   * @default {10_000}
   */
  costsIntervalMs?: number;
}

/** How many plan events a snapshot keeps. */
export const KEPT_PLAN_EVENTS = 200;
const RECENT_MESSAGES = 20;
const KEPT_TASKS = 200;
// A finished plan's tasks stay on the board for this many plans.
const FINISHED_PLANS_SHOWN = 5;

/**
 * The fleet, read once per interval and told to every subscriber; see the module doc.
 *
 * @example Follow one agent task's transcript
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { FleetView } from "./fleet_view.ts";
 *
 * await using fleet = await Fleet.open();
 * await using view = await FleetView.open(fleet);
 * const outcome = await view.follow("3f9a07c2", console.log, AbortSignal.timeout(60_000));
 * console.log(outcome.status);
 * ```
 */
export class FleetView implements AsyncDisposable {
  readonly #fleet: Fleet;
  readonly #intervalMs: number;
  readonly #costsIntervalMs: number;
  readonly #listeners = new Set<(event: ViewEvent) => void>();
  readonly #stop = new AbortController();
  // Plans followed now, by id, each with how far its events were heard.
  readonly #following = new Map<string, Promise<void>>();
  readonly #planSeen = new Map<string, number>();
  readonly #planSummaries = new Map<string, PlanSummary>();
  readonly #staleSummaries = new Set<string>();
  #snapshot: FleetSnapshot;
  #costsReadAt = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  private constructor(fleet: Fleet, options: FleetViewOptions) {
    this.#fleet = fleet;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#costsIntervalMs = options.costsIntervalMs ?? 10_000;
    this.#snapshot = emptySnapshot(fleet.facts.flagshipVm);
  }

  /**
   * Opens a view of a fleet: reads it once (so {@link snapshot} has it), then again every
   * interval until disposed.
   *
   * @param fleet The fleet.
   * @param options How often to read it.
   * @returns The view.
   */
  static async open(fleet: Fleet, options: FleetViewOptions = {}): Promise<FleetView> {
    const view = new FleetView(fleet, options);
    await view.#poll();
    view.#loop = view.#run();
    return view;
  }

  /**
   * The fleet as last read.
   *
   * @returns The latest snapshot.
   */
  snapshot(): FleetSnapshot {
    return this.#snapshot;
  }

  /**
   * Tells a listener each new snapshot, each plan event as it happens, and each error.
   *
   * @param listener Told each event; what it throws is ignored.
   * @returns A function that stops telling it.
   */
  subscribe(listener: (event: ViewEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads the fleet again now, instead of at the end of the interval (after an action, say).
   */
  refresh(): void {
    this.#costsReadAt = 0;
    this.#wake?.();
  }

  /**
   * Follows one agent task's transcript: a line per thing the agent says or tool it uses, as
   * `agent follow` prints them (what was said so far first), until the task ends.
   *
   * @param taskId The task's id or a unique prefix.
   * @param onLine Told each line (the agent's own words: untrusted text).
   * @param signal Stops following (the task goes on).
   * @returns The task's outcome.
   * @throws {NotFoundError} When no ship has the task.
   */
  async follow(
    taskId: string,
    onLine: (line: string) => void,
    signal: AbortSignal,
  ): Promise<TaskOutcome> {
    const task = await this.task(taskId);
    return await task.follow((line) => {
      const text = describeEvent(line);
      if (text !== undefined) onLine(text);
    }, { signal });
  }

  /**
   * A handle on an agent task: found on the ship the view last saw it on, else across the
   * fleet.
   *
   * @param taskId The task's id or a unique prefix.
   * @returns The handle.
   * @throws {NotFoundError} When no ship has the task.
   */
  async task(taskId: string): Promise<AgentTask> {
    const known = this.#snapshot.ships.find((ship) => ship.task?.id === taskId)?.name ??
      this.#snapshot.tasks.find((task) => task.id === taskId)?.ship;
    if (known) {
      const ship = await this.#fleet.ship(known).catch(() => null);
      if (ship?.name === known) return new AgentTask(ship, taskId);
    }
    return await this.#fleet.agents.task(taskId);
  }

  /** Stops reading the fleet and following plans. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    this.#listeners.clear();
    await this.#loop;
    await Promise.allSettled(this.#following.values());
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#intervalMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (signal.aborted) break;
      await this.#poll();
    }
  }

  // One read of the fleet: each part on its own, so one that fails leaves the others (and the
  // last good value of its own) in the snapshot, and says why.
  async #poll(): Promise<void> {
    const fleet = this.#fleet;
    const inbox = fleet.flagship.inbox;
    const readCosts = Date.now() - this.#costsReadAt >= this.#costsIntervalMs;
    const [status, plans, held, recent, notes, costs, tasks] = await Promise.allSettled([
      fleet.status(),
      fleet.plans.list(),
      inbox.list({ status: "held" }),
      inbox.list({ limit: RECENT_MESSAGES }),
      inbox.list({ status: "note", limit: RECENT_MESSAGES }),
      readCosts ? fleet.agents.costs() : Promise.resolve(this.#snapshot.costs),
      readCosts ? fleet.agents.list() : Promise.resolve(null),
    ]);
    if (this.#stop.signal.aborted) return;
    if (readCosts) this.#costsReadAt = Date.now();
    const problems: string[] = [];
    const value = <T>(result: PromiseSettledResult<T>, what: string, last: T): T => {
      if (result.status === "fulfilled") return result.value;
      problems.push(`Cannot read ${what}: ${(result.reason as Error)?.message ?? result.reason}`);
      return last;
    };
    const previous = this.#snapshot;
    const next: FleetSnapshot = { ...previous, at: new Date().toISOString(), problems };
    const fleetStatus = value(status, "the fleet's status", null);
    if (fleetStatus) {
      const own = fleetStatus.flagship.report;
      next.flagship = {
        name: fleetStatus.flagship.name,
        schedulerRunning: own.schedulerRunning,
        unread: own.counts.unread,
        running: own.counts.running,
        held: own.counts.held ?? 0,
      };
      next.ships = fleetStatus.ships.map(shipView);
    }
    next.plans = value(plans, "the plans", previous.plans);
    next.held = value(held, "the flagship's held messages", previous.held);
    next.recent = value(recent, "the flagship's messages", previous.recent);
    next.notes = value(notes, "the flagship's notes", previous.notes);
    next.costs = value(costs, "the agents' costs", previous.costs);
    const taskList = value(tasks, "the agents' tasks", null);
    if (taskList) next.tasks = taskRows(taskList.tasks);
    await this.#watchPlans(next.plans);
    next.planTasks = this.#planTasks(next.plans);
    next.planEvents = this.#snapshot.planEvents; // events heard while this poll ran
    this.#snapshot = next;
    for (const problem of problems) this.#tell({ type: "error", message: problem });
    this.#tell({ type: "snapshot", snapshot: next });
  }

  // Follows each running plan (its history first), and reads the summary of each plan whose
  // tasks changed: once per event burst, not once per viewer.
  async #watchPlans(plans: PlanListing[]): Promise<void> {
    const shown = new Set(this.#shownPlans(plans).map((plan) => plan.id));
    for (const plan of plans) {
      if (!shown.has(plan.id)) continue;
      const known = this.#planSummaries.get(plan.id);
      if (!known || known.status !== plan.status || known.costUsd !== plan.costUsd) {
        this.#staleSummaries.add(plan.id);
      }
      if (plan.status === "running" && !this.#following.has(plan.id)) this.#followPlan(plan.id);
    }
    for (const id of this.#planSummaries.keys()) if (!shown.has(id)) this.#planSummaries.delete(id);
    const stale = [...this.#staleSummaries].filter((id) => shown.has(id));
    this.#staleSummaries.clear();
    await Promise.all(stale.map(async (id) => {
      try {
        this.#planSummaries.set(id, await this.#fleet.plans.get(id).status());
      } catch {
        this.#staleSummaries.add(id); // asked again next time
      }
    }));
  }

  #followPlan(id: string): void {
    const signal = this.#stop.signal;
    const following = this.#fleet.plans.get(id).follow((event) => {
      this.#planSeen.set(id, event.seq);
      this.#staleSummaries.add(id);
      const events = [...this.#snapshot.planEvents, event].slice(-KEPT_PLAN_EVENTS);
      this.#snapshot = { ...this.#snapshot, planEvents: events };
      this.#tell({ type: "plan", event });
    }, { after: this.#planSeen.get(id), signal }).then(
      () => {},
      (error) => {
        if (!signal.aborted) {
          this.#tell({
            type: "error",
            message: `Stopped following plan ${id}: ${(error as Error).message}`,
          });
        }
      },
    ).finally(() => {
      this.#following.delete(id);
      this.#staleSummaries.add(id);
      // Its end is read at once, not at the next interval.
      if (!signal.aborted) this.#wake?.();
    });
    this.#following.set(id, following);
  }

  // The running plans and the latest few that ended.
  #shownPlans(plans: PlanListing[]): PlanListing[] {
    const running = plans.filter((plan) => plan.status === "running");
    const ended = plans.filter((plan) => plan.status !== "running").slice(0, FINISHED_PLANS_SHOWN);
    return [...running, ...ended];
  }

  #planTasks(plans: PlanListing[]): Record<string, PlanTaskSummary[]> {
    const tasks: Record<string, PlanTaskSummary[]> = {};
    for (const plan of this.#shownPlans(plans)) {
      const summary = this.#planSummaries.get(plan.id);
      if (summary) tasks[plan.id] = summary.tasks;
    }
    return tasks;
  }

  #tell(event: ViewEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A viewer that fails is its own business; the others still hear.
      }
    }
  }
}

/**
 * A ship's status as a view shows it.
 *
 * @param status The ship's status, as `fleet.status()` gives it.
 * @returns The view of it.
 */
export function shipView(status: ShipStatus): ShipView {
  const task = status.task;
  const vmProblem = status.vmStatus === "missing"
    ? "its VM is missing"
    : status.status !== "ready"
    ? `it is ${status.status}`
    : null;
  return {
    name: status.name,
    repo: status.repo,
    keyless: !status.trusted,
    channel: status.channel,
    schedulerRunning: status.report?.schedulerRunning ?? null,
    unread: status.report?.counts.unread ?? null,
    running: status.report?.counts.running ?? null,
    task: task
      ? {
        id: task.id,
        status: task.status,
        runningMs: task.runningMs,
        costUsd: task.costUsd,
        plan: status.plan ?? null,
      }
      : null,
    problem: status.problem ?? vmProblem,
  };
}

function taskRows(tasks: TaskOutcome[]): TaskRow[] {
  const rows = tasks.map((task): TaskRow => {
    const startedAt = task.startedAt ?? null;
    const endedAt = startedAt && task.durationMs !== null && !OPEN.includes(task.status)
      ? new Date(Date.parse(startedAt) + task.durationMs).toISOString()
      : null;
    return {
      id: task.id,
      ship: task.ship,
      status: task.status,
      startedAt,
      endedAt,
      costUsd: task.costUsd,
      prompt: task.prompt ?? "",
    };
  });
  const time = (row: TaskRow) => Date.parse(row.startedAt ?? "") || 0;
  return rows.sort((a, b) => time(b) - time(a)).slice(0, KEPT_TASKS);
}

const OPEN: TaskOutcome["status"][] = ["queued", "waiting", "running", "stalled"];

function emptySnapshot(flagship: string): FleetSnapshot {
  return {
    at: new Date().toISOString(),
    flagship: { name: flagship, schedulerRunning: false, unread: 0, running: 0, held: 0 },
    ships: [],
    plans: [],
    costs: null,
    held: [],
    recent: [],
    notes: [],
    planTasks: {},
    planEvents: [],
    tasks: [],
    problems: [],
  };
}
