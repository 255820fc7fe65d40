/**
 * What the flagship's scheduler serves besides its inbox: fleet calls (`fleet`, so that a look
 * at the fleet or a change to it costs a request on an open connection, not a program start;
 * a change's progress streamed as it happens) and its plans (`plan`: the plans database held open, the driver over the registry's
 * ready ships).
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { identityAddress, readIdentity } from "../identity.ts";
import type { OperationHandlers } from "../inbox/server.ts";
import { runNotifyHook } from "../notify.ts";
import { memberPaths } from "../paths.ts";
import { loadSettings } from "../settings.ts";
import { Ssh } from "../ssh.ts";
import { planHandler } from "../plan/plan_calls.ts";
import { PlanDriver } from "../plan/plan_driver.ts";
import { PlanStore } from "../plan/plan_store.ts";
import type { FleetFacts } from "./config.ts";
import { Flagship } from "./flagship.ts";
import { answerFleetCall, isReadRequest } from "./fleet_call.ts";
import { Ship } from "./member.ts";
import { Registry } from "./registry.ts";

/** The flagship's service, running. */
export interface FlagshipService {
  /** What its server answers besides the inbox: the `fleet` and `plan` operations. */
  handlers: OperationHandlers;
  /**
   * Stops the plan driver and closes its database (attempts go on on their ships), then waits
   * for the fleet's changes under way (a create, a destroy, a sink) to finish: a change cut
   * short would leave a VM or a key without its undo.
   */
  stop(): Promise<void>;
}

/**
 * Starts the flagship's service: plans that were running go on. Plans that cannot run (a
 * damaged plans database) are refused with the reason, and the rest is served all the same.
 *
 * @param options The fleet, the flagship's home, the ssh client and where to log.
 * @returns The running service.
 */
export async function startFlagshipService(options: {
  facts: FleetFacts;
  home: string;
  ssh?: Ssh;
  log?: (line: string) => void;
}): Promise<FlagshipService> {
  const { facts, home, log } = options;
  const ssh = options.ssh ?? new Ssh();
  const flagship = new Flagship(facts, home, ssh);
  const plans = await startPlans(home, ssh, log).catch((error) => {
    log?.(`plans cannot run: ${error.message}`);
    return refusedPlans(error);
  });
  // Changes under way: a stopping scheduler lets them finish before its process ends.
  const changes = new Set<Promise<unknown>>();
  return {
    handlers: {
      fleet: (args, { emit }) => {
        const answer = answerFleetCall(args, flagship, (progress) => emit({ progress }));
        if (!isReadRequest(args)) {
          changes.add(answer);
          answer.finally(() => changes.delete(answer)).catch(() => {});
        }
        return answer;
      },
      plan: plans.handler,
    },
    async stop() {
      plans.stop();
      if (changes.size) log?.(`waiting for ${changes.size} fleet change(s) to finish`);
      await Promise.allSettled([...changes]);
    },
  };
}

interface RunningPlans {
  handler: NonNullable<OperationHandlers["plan"]>;
  stop(): void;
}

async function startPlans(
  home: string,
  ssh: Ssh,
  log?: (line: string) => void,
): Promise<RunningPlans> {
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
    });
    return {
      handler: planHandler(driver),
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

// The flagship whose plans cannot run says why to whoever asks for them.
function refusedPlans(error: Error): RunningPlans {
  const refusal = new OhcommodoreError(`Plans cannot run on this flagship: ${error.message}`, {
    next: `see its scheduler's log (~/.local/ship/scheduler.log), then restart it with ` +
      `"ohcommodore scheduler start"`,
  });
  return { handler: () => Promise.reject(refusal), stop() {} };
}
