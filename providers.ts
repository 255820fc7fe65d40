/**
 * Where VMs come from: the {@link VmProvider} interface and its two implementations, exe.dev
 * ({@link ExeDevProvider}) and sandboxes on this machine ({@link LocalProvider}).
 *
 * @example List the sandboxes of the local provider
 * ```ts
 * import { LocalProvider } from "@smithclay/ohcommodore/providers";
 *
 * const provider = new LocalProvider(`${Deno.env.get("HOME")}/.ohcommodore/sandboxes`);
 * for (const vm of await provider.list()) console.log(vm.name, vm.status);
 * ```
 *
 * @module
 */

export { ProviderError } from "./lib/errors.ts";
export { ExeDevProvider } from "./lib/providers/exedev.ts";
export { LocalProvider } from "./lib/providers/local.ts";
export {
  PROVIDER_KINDS,
  type ProviderKind,
  type RegisteredKey,
  type VmInfo,
  type VmProvider,
  type WaitOptions,
} from "./lib/providers/provider.ts";
