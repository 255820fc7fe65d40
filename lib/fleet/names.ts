/**
 * Names in a fleet: the fleet's tag, VM names that carry it (so two fleets share an account and
 * a lost VM is still recognisably ours), and the `ship create` argument.
 *
 * @module
 */

import { quote } from "../clip.ts";
import { OhcommodoreError, UsageError } from "../errors.ts";

/** What `ship create` was asked for. */
export interface ShipSpec {
  /** The short name in the VM name, e.g. `web` in `ship-web-k3f9a1b2`. */
  name: string;
  /** The repository: `owner/repo` on GitHub or a git URL; null for a ship without one. */
  repo: string | null;
}

/** What a VM name may be: lowercase letters, digits and dashes, at most 63 characters. */
export const VM_NAME: RegExp = /^[a-z0-9][a-z0-9-]{0,62}$/;

const HEX = "0123456789abcdef";
const LETTERS = "abcdefghijklmnopqrstuvwxyz";
/**
 * The longest name a ship is given (its VM name is `ship-<name>-<tag><4 hex>`, at most 34
 * characters). A plain name longer than this is refused; a repository's name is shortened.
 */
export const MAX_SHIP_NAME = 20;

/** The longest `ship create` argument: `owner/repo`, a git URL or a plain name. */
export const MAX_SHIP_SPEC = 300;

function randomFrom(alphabet: string, length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((byte) => alphabet[byte % alphabet.length]).join("");
}

/**
 * A new fleet tag: a letter and three hex digits, e.g. `k3f9`. Starting with a letter keeps
 * every suffix that begins with it from being all digits, which exe.dev refuses.
 *
 * @returns The tag.
 */
export function newFleetTag(): string {
  return randomFrom(LETTERS, 1) + randomFrom(HEX, 3);
}

/**
 * The flagship's VM name.
 *
 * @param tag The fleet tag.
 * @returns `flagship-<tag>`.
 */
export function flagshipVmName(tag: string): string {
  return `flagship-${tag}`;
}

/**
 * The fleet tag in a flagship's VM name (the inverse of {@link flagshipVmName}).
 *
 * @param vmName The flagship's VM name.
 * @returns The tag (checked by {@link checkFleetTag} where it matters).
 */
export function tagOfFlagship(vmName: string): string {
  return vmName.replace(/^flagship-/, "");
}

/**
 * A new ship VM name: `ship-<name>-<tag><4 hex>`.
 *
 * @param name The ship's short name.
 * @param tag The fleet tag.
 * @returns The VM name.
 */
export function newShipVmName(name: string, tag: string): string {
  return `ship-${name}-${tag}${randomFrom(HEX, 4)}`;
}

/**
 * New ship VM names (see {@link newShipVmName}), each unlike the others and unlike every name in
 * `taken`: four hex digits give 65,536 names a fleet, so a batch of 20 in a fleet of 40 would
 * draw one twice about once in 100 creates.
 *
 * @param name The ships' short name.
 * @param tag The fleet tag.
 * @param count How many.
 * @param taken Names in use (the fleet's ships, those being made).
 * @returns The names.
 * @throws {OhcommodoreError} When the fleet has almost no names of this kind left.
 */
export function newShipVmNames(
  name: string,
  tag: string,
  count: number,
  taken: ReadonlySet<string>,
): string[] {
  const names = new Set<string>();
  for (let draws = 0; names.size < count; draws++) {
    if (draws >= count * 1000) {
      throw new OhcommodoreError(
        `No free name for ${count} more "${name}" ship(s) in this fleet: give them another name`,
      );
    }
    const candidate = newShipVmName(name, tag);
    if (!taken.has(candidate)) names.add(candidate);
  }
  return [...names];
}

/**
 * Tells whether a VM name belongs to a fleet's ships (registered or lost).
 *
 * @param vmName The VM name.
 * @param tag The fleet tag.
 * @returns True for `ship-<name>-<tag><4 hex>`.
 */
export function isShipOfFleet(vmName: string, tag: string): boolean {
  return new RegExp(`^ship-[a-z0-9-]+-${tag}[0-9a-f]{4}$`).test(vmName);
}

/**
 * Checks a fleet tag read from a file.
 *
 * @param tag The tag.
 * @returns The tag.
 */
