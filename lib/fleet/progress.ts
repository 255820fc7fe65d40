/**
 * The steps a fleet operation reports as it goes, and their words. A leaf: the modules that
 * make members (provisioning, the flagship, the launch) and the CLI that shows their progress
 * all import it, and it imports none of them.
 *
 * @module
 */

/** A step of provisioning, for progress and for saying which one failed. */
export type ProvisionStep =
  | "create"
  | "key"
  | "reach"
  | "program"
  | "files"
  | "init.sh"
  | "record"
  | "copy"
  | "own";

/** Progress of a long fleet operation, for the CLI to show. */
export interface FleetProgress {
  /** The VM concerned. */
  vm: string;
  /** What is happening to it; `warning` says something is amiss, in `message`. */
  step: ProvisionStep | "destroy" | "ready" | "warning";
  /**
   * For `warning`: what is amiss and how to set it right. For another step: what it does, in
   * more words than the step's own (a copy names the ship it copies).
   */
  message?: string;
}

const STEP_TEXT: Record<FleetProgress["step"], string> = {
  key: "registering its SSH key",
  create: "creating the VM",
  reach: "waiting for it to answer",
  program: "installing ohcommodore",
  files: "sending settings and keys",
  "init.sh": "running cloudinit/init.sh",
  record: "recording it",
  copy: "copying a ship",
  own: "making the copy its own (identity, empty inbox, settings, checkout, scheduler)",
  ready: "ready",
  destroy: "destroying",
  warning: "warning",
};

/**
 * Says a progress step in words, as the CLI prints it.
 *
 * @example
 * ```ts
 * import { describeProgress } from "@smithclay/ohcommodore/fleet";
 * describeProgress({ vm: "ship-web-k3f9a1b2", step: "reach" });
 * // "ship-web-k3f9a1b2: waiting for it to answer"
 * ```
 *
 * @param progress The step.
 * @returns E.g. `ship-web-k3f9a1b2: waiting for it to answer`.
 */
export function describeProgress(progress: FleetProgress): string {
  if (progress.step === "warning") return `${progress.vm}: warning: ${progress.message ?? ""}`;
  return `${progress.vm}: ${progress.message ?? STEP_TEXT[progress.step] ?? progress.step}`;
}
