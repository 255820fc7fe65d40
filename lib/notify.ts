/**
 * The person's notify hook (`OHCOMMODORE_NOTIFY` in `~/.ohcommodore/.env`): a shell command of
 * their own, told what happened as JSON on stdin and by name in `OHCOMMODORE_EVENT`.
 *
 * @module
 */

import { runProcess } from "./process.ts";

/**
 * Runs the hook, if there is one; its failures are its own (never thrown).
 *
 * @param hook The shell command, or undefined for none.
 * @param event What happened, e.g. `ended` or `plan_ended`.
 * @param data What to tell, merged into the JSON after `event`.
 * @param timeoutMs How long the hook may take.
 */
export async function runNotifyHook(
  hook: string | undefined,
  event: string,
  data: object,
  timeoutMs = 60_000,
): Promise<void> {
  if (!hook) return;
  await runProcess("bash", ["-c", hook], {
    stdin: JSON.stringify({ event, ...data }) + "\n",
    env: { ...Deno.env.toObject(), OHCOMMODORE_EVENT: event },
    timeoutMs,
  }).catch(() => {});
}