export function checkFleetTag(tag: unknown): string {
  if (typeof tag !== "string" || !/^[a-z][0-9a-f]{3}$/.test(tag)) {
    throw new UsageError(`Fleet tag ${JSON.stringify(tag)} is not a letter and three hex digits`);
  }
  return tag;
}

// No quotes, backslashes or shell metacharacters: the URL travels through a .env file.
const GIT_URL =
  /^(?:(?:https?|ssh|git|file):\/\/[^\s'"\\`$;|&<>]+|[\w.-]+@[\w.-]+:[^\s'"\\`$;|&<>]+)$/;
const OWNER_REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Parses the argument of `ship create`: `owner/repo`, a git URL, or a bare name.
 *
 * @param spec What the user typed.
 * @returns The short name and repository.
 * @throws {UsageError} When it is none of those.
 *
 * @example What `ship create` makes of its argument
 * ```ts
 * import { parseShipSpec } from "@smithclay/ohcommodore/fleet";
 *
 * console.log(parseShipSpec("denoland/std")); // { name: "std", repo: "denoland/std" }
 * console.log(parseShipSpec("scratch")); // { name: "scratch", repo: null }
 * ```
 */
export function parseShipSpec(spec: string): ShipSpec {
  const text = spec.trim();
  // A plain name that is too long is told its own limit below.
  if (text.length > MAX_SHIP_SPEC && !PLAIN_NAME.test(text)) {
    throw new UsageError(
      `Cannot make a ship from ${quote(spec)}: it has ${text.length} characters, at most ` +
        `${MAX_SHIP_SPEC} are taken`,
    );
  }
  let repo: string | null = null;
  let base: string;
  if (GIT_URL.test(text)) {
    repo = text;
    base = text.replace(/\/+$/, "").split(/[/:]/).at(-1) ?? "";
  } else if (OWNER_REPO.test(text) && !text.startsWith(".")) {
    repo = text;
    base = text.split("/")[1];
  } else if (PLAIN_NAME.test(text)) {
    base = text;
  } else {
    throw new UsageError(
      `Cannot make a ship from ${quote(spec)}: give owner/repo (e.g. denoland/std), ` +
        `a git URL (https://…, ssh://…, git@host:path, file://…) or a plain name (e.g. scratch)`,
    );
  }
  const whole = base.replace(/\.git$/, "").toLowerCase().replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  // A name typed as a name is kept whole or refused; one taken from a repository is shortened.
  if (repo === null && whole.length > MAX_SHIP_NAME) {
    throw new UsageError(
      `Cannot make a ship named ${quote(spec)}: it has ${whole.length} characters, give a ` +
        `name of at most ${MAX_SHIP_NAME}`,
    );
  }
  const name = whole.slice(0, MAX_SHIP_NAME).replace(/-+$/, "");
  if (!name) {
    throw new UsageError(`Cannot derive a ship name from ${quote(spec)}: use letters`);
  }
  return { name, repo };
}

/**
 * Tells whether two repository specs of `ship create` name one repository, however spelled:
 * `owner/repo` is GitHub's, and GitHub's HTTPS and SSH URLs, with or without `.git`, in any
 * case, are the same repository; other URLs match without a trailing `/` or `.git`.
 *
 * @example
 * ```ts
 * import { sameRepository } from "@smithclay/ohcommodore/fleet";
 * sameRepository("denoland/std", "git@github.com:denoland/std.git"); // true
 * sameRepository("denoland/std", "denoland/fresh"); // false
 * ```
 *
 * @param a One spec.
 * @param b The other.
 * @returns True when both name the same repository.
 */
export function sameRepository(a: string, b: string): boolean {
  return repositoryKey(a) === repositoryKey(b);
}

const GITHUB_URL =
  /^(?:https?:\/\/(?:[^@/]+@)?github\.com\/|ssh:\/\/git@github\.com\/|git@github\.com:)/i;

// One spelling per repository: GitHub's as `github.com/<owner>/<repo>`, lowercase.
function repositoryKey(spec: string): string {
  const text = spec.trim().replace(/\/+$/, "").replace(/\.git$/, "");
  if (OWNER_REPO.test(text) && !GIT_URL.test(text)) return `github.com/${text}`.toLowerCase();
  if (GITHUB_URL.test(text)) return `github.com/${text.replace(GITHUB_URL, "")}`.toLowerCase();
  return text;
}
