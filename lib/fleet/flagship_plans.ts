/**
 * The flagship's plans, as its scheduler runs them: the plans database held open, the driver
 * over the registry's ready ships, and the `plan` operation its server answers.
 *
 * @module
 */

import { join } from "node:path";
import { identityAddress, readIdentity } from "../identity.ts";
import type { OperationHandlers } from "../inbox/server.ts";
import { runNotifyHook } from "../notify.ts";
import { memberPaths } from "../paths.ts";
import { loadSettings } from "../settings.ts";
import { Ssh } from "../ssh.ts";
import { planHandler } from "../plan/plan_calls.ts";
import { PlanDriver } from "../plan/plan_driver.ts";
import { PlanStore } from "../plan/plan_store.ts";
import { Ship } from "./member.ts";
import { Registry } from "./registry.ts";

/** The flagship's plans, running. */
export interface FlagshipPlans {
  /** What its server answers besides the inbox: the `plan` operation. */
  handlers: OperationHandlers;
  /** Stops the driver and closes the database (attempts go on on their ships). */
  stop(): void;
}

/**
 * Opens the plans database and starts the driver; plans that were running go on.
 *
 * @param options The flagship's home, the ssh client and where to log.
 * @returns The running plans.
 */
export async function startFlagshipPlans(
  options: { home: string; ssh?: Ssh; log?: (line: string) => void; lostAfterMs?: number },
): Promise<FlagshipPlans> {
  const { home, log } = options;
  const ssh = options.ssh ?? new Ssh();
  const paths = memberPaths(home);
  const address = identityAddress(await readIdentity(home));
  const store = await PlanStore.open(paths.plansDatabase, address);
  try {
    const driver = await PlanDriver.start({
      store,
      ships: async () =>
        (await (await Registry.open(home)).list())
          .filter((ship) => ship.status === "ready")
          .map((ship) => new Ship(ship, { ssh, home })),
      notify: async (event, data) => {
        const settings = await loadSettings([join(paths.configDir, ".env")]).catch(() => ({}));
        await runNotifyHook(
          (settings as Record<string, string | undefined>).OHCOMMODORE_NOTIFY,
          event,
          data as object,
        );
      },
      log,
      lostAfterMs: options.lostAfterMs,
    });
    return {
      handlers: { plan: planHandler(driver) },
      stop() {
        driver.stop();
        store[Symbol.dispose]();
      },
    };
  } catch (error) {
    store[Symbol.dispose]();
    throw error;
  }
}
