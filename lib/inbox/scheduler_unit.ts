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
  try {
    return (await systemctl(["is-enabled", "--quiet", SCHEDULER_UNIT])).code === 0;
  } catch {
    return false; // no systemctl here
  }
}

/**
 * Asks systemd to start or stop the unit, and waits for its answer.
 *
 * @param verb `start` or `stop`.
 * @throws {OhcommodoreError} When systemctl fails, with what it said.
 */
export async function controlSchedulerUnit(verb: "start" | "stop"): Promise<void> {
  const result = await systemctl([verb, SCHEDULER_UNIT]);
  if (result.code !== 0) {
    throw new OhcommodoreError(
      `systemctl --user ${verb} ${SCHEDULER_UNIT} failed (exit ${result.code}): ` +
        `${result.stderr.trim() || "no message"}; see "${SCHEDULER_UNIT_LOG}"`,
    );
  }
}

function systemctl(args: string[]) {
  // A stop waits for the running command to finish, which may take a while.
  return runProcess("systemctl", ["--user", ...args], { timeoutMs: 120_000 });
}
