/**
 * Giving work to agents on ships: one prompt to many ships as inbox tasks, followed live, waited
 * for, cancelled; every ship's outcome as data, settled (one ship that cannot be reached or fails
 * is one outcome, never a throw that hides the others); the fleet's tasks and costs.
 *
 * @module
 */

import { pLimit } from "../deps.ts";
import { checkDurationMs } from "../duration.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { parseMessageId } from "../inbox/message.ts";
import type { Ssh } from "../ssh.ts";
import { transportFor } from "../transport.ts";
import { branchesFor } from "../agent/ship_branches.ts";
import type { TaskOutcome, TaskSpec } from "../agent/task.ts";
import { checkTaskSpec } from "../agent/task_check.ts";
import { taskCommand } from "../agent/task_command.ts";
import { blankOutcome } from "../agent/task_outcome.ts";
import { AgentStartError } from "./agent_start_error.ts";
import { AgentTask } from "./agent_task.ts";
import { type BranchDispatch, branchInUse, otherShipsOfRepositories } from "./branch_in_use.ts";
import { chooseShips } from "./exec.ts";
import { type FleetCosts, fleetCosts } from "./fleet_costs.ts";
import type { Ship } from "./member.ts";
import type { KeptTask } from "./registry.ts";
import { canResume, ResumeRefusedError } from "./resume_refused_error.ts";
import { fetchShipTasks } from "./ship_task_list.ts";

export { AgentTask } from "./agent_task.ts";

/** Options for {@link FleetAgents.start} and {@link FleetAgents.run}. */
export interface AgentRunOptions extends Omit<TaskSpec, "prompt"> {
  /**
   * Which ships: names or unique prefixes, or `Ship` handles (which spare asking the flagship
   * for the fleet's ships).
   *
   * @default {every ship}
   */
  ships?: readonly (string | Ship)[];
  /**
   * How long a task may run on its ship.
   *
   * @default {30 * 60_000}
   */
  timeoutMs?: number;
  /** Told each ship's outcome as it settles (with `run`). */
  onOutcome?: (outcome: TaskOutcome) => void;
  /** Told each ship's task as it is sent, with its id (with `run`, before the wait). */
  onStart?: (task: AgentTask) => void;
}

/** What agents need of the fleet. */
export interface AgentsContext {
  /** Every ship, as handles. */
  ships: () => Promise<Ship[]>;
  /** The ssh client. */
  ssh: Ssh;
  /** The tasks of destroyed ships, as the flagship kept them (for costs). */
  keptTasks?: () => Promise<KeptTask[]>;
  /**
   * Every ship's tasks, asked by the flagship (whose connections to the ships are warm) instead
   * of by this process, ship by ship.
   */
  shipTasks?: () => Promise<{
    ships: Ship[];
    tasks: TaskOutcome[];
    unreachable: { ship: string; error: string }[];
  }>;
}

const LIST_CONCURRENCY = 32;
const DEFAULT_TASK_TIMEOUT_MS = 30 * 60_000;

/**
 * The fleet's agents: `fleet.agents`.
 *
 * @example Give one prompt to every ship and act on the outcomes
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const outcomes = await fleet.agents.run("update the dependencies and fix what breaks", {
 *   branch: "deps",
 *   push: true,
 * });
 * for (const outcome of outcomes) console.log(outcome.ship, outcome.status, outcome.commits);
 * console.log((await fleet.agents.costs()).totalUsd);
 * ```
 */
export class FleetAgents {
  readonly #context: AgentsContext;

  /**
   * The agents of a fleet.
   *
   * @param context How to reach its ships.
   */
  constructor(context: AgentsContext) {
    this.#context = context;
  }

