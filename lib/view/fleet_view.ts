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
import { AgentTask } from "../fleet/agents.ts";
import type { Fleet } from "../fleet/fleet.ts";
import type { PlanEvent } from "../plan/plan_types.ts";
import { FollowedPlans } from "./followed_plans.ts";
import {
  emptySnapshot,
  type FleetSnapshot,
  KEPT_PLAN_EVENTS,
  shipView,
  taskRows,
} from "./fleet_snapshot.ts";

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

const RECENT_MESSAGES = 20;

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
  readonly #plans: FollowedPlans;
  #snapshot: FleetSnapshot;
  #costsReadAt = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  private constructor(fleet: Fleet, options: FleetViewOptions) {
    this.#fleet = fleet;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#costsIntervalMs = options.costsIntervalMs ?? 10_000;
    this.#snapshot = emptySnapshot(fleet.facts.flagshipVm);
    this.#plans = new FollowedPlans(fleet, this.#stop.signal, {
      onEvent: (event) => {
        const events = [...this.#snapshot.planEvents, event].slice(-KEPT_PLAN_EVENTS);
        this.#snapshot = { ...this.#snapshot, planEvents: events };
        this.#tell({ type: "plan", event });
      },
      onError: (message) => this.#tell({ type: "error", message }),
      onEnded: () => this.#wake?.(),
    });
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
    await this.#plans.settled();
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
    await this.#plans.update(next.plans);
    next.planTasks = this.#plans.tasks(next.plans);
    next.planEvents = this.#snapshot.planEvents; // events heard while this poll ran
    this.#snapshot = next;
    for (const problem of problems) this.#tell({ type: "error", message: problem });
    this.#tell({ type: "snapshot", snapshot: next });
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
