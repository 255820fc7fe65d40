/**
 * What a dashboard page may do: JSON POSTs from the page itself (another site's page, by its
 * `Origin` or `Sec-Fetch-Site`, is refused), each through the library as the CLI does it: start
 * an agent task on chosen ships, cancel a task or a plan, approve or delete a held command. The
 * view reads the fleet again after each.
 *
 * @example Cancel a plan as the page would
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { FleetView } from "./fleet_view.ts";
 * import { act } from "./dashboard_actions.ts";
 *
 * await using fleet = await Fleet.open();
 * await using view = await FleetView.open(fleet);
 * const request = new Request("http://127.0.0.1:8420/api/plans/p1/cancel", {
 *   method: "POST",
 *   headers: { host: "127.0.0.1:8420", "content-type": "application/json" },
 *   body: "{}",
 * });
 * const answer = await act(request, new URL(request.url), fleet, view);
 * console.log(answer.status, await answer.json());
 * ```
 *
 * @module
 */

import { AgentStartError } from "../fleet/agent_start_error.ts";
import { UsageError } from "../errors.ts";
import type { Fleet } from "../fleet/fleet.ts";
import type { FleetView } from "./fleet_view.ts";
import { json, plain } from "./dashboard_responses.ts";
import { approveHeld, deleteHeld } from "./held_messages.ts";

// A prompt as large as an agent task takes, and no larger body for the other actions.
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Does the action a POST asks for, and answers with its result as JSON.
 *
 * @param request The POST, its token already checked.
 * @param url Its address.
 * @param fleet The fleet acted on.
 * @param view The view, read again after the action.
 * @returns The answer: the result, or 403, 404 or 415.
 * @throws {UsageError} For a body too large, not JSON, or a task without prompt or ships.
 */
export async function act(
  request: Request,
  url: URL,
  fleet: Fleet,
  view: FleetView,
): Promise<Response> {
  const refused = crossSite(request, `http://${request.headers.get("host") ?? ""}`);
  if (refused) return plain(403, refused);
  if (!/^application\/json\b/.test(request.headers.get("content-type") ?? "")) {
    return plain(415, "An action is a JSON POST");
  }
  const body = await readBody(request);
  const path = url.pathname;
  const id = (pattern: RegExp) => {
    const match = pattern.exec(path);
    return match ? decodeURIComponent(match[1]) : null;
  };
  let result: unknown;
  let taskId: string | null, planId: string | null, heldId: string | null;
  if (path === "/api/tasks") {
    result = await startTask(fleet, body);
  } else if ((taskId = id(/^\/api\/tasks\/([^/]+)\/cancel$/))) {
    const task = await view.task(taskId);
    result = { id: task.id, ship: task.ship.name, outcome: await task.cancel() };
  } else if ((planId = id(/^\/api\/plans\/([^/]+)\/cancel$/))) {
    result = await fleet.plans.get(planId).cancel();
  } else if ((heldId = id(/^\/api\/held\/([^/]+)\/approve$/))) {
    result = { ...await approveHeld(fleet, heldId), outcome: "approved, runs in its turn" };
  } else if ((heldId = id(/^\/api\/held\/([^/]+)\/delete$/))) {
    result = { ...await deleteHeld(fleet, heldId), outcome: "deleted" };
  } else {
    return plain(404, `No action at ${path}`);
  }
  view.refresh();
  return json(200, result);
}

async function startTask(fleet: Fleet, body: unknown): Promise<unknown> {
  const { prompt, ships } = (body ?? {}) as { prompt?: unknown; ships?: unknown };
  if (typeof prompt !== "string" || !prompt.trim()) {
    throw new UsageError(`Give the agents a prompt`);
  }
  if (!Array.isArray(ships) || !ships.length || !ships.every((s) => typeof s === "string")) {
    throw new UsageError(`Choose the ships to give the task to`);
  }
  try {
    const tasks = await fleet.agents.start(prompt, { ships });
    return { tasks: tasks.map((task) => ({ id: task.id, ship: task.ship.name })) };
  } catch (error) {
    if (!(error instanceof AgentStartError)) throw error;
    // Some started: the page hears of those too.
    throw Object.assign(error, {
      tasks: error.started.map((task) => ({ id: task.id, ship: task.ship.name })),
    });
  }
}

// Why a POST is refused as coming from another site, or null when it comes from the page it
// was sent to (`origin`, from its Host), or from a script, which sends neither header.
function crossSite(request: Request, origin: string): string | null {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") {
    return `Refused: an action from another site (${site})`;
  }
  const from = request.headers.get("origin");
  if (from !== null && from !== origin) {
    return `Refused: an action from another origin (${from})`;
  }
  return null;
}

async function readBody(request: Request): Promise<unknown> {
  // Counted in bytes as they arrive: a large body is refused before it is all read.
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of request.body ?? []) {
    bytes += chunk.byteLength;
    if (bytes > MAX_BODY_BYTES) throw new UsageError(`The request is too large`);
    chunks.push(chunk);
  }
  const text = new TextDecoder().decode(concat(chunks));
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`The request is not JSON`);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return all;
}
