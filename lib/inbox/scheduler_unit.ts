/**
 * The systemd user unit that cloudinit/init.sh installs where user units outlive a session:
 * whether it is the way this member runs its scheduler, and asking systemd to start or stop it.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { runProcess } from "../process.ts";

/** The unit's name, as init.sh writes it. */
export const SCHEDULER_UNIT = "ohcommodore-scheduler.service";

/** Where a person reads the unit's log. */
export const SCHEDULER_UNIT_LOG = `journalctl --user -u ${SCHEDULER_UNIT}`;

/**
 * Tells whether systemd runs this member's scheduler: the unit file is installed and enabled.
 * Without systemctl (containers, the laptop) it does not.
 *
 * @param home The member's home directory.
 * @returns Whether start and stop should go through systemctl.
 */
export async function schedulerUnitEnabled(home: string): Promise<boolean> {
  const file = join(home, ".config", "systemd", "user", SCHEDULER_UNIT);
  if (!(await Deno.stat(file).then(() => true, () => false))) return false;
  // Fails without systemctl (containers) or a user manager, and when the unit is disabled.
  return await systemctl(["is-enabled", "--quiet", SCHEDULER_UNIT]).then(() => true, () => false);
}

/**
 * Asks systemd to start the unit, and waits for its answer (not for the scheduler's).
 *
 * @throws {OhcommodoreError} When systemctl fails, with what it said.
 */
export async function startSchedulerUnit(): Promise<void> {
  await systemctl(["start", SCHEDULER_UNIT]);
}

/**
 * Asks systemd to stop the unit without waiting for it (a running command may take a while to
 * finish; the caller waits with its own deadline).
 *
 * @returns The pid of the unit's process before the stop, or null when it had none.
 * @throws {OhcommodoreError} When systemctl fails, with what it said.
 */
export async function stopSchedulerUnit(): Promise<number | null> {
  const shown = await systemctl(["show", "--property=MainPID", "--value", SCHEDULER_UNIT])
    .catch(() => "");
  await systemctl(["stop", "--no-block", SCHEDULER_UNIT]);
  const pid = Number(shown.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

async function systemctl(args: string[]): Promise<string> {
  const result = await runProcess("systemctl", ["--user", ...args], { timeoutMs: 60_000 });
  if (result.code !== 0) {
    throw new OhcommodoreError(
      `systemctl --user ${args.join(" ")} failed (exit ${result.code}): ` +
        `${result.stderr.trim() || "no message"}; see "${SCHEDULER_UNIT_LOG}"`,
    );
  }
  return result.stdout;
}
