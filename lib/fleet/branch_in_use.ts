/**
 * Whether a branch a dispatch would push is already another ship's: two ships of one repository
 * that work on one branch at once push over each other, and the second push is rejected after
 * its run was paid for. One `agent run` over several ships gives each its own branch
 * (ship_branches.ts); this is for runs started apart, read from what the ships say of their
 * tasks. A ship of the repository that cannot be asked is not taken to be idle: the dispatch is
 * refused, naming it, until it answers or is destroyed, or another branch is chosen.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import { oneLine, quote } from "../clip.ts";
import { repositoryKey, type ShipRepository } from "../agent/ship_branches.ts";
import { hasNotEnded, type TaskOutcome } from "../agent/task.ts";

/** A ship a dispatch would give a task to, with the branch that task would push. */
export interface BranchDispatch extends ShipRepository {
  /** The branch its task would work on and push. */
  branch: string;
}

/**
 * The fleet's other ships of the dispatched ships' repositories: those whose tasks could hold
 * one of the dispatch's branches.
 *
 * @param chosen The dispatched ships.
 * @param fleet Every ship of the fleet.
 * @returns The ships of the fleet that were not chosen and share a repository with one that was.
 */
export function otherShipsOfRepositories<T extends ShipRepository>(
  chosen: readonly ShipRepository[],
  fleet: readonly T[],
): T[] {
  const names = new Set(chosen.map((ship) => ship.name));
  const keys = new Set(
    chosen.flatMap((ship) => ship.repo === null ? [] : [repositoryKey(ship.repo)]),
  );
  return fleet.filter((ship) =>
    !names.has(ship.name) && ship.repo !== null && keys.has(repositoryKey(ship.repo))
  );
}

/**
 * The first clash between a dispatch and the other ships' unfinished tasks (queued, waiting,
 * running or stalled on the same branch of the same repository), else a ship of the repository
 * that could not be asked.
 *
 * @param dispatch The ships given the task, each with the branch it would push.
 * @param others The fleet's other ships (see {@link otherShipsOfRepositories}).
 * @param tasks What the ships said of their tasks (others' are looked at; the rest ignored).
 * @param unreachable Ships that could not be asked, and why.
 * @returns The error to throw, or null when every branch is free.
 */
export function branchInUse(
  dispatch: readonly BranchDispatch[],
  others: readonly ShipRepository[],
  tasks: readonly Pick<TaskOutcome, "ship" | "id" | "status" | "branch">[],
  unreachable: readonly { ship: string; error: string }[],
): BranchInUseError | null {
  // Each dispatched ship with the names of the other ships of its repository.
  const rivals = dispatch.map((ship) => {
    const key = ship.repo === null ? null : repositoryKey(ship.repo);
    const same = others.filter((other) => other.repo !== null && repositoryKey(other.repo) === key);
    return { ship, names: new Set(same.map((other) => other.name)) };
  });
  for (const { ship, names } of rivals) {
    const task = tasks.find((task) =>
      names.has(task.ship) && task.branch === ship.branch && hasNotEnded(task.status)
    );
    if (task) return new BranchInUseError(ship.branch, task.ship, task);
  }
  for (const { ship, names } of rivals) {
    const silent = unreachable.find((entry) => names.has(entry.ship));
    if (silent) return new BranchInUseError(ship.branch, silent.ship, null, silent.error);
  }
  return null;
}

/**
 * A task would push a branch that another ship of its repository works on now (or may: that
 * ship could not be asked). Refused before anything is sent, so no run is paid for whose push
 * would be rejected. Its `next` says what to do: wait for the other task, cancel it, or choose
 * another branch.
 *
 * @example Wait for the other ship's task, then dispatch again
 * ```ts
 * import { BranchInUseError, Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const options = { ships: ["ship-web-b"], branch: "deps", push: true };
 * const tasks = await fleet.agents.start("update deps", options).catch(async (error) => {
 *   if (!(error instanceof BranchInUseError) || !error.task) throw error;
 *   await (await fleet.agents.task(error.task.id)).wait();
 *   return await fleet.agents.start("update deps", options);
 * });
 * console.log(tasks.map((task) => task.id));
 * ```
 */
export class BranchInUseError extends UsageError {
  /** The branch. */
  readonly branch: string;
  /** The other ship. */
  readonly ship: string;
  /** Its unfinished task on the branch; null when the ship could not be asked. */
  readonly task: Pick<TaskOutcome, "ship" | "id" | "status" | "branch"> | null;
  /** Why the ship could not be asked, when it could not. */
  readonly reason?: string;

  /**
   * Creates the error; the message says which ship holds the branch, `next` what to do.
   *
   * @param branch The branch.
   * @param ship The other ship.
   * @param task Its unfinished task on the branch, or null when it could not be asked.
   * @param reason Why it could not be asked.
   */
  constructor(
    branch: string,
    ship: string,
    task: Pick<TaskOutcome, "ship" | "id" | "status" | "branch"> | null,
    reason?: string,
  ) {
    const other = "choose another --branch";
    super(
      task
        ? `Branch ${quote(branch)} is in use: ${ship}, of the same repository, has task ` +
          `"${task.id}" on it (${task.status}), and a second ship pushing it would have its push ` +
          `rejected after a paid run`
        : `Cannot tell whether branch ${quote(branch)} is free: ${ship}, of the same ` +
          `repository, could not be asked for its tasks ` +
          `(${JSON.stringify(oneLine(reason ?? "", 200))}), and a task of its on that branch ` +
          `would have this push rejected after a paid run`,
      {
        next: task
          ? `wait for it ("ohcommodore agent follow ${task.id}"), cancel it ` +
            `("ohcommodore agent cancel ${task.id}"), or ${other}`
          : `try again once it answers ("ohcommodore fleet status"), destroy it if it is gone ` +
            `("ohcommodore ship destroy ${ship}"), or ${other}`,
      },
    );
    this.branch = branch;
    this.ship = ship;
    this.task = task;
    if (reason !== undefined) this.reason = reason;
  }
}

// Read back from data (another process's --json), it is itself again.
registerErrorClass(BranchInUseError);
