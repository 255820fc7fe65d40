/**
 * Claude Code's stream-json, one line of it at a time, as a person reads it: what the agent says
 * and which tools it uses, one line each.
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { OUTCOME_TYPE } from "./task_outcome.ts";
import { WAITING_TYPE } from "./checkout_lock.ts";

/**
 * One stream-json line in words.
 *
 * @param line A line of the task's output.
 * @returns The line to show, or undefined for one that says nothing new (tool results, the
 *   outcome line ohcommodore adds).
 */
export function describeEvent(line: string): string | undefined {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line);
  } catch {
    return line.trim() ? line : undefined; // not JSON: shown as it is
  }
  switch (event?.type) {
    case "system":
      return event.subtype === "init"
        ? `session ${event.session_id ?? "?"}${event.model ? ` (${event.model})` : ""}`
        : undefined;
    case "assistant": {
      const content = (event.message as { content?: unknown[] })?.content ?? [];
      const parts = content.map((item) => describeContent(item as Record<string, unknown>))
        .filter(Boolean);
      return parts.length ? parts.join("; ") : undefined;
    }
    case "result": {
      const cost = typeof event.total_cost_usd === "number"
        ? `, $${event.total_cost_usd.toFixed(4)}`
        : "";
      return `result: ${event.subtype ?? "?"}${event.is_error ? " (error)" : ""}, ` +
        `${event.num_turns ?? "?"} turn(s)${cost}`;
    }
    case WAITING_TYPE: {
      const holder = typeof event.task === "string" ? `task ${event.task}` : "another task";
      return `waits for ${holder} to finish with the checkout ${
        oneLine(String(event.checkout), 120)
      }`;
    }
    case OUTCOME_TYPE:
      return undefined;
    default:
      return undefined;
  }
}

function describeContent(item: Record<string, unknown>): string | undefined {
  if (item?.type === "text" && typeof item.text === "string") {
    return `says: ${oneLine(item.text.trim(), 120)}`;
  }
  if (item?.type === "tool_use") {
    const input = (item.input ?? {}) as Record<string, unknown>;
    const detail = input.command ?? input.file_path ?? input.pattern ?? input.url ?? "";
    return `uses ${item.name ?? "a tool"}${
      detail ? `: ${oneLine(String(detail).trim(), 120)}` : ""
    }`;
  }
  return undefined;
}
