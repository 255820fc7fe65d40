/**
 * Where VMs come from. A provider creates, lists and removes machines and manages the SSH keys
 * allowed into them; everything else (provisioning, the inbox) goes through a {@link Transport}.
 * New providers (plain SSH hosts, other clouds) implement this interface.
 *
 * @module
 */

import type { Transport } from "../transport.ts";

/**
 * The provider kinds this version knows.
 *
 * @example Check a provider name
 * ```ts
 * import { PROVIDER_KINDS } from "@smithclay/ohcommodore/providers";
 * console.log(PROVIDER_KINDS.includes("local")); // true
 * ```
 */
export const PROVIDER_KINDS = ["exedev", "local"] as const;

/** A provider kind. */
export type ProviderKind = typeof PROVIDER_KINDS[number];

/** A machine as its provider reports it. */
export interface VmInfo {
  /** The VM's name, unique in the account. */
  name: string;
  /** How to reach it: an SSH destination, used as given, or a sandbox's home. */
  destination: string;
  /** The provider's word for its state, e.g. `running`. */
  status: string;
}

/** Options for {@link VmProvider.waitUntilReachable}. */
export interface WaitOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Give up when this aborts (throwing its reason). */
  signal?: AbortSignal;
}

/** A public key registered with a provider. */
export interface RegisteredKey {
  /** The key as `type base64` (see {@link keyIdentity}). */
  key: string;
  /** Its comment: for keys ohcommodore made, the VM it belongs to. */
  comment: string;
}

/** A source of VMs. */
export interface VmProvider {
  /** Which provider this is. */
  readonly kind: ProviderKind;
  /** Whether VMs are entered with keys registered here (else the key methods do nothing). */
  readonly managesKeys: boolean;
  /** Steps of `cloudinit/init.sh` that make no sense on this provider (they touch the host). */
  readonly skippedSteps: readonly string[];
  /** Creates a VM. Throws when the name is taken or refused. */
  create(name: string): Promise<VmInfo>;
  /**
   * Copies a VM: its disk (a sandbox: its directory), not its processes. The copy is named
   * `name`; what makes it a member of its own is done on it afterwards. Throws when the source
   * does not exist or the name is taken or refused.
   */
  copy(source: string, name: string): Promise<VmInfo>;
  /** Every VM of the account (of every fleet). */
  list(): Promise<VmInfo[]>;
  /** Removes VMs; names that do not exist are ignored. */
  remove(names: readonly string[]): Promise<void>;
  /** Waits until the VM answers a command, and returns the transport to it. */
  waitUntilReachable(vm: VmInfo, options: WaitOptions): Promise<Transport>;
  /** Allows a public key into the account's VMs (and its API). */
  addKey(publicKey: string): Promise<void>;
  /** Revokes a public key; an unknown key is ignored. */
  removeKey(publicKey: string): Promise<void>;
  /** The registered public keys, or null when the provider has no keys. */
  listKeys(): Promise<RegisteredKey[] | null>;
  /** Finishes registering a member's own key, from that member (exe.dev needs one `whoami`). */
  activateKey(transport: Transport, signal?: AbortSignal): Promise<void>;
}

/**
 * The `type base64` part of a public key line, without its comment, for comparing keys.
 *
 * @param publicKey An OpenSSH public key line.
 * @returns The key without its comment.
 */
export function keyIdentity(publicKey: string): string {
  return publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
}
