/**
 * Which branch each ship's task works on. Ships of one repository given one branch to push would
 * push over each other: the first push wins and the others are rejected after their runs were
 * paid for. So each of them works on and pushes its own branch, `<branch>-<ship>`; a lone ship,
 * ships of different repositories, and tasks that push nothing keep the branch as given.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { quote } from "../clip.ts";
import type { TaskSpec } from "./task.ts";
import { MAX_BRANCH_LENGTH } from "./task_check.ts";

/** A ship as dispatch sees it: its name, and its repository when known. */
export interface ShipRepository {
  /** The ship's name. */
  name: string;
  /** Its repository (`owner/repo` or a git URL), or null for none or unknown. */
  repo: string | null;
}

/**
 * The branch each ship's task works on.
 *
 * @example Two ships of one repository push their own branches
 * ```ts
 * import { branchesFor } from "./ship_branches.ts";
 * const ships = [
 *   { name: "ship-web-k3f9a1b2", repo: "acme/web" },
 *   { name: "ship-web-k3f9c3d4", repo: "https://github.com/acme/web.git" },
 *   { name: "ship-api-k3f9e5f6", repo: "acme/api" },
 * ];
 * console.log(branchesFor(ships, { branch: "deps", push: true }));
 * // ["deps-ship-web-k3f9a1b2", "deps-ship-web-k3f9c3d4", "deps"]
 * ```
 *
 * @param ships The chosen ships.
 * @param spec The task's branch and whether it pushes (`push`, or `pr`, which pushes).
 * @returns One branch per ship, in their order (undefined where the task names none).
 * @throws {UsageError} When a ship's own branch would be longer than a branch may be.
 */
export function branchesFor(
  ships: readonly ShipRepository[],
  spec: Pick<TaskSpec, "branch" | "push" | "pr">,
): (string | undefined)[] {
  const branch = spec.branch;
  if (branch === undefined || !(spec.push || spec.pr)) return ships.map(() => branch);
  const counts = new Map<string, number>();
  const keys = ships.map((ship) => ship.repo === null ? null : repositoryKey(ship.repo));
  for (const key of keys) if (key !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
  return ships.map((ship, i) => {
    const key = keys[i];
    if (key === null || counts.get(key)! < 2) return branch;
    const own = `${branch}-${ship.name}`;
    if (own.length > MAX_BRANCH_LENGTH) {
      throw new UsageError(
        `Branch ${quote(branch)} is too long to give each ship of ${quote(ship.repo)} its own ` +
          `(${quote(own)} has ${own.length} characters, at most ${MAX_BRANCH_LENGTH} are taken): ` +
          `give a shorter --branch`,
      );
    }
    return own;
  });
}

/**
 * One spelling of a repository for all of its usual ones: `acme/web`,
 * `https://github.com/acme/web.git` and `git@github.com:acme/web` are all `github.com/acme/web`.
 *
 * @example
 * ```ts
 * import { repositoryKey } from "./ship_branches.ts";
 * console.log(repositoryKey("git@github.com:Acme/Web.git")); // "github.com/acme/web"
 * ```
 *
 * @param repo A repository as ships are made with it.
 * @returns Its key.
 */
export function repositoryKey(repo: string): string {
  const text = repo.trim().replace(/\/+$/, "").replace(/\.git$/i, "");
  let host = "";
  let path = text;
  // owner/repo is GitHub's, as init.sh clones it.
  const short = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(text);
  const url = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:]*)(?::\d*)?(\/.*)?$/i.exec(text);
  const scp = /^(?:[^@/:]+@)?([^/:]+):(.+)$/.exec(text);
  if (short) [host, path] = ["github.com", text];
  else if (url) [host, path] = [url[1], url[2] ?? ""];
  else if (scp) [host, path] = [scp[1], scp[2]];
  host = host.toLowerCase();
  path = path.replace(/^\/+(?=.)/, host ? "" : "/");
  // GitHub's names ignore case.
  return host === "github.com" ? `${host}/${path.toLowerCase()}` : host ? `${host}/${path}` : path;
}