  /**
   * Sends the prompt to each chosen ship as a task, without waiting.
   *
   * @param prompt The prompt.
   * @param options Ships, branch, push, PR and how Claude Code runs.
   *   Ships of one repository given one branch to push (or open a PR for) each work on their
   *   own, `<branch>-<ship>`, named in their outcomes' `branch`.
   * @returns A handle per ship, in the order of the ships.
   * @throws {UsageError} For a bad setting, before anything is sent.
   * @throws {BranchInUseError} When a branch to push is another ship's of the same repository
   *   (an unfinished task of its works on it, or it could not be asked), before anything is sent.
   * @throws {NotFoundError} When a name matches no ship.
   */
  async start(prompt: string, options: AgentRunOptions = {}): Promise<AgentTask[]> {
    const { ships: which, timeoutMs, onOutcome: _, onStart: _start, ...rest } = options;
    const spec = checkTaskSpec({ prompt, ...rest });
    if (timeoutMs !== undefined) checkDurationMs(timeoutMs, "timeoutMs");
    const fleet = once(() => this.#context.ships());
    const chosen = await this.#choose(which, fleet);
    const commands = await this.#commands(spec, chosen, fleet);
    const sent = await Promise.allSettled(chosen.map(async (ship, i) => {
      const message = await ship.send(commands[i], {
        timeoutMs: timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
      });
      return new AgentTask(ship, message.id);
    }));
    const started = sent.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
    const failed = sent.flatMap((result, i) =>
      result.status === "rejected" ? [`${chosen[i].name}: ${(result.reason as Error).message}`] : []
    );
    if (failed.length) throw new AgentStartError(started, failed);
    return started;
  }

  /**
   * Sends the prompt to each chosen ship and waits for every task to end.
   *
   * @param prompt The prompt.
   * @param options Ships, branch, push, PR and how Claude Code runs (branches as with
   *   {@link FleetAgents.start}).
   * @returns One outcome per ship, settled: a ship that could not be reached is an `error`.
   */
  async run(prompt: string, options: AgentRunOptions = {}): Promise<TaskOutcome[]> {
    const { ships: which, timeoutMs, onOutcome, onStart, ...rest } = options;
    const spec = checkTaskSpec({ prompt, ...rest });
    if (timeoutMs !== undefined) checkDurationMs(timeoutMs, "timeoutMs");
    const fleet = once(() => this.#context.ships());
    const chosen = await this.#choose(which, fleet);
    const commands = await this.#commands(spec, chosen, fleet);
    return await Promise.all(chosen.map(async (ship, i) => {
      let outcome: TaskOutcome;
      let id = "";
      try {
        const timeout = timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
        id = (await ship.send(commands[i], { timeoutMs: timeout })).id;
        onStart?.(new AgentTask(ship, id));
        // The ship's own wait: the task's timeout plus a minute.
        outcome = await new AgentTask(ship, id).wait();
      } catch (error) {
        outcome = unsettled(ship.name, id, error as Error);
      }
      onOutcome?.(outcome);
      return outcome;
    }));
  }

  /**
   * Continues a ship's last task with a new prompt: its Claude Code session (`--resume`), on its
   * branch. Only the last task: an older session would carry on work the last task may have
   * moved on from, so a last task that cannot be continued is refused, saying why.
   *
   * @param shipName The ship's name or a unique prefix.
   * @param prompt The prompt.
   * @param options How Claude Code runs.
   * @returns The task's handle.
   * @throws {NotFoundError} When the ship has no task yet.
   * @throws {ResumeRefusedError} When its last task is still queued or running, or has no
   *   session (it ended before Claude Code started).
   * @throws {UsageError} For `push` or `pr` when the last task worked on no branch.
   */
  async resume(
    shipName: string,
    prompt: string,
    options: Omit<AgentRunOptions, "ships" | "resume"> = {},
  ): Promise<AgentTask> {
    const [ship] = chooseShips(await this.#context.ships(), [shipName]);
    // Newest first: the last task sent.
    const [last] = await this.#tasksOf(ship);
    if (!last) {
      throw new NotFoundError(`${ship.name} has no task to resume`, {
        query: ship.name,
        next: `start one with "ohcommodore agent run --ships ${ship.name} -- <prompt>"`,
      });
    }
    if (!canResume(last)) {
      throw new ResumeRefusedError(ship.name, last);
    }
    const branch = options.branch ?? last.branch ?? undefined;
    if ((options.push || options.pr) && !branch) {
      throw new UsageError(
        `The last task of ${ship.name}, "${last.id}", worked on no branch, and pushing needs ` +
          `one: resume without --push and --pr`,
      );
    }
    const [task] = await this.start(prompt, {
      ...options,
      ships: [ship],
      resume: last.sessionId,
      branch,
    });
    return task;
  }

  /**
   * Every task of the fleet, newest first per ship (a ship that cannot be asked is left out and
   * named in `unreachable`).
   *
   * @param options `ships`: only these (names, unique prefixes or handles); default every ship.
   * @returns The tasks' outcomes, and the ships that did not answer.
   */
  async list(
    options: { ships?: readonly (string | Ship)[] } = {},
  ): Promise<{ tasks: TaskOutcome[]; unreachable: { ship: string; error: string }[] }> {
    const { tasks, unreachable } = await this.#survey(options.ships);
    return { tasks, unreachable };
  }

  /**
   * One task, found by its id (or a unique prefix) across the fleet.
   *
   * @param id The id.
   * @returns Its outcome.
   * @throws {NotFoundError} When no ship has it.
   */
  async show(id: string): Promise<TaskOutcome> {
    return (await this.#find(id)).outcome;
  }

  /**
   * A handle on a task, found by its id across the fleet.
   *
   * @param id The id or a unique prefix.
   * @returns The handle.
   */
  async task(id: string): Promise<AgentTask> {
    const { ship, outcome } = await this.#find(id);
    return new AgentTask(ship, outcome.id);
  }

  /**
   * What the fleet's recorded tasks cost, per ship and in all: destroyed ships' too, as the
   * flagship kept them when each went.
   *
   * @returns The costs.
   */
  async costs(): Promise<FleetCosts> {
    const [{ ships, tasks, unreachable }, kept] = await Promise.all([
      this.#survey(),
      this.#context.keptTasks?.() ?? [],
    ]);
    return fleetCosts(ships.map((ship) => ship.name), tasks, kept, unreachable);
  }

  // The fleet's ships (one call to the flagship), or the ones asked for, and what each says of
  // its tasks.
  async #survey(which?: readonly (string | Ship)[]) {
    if (!which && this.#context.shipTasks) return await this.#context.shipTasks();
    const ships = which ? await this.#choose(which) : await this.#context.ships();
    const limit = pLimit(LIST_CONCURRENCY);
    const unreachable: { ship: string; error: string }[] = [];
    const perShip = await Promise.all(
      ships.map((ship) =>
        limit(() =>
          this.#tasksOf(ship).catch((error) => {
            unreachable.push({ ship: ship.name, error: (error as Error).message });
            return [];
          })
        )
      ),
    );
    return { ships, tasks: perShip.flat(), unreachable };
  }

  // A task by its id or a unique prefix, with the ship it runs on.
  async #find(id: string): Promise<{ ship: Ship; outcome: TaskOutcome }> {
    // Checked before any ship is asked: an empty prefix would match every task.
    const prefix = parseMessageId(id, "task");
    const { ships, tasks } = await this.#survey();
    const found = tasks.filter((task) => task.id.startsWith(prefix));
    const ship = ships.find((ship) => ship.name === found[0]?.ship);
    if (found.length === 1 && ship) return { ship, outcome: found[0] };
    const some = found.slice(0, 3).map((task) => task.id).join(", ");
    throw new NotFoundError(
      found.length
        ? `Task id "${prefix}" is ambiguous (${found.length} match: ${some}` +
          `${found.length > 3 ? ", …" : ""}): type more`
        : `No ship has a task "${prefix}"`,
      { query: id, next: found.length ? undefined : `"ohcommodore agent list" shows them` },
    );
  }

  // The command each ship is sent: ships of one repository given one branch to push each get
  // their own (see branchesFor), and a branch another ship's task holds is refused, so none has
  // its push rejected after a paid run.
  async #commands(spec: TaskSpec, chosen: Ship[], fleet: () => Promise<Ship[]>): Promise<string[]> {
    const branch = spec.branch;
    if (branch === undefined || !(spec.push || spec.pr)) return chosen.map(() => taskCommand(spec));
    // Handles made by name alone do not know their repository: the registry does.
    const ships = await fleet();
    const known = new Map(ships.map((ship) => [ship.name, ship.repo]));
    const branches = branchesFor(
      chosen.map((ship) => ({ name: ship.name, repo: ship.repo ?? known.get(ship.name) ?? null })),
      spec,
    );
    const dispatch = chosen.map((ship, i): BranchDispatch => ({
      name: ship.name,
      repo: ship.repo ?? known.get(ship.name) ?? null,
      branch: branches[i] ?? branch,
    }));
    await this.#checkBranchesFree(dispatch, ships);
    return dispatch.map((ship) => taskCommand({ ...spec, branch: ship.branch }));
  }

