/**
 * The keys the flagship makes for trusted ships, in `~/.ohcommodore/keys/<ship>`: the private
 * half until the ship holds it, the public half until the ship is destroyed (to revoke it).
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { memberPaths } from "../paths.ts";
import { runProcess } from "../process.ts";

/** A flagship's ship keys. */
export class ShipKeys {
  readonly #home: string;

  /**
   * The keys kept in a flagship's home.
   *
   * @param home The flagship's home.
   */
  constructor(home: string) {
    this.#home = home;
  }

  /**
   * Where a ship's key waits while the ship is made (its public half stays after, to revoke).
   *
   * @param name The ship.
   * @returns The private key's path.
   */
  path(name: string): string {
    return join(memberPaths(this.#home).configDir, "keys", name);
  }

  /**
   * Makes a new ed25519 key pair for a ship, commented with its name.
   *
   * @param name The ship.
   * @returns Both halves.
   * @throws {OhcommodoreError} When ssh-keygen fails.
   */
  async make(name: string): Promise<{ privateKey: string; publicKey: string }> {
    const path = this.path(name);
    await Deno.mkdir(join(path, ".."), { recursive: true, mode: 0o700 });
    const result = await runProcess(
      "ssh-keygen",
      ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path],
      { timeoutMs: 30_000 },
    );
    if (result.code !== 0) {
      throw new OhcommodoreError(
        `ssh-keygen could not make a key for ${name}: ${result.stderr.trim()} ` +
          `(is openssh-client installed on the flagship?)`,
      );
    }
    return {
      privateKey: await Deno.readTextFile(path),
      publicKey: (await Deno.readTextFile(`${path}.pub`)).trim(),
    };
  }

  /**
   * The public half kept for a ship, to revoke its key when the record lost it.
   *
   * @param name The ship.
   * @returns The key, or null.
   */
  async keptPublicKey(name: string): Promise<string | null> {
    return await Deno.readTextFile(`${this.path(name)}.pub`).catch(() => null);
  }

  /**
   * Removes what is kept of a ship's key.
   *
   * @param name The ship.
   */
  async forget(name: string): Promise<void> {
    for (const file of [this.path(name), `${this.path(name)}.pub`]) {
      await Deno.remove(file).catch(() => {});
    }
  }
}
