/**
 * The one place that turns a fleet's choice of provider into a {@link VmProvider}: every part
 * of the fleet (the flagship, making it, the laptop's scuttle) gets its provider here.
 *
 * @module
 */

import { OhcommodoreError } from "../errors.ts";
import type { Ssh } from "../ssh.ts";
import { ExeDevProvider } from "./exedev.ts";
import { LocalProvider } from "./local.ts";
import type { ProviderKind, VmProvider } from "./provider.ts";

/** What the factory needs to know of a fleet (its fleet facts have it). */
export interface ProviderChoice {
  /** The fleet's tag, to name it in errors. */
  tag: string;
  /** Where its VMs come from. */
  provider: ProviderKind;
  /** For `local`: the directory holding the sandboxes. */
  localRoot?: string;
}

/**
 * Builds the provider a fleet uses.
 *
 * @example
 * ```ts
 * import { providerFor } from "./factory.ts";
 * import { Ssh } from "../ssh.ts";
 * const provider = providerFor({ tag: "k3f9", provider: "local", localRoot: "/tmp/fleet" }, new Ssh());
 * console.log(provider.kind); // "local"
 * ```
 *
 * @param choice The fleet's provider (e.g. its fleet facts).
 * @param ssh The ssh client (exe.dev's lobby is reached with it).
 * @returns The provider.
 * @throws {OhcommodoreError} For a local fleet whose config lost its sandbox directory.
 */
export function providerFor(choice: ProviderChoice, ssh: Ssh): VmProvider {
  if (choice.provider === "local") {
    if (!choice.localRoot) {
      throw new OhcommodoreError(
        `Fleet ${choice.tag} uses the local provider but its config has no "local_root": ` +
          `add the sandbox directory there, or sink the fleet and run init again`,
      );
    }
    return new LocalProvider(choice.localRoot);
  }
  return new ExeDevProvider(ssh);
}