  // Other ships of the repositories, asked for their tasks in one read (through the flagship,
  // whose connections to them are warm): a branch one of them works on is refused.
  async #checkBranchesFree(dispatch: BranchDispatch[], fleet: Ship[]): Promise<void> {
    const others = otherShipsOfRepositories(dispatch, fleet);
    if (others.length === 0) return;
    const { tasks, unreachable } = this.#context.shipTasks
      ? await this.#context.shipTasks()
      : await this.#survey(others);
    const clash = branchInUse(dispatch, others, tasks, unreachable);
    if (clash) throw clash;
  }

  async #choose(
    which: readonly (string | Ship)[] | undefined,
    fleet: () => Promise<Ship[]> = () => this.#context.ships(),
  ): Promise<Ship[]> {
    const handles = which?.filter((ship): ship is Ship => typeof ship !== "string") ?? [];
    const names = which?.filter((ship): ship is string => typeof ship === "string");
    if (which && names?.length === 0) return handles;
    const chosen = [...chooseShips(await fleet(), names), ...handles];
    if (chosen.length === 0) {
      throw new UsageError(`The fleet has no ships`, {
        next: `make one with "ohcommodore ship create"`,
      });
    }
    return chosen;
  }

  #tasksOf(ship: Ship): Promise<TaskOutcome[]> {
    const ssh = this.#context.ssh;
    return fetchShipTasks(transportFor(ship.destination, ssh), ship.name, ssh);
  }
}

// The fleet's ships, asked of the flagship once for a dispatch however many steps need them.
function once(ships: () => Promise<Ship[]>): () => Promise<Ship[]> {
  let asked: Promise<Ship[]> | undefined;
  return () => asked ??= ships();
}

// A ship that could not be given the task (no id), or whose task could not be waited for.
function unsettled(ship: string, id: string, error: Error): TaskOutcome {
  return { ...blankOutcome(ship, id, "error"), error: error.message };
}
