/**
 * Stops what a member in a temporary home left running: a detached scheduler (started by
 * "scheduler start" or by a delivery that found none) and the commands it ran, so a test's
 * home can go without a process writing into it again.
 */

import { schedulerPidPathOf } from "../../lib/inbox/scheduler.ts";
import { memberPaths } from "../../lib/paths.ts";
import { runProcess } from "../../lib/process.ts";

/**
 * Kills the member's detached scheduler (named by its pid file) and every process group whose
 * command line mentions the home (the scheduler runs each command as `bash <home>/…/run/<id>.sh`).
 *
 * @param home The member's home.
 */
export async function stopMemberProcesses(home: string): Promise<void> {
  const pid = Number(
    await Deno.readTextFile(schedulerPidPathOf(memberPaths(home).database)).catch(() => ""),
  );
  if (Number.isInteger(pid) && pid > 0) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  // A scheduler killed with SIGKILL leaves its command running (in a session of its own).
  await killGroupsMentioning(home);
}

async function killGroupsMentioning(text: string): Promise<void> {
  const ps = await runProcess("ps", ["-eo", "pid=,pgid=,args="], { timeoutMs: 10_000 });
  const own = Number(ps.stdout.match(new RegExp(`^\\s*${Deno.pid}\\s+(\\d+)`, "m"))?.[1]);
  for (const line of ps.stdout.split("\n")) {
    const [, pid, pgid, args] = line.match(/^\s*(\d+)\s+(\d+)\s+(.*)$/) ?? [];
    if (!args?.includes(text)) continue;
    try {
      // Never this test's own group: only what the member's scheduler started.
      Deno.kill(Number(pgid) === own ? Number(pid) : -Number(pgid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}
