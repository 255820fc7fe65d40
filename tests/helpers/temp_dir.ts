/**
 * Temporary directories that remove themselves: `await using dir = await tempDir("ohc-x-")`
 * leaves nothing in /tmp, whether the test passes or fails.
 *
 * @module
 */

import { removeMemberHome } from "./member_processes.ts";

/** A directory below the system's temporary directory, removed with everything in it on dispose. */
export interface TempDir extends AsyncDisposable {
  /** Its path. */
  readonly path: string;
}

/**
 * Makes a temporary directory.
 *
 * @param prefix Starts its name, so a leftover says which test made it.
 * @returns The directory; dispose it to remove it.
 */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      // A delivery into a home here may have started a scheduler there: it goes first.
      await removeMemberHome(path);
    },
  };
}
