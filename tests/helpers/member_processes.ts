/**
 * Stops what a member in a temporary home left running: a detached scheduler (started by
 * "scheduler start" or by a delivery that found none) and the commands it ran, so a test's
 * home can go without a process writing into it again.
 */

import { schedulerPidPathOf } from "../../lib/inbox/scheduler_files.ts";
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
  // One still starting (no pid file yet) or a delivery's own process is known by its HOME.
  await killProcessesLivingIn(home);
}

/**
 * Stops the member's processes and removes its home; again if something that was starting
 * brought a directory back in the meantime.
 *
 * @param home The member's home.
 */
export async function removeMemberHome(home: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    await stopMemberProcesses(home);
    await Deno.remove(home, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!(await Deno.stat(home).then(() => true, () => false))) return;
  }
}

async function killProcessesLivingIn(home: string): Promise<void> {
  const wanted = `HOME=${home}`;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const environ = await Deno.readTextFile(`/proc/${entry.name}/environ`);
      if (environ.split("\0").includes(wanted)) Deno.kill(Number(entry.name), "SIGKILL");
    } catch {
      // gone, or not ours to read
    }
  }
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
