/**
 * One agent at a time in a checkout: a task holds an exclusive lock (flock) on a file kept for
 * its checkout, from before it readies the branch until it has its outcome, whatever the
 * scheduler's concurrency. Another task waits for the lock, and says which task it waits for.
 * The lock goes with its process, so a task that is killed never leaves the checkout locked.
 *
 * @module
 */

import { join } from "node:path";
import { sha256Hex } from "../digest.ts";
import { OhcommodoreError } from "../errors.ts";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../private_files.ts";
import { tasksDir } from "./task_state.ts";

/** The type of the line a task prints while it waits for its checkout. */
export const WAITING_TYPE = "ohcommodore_waiting";

// How long an uncontended lock may take before the task says it waits.
const NOTICE_AFTER_MS = 200;

/**
 * The file whose lock stands for a checkout, beside the member's task states.
 *
 * @param workdir The checkout.
 * @param home The member's home.
 * @returns Its path.
 */
export async function checkoutLockPath(workdir: string, home?: string): Promise<string> {
  const key = (await sha256Hex(workdir)).slice(0, 16);
  return join(tasksDir(home), `checkout-${key}.lock`);
}

/**
 * Takes a checkout for a task, waiting while another task has it.
 *
 * @param workdir The checkout.
 * @param taskId The task taking it: kept in the lock file, so a task that waits can name it.
 * @param options `home`: the member's home; `onWait`: told the id of the task that has the
 *   checkout (null when unknown) when it is not free at once.
 * @returns The checkout's lock: dispose of it to give the checkout up.
 * @throws {OhcommodoreError} When the lock file cannot be opened.
 */
export async function lockCheckout(
  workdir: string,
  taskId: string,
  options: { home?: string; onWait?: (holder: string | null) => Promise<void> } = {},
): Promise<Disposable> {
  const path = await checkoutLockPath(workdir, options.home);
  let file: Deno.FsFile;
  try {
    await Deno.mkdir(tasksDir(options.home), { recursive: true, mode: PRIVATE_DIR_MODE });
    file = await Deno.open(path, {
      read: true,
      write: true,
      create: true,
      mode: PRIVATE_FILE_MODE,
    });
  } catch (error) {
    throw new OhcommodoreError(
      `Cannot open the lock of the checkout ${JSON.stringify(workdir)} (${path}): ` +
        `${(error as Error).message}; check that the ship's disk has room and the file is ` +
        `its user's`,
      { cause: error },
    );
  }
  try {
    const locking = file.lock(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const free = await Promise.race([
      locking.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), NOTICE_AFTER_MS)),
    ]);
    clearTimeout(timer);
    if (!free) {
      const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
      await options.onWait?.(/^[A-Za-z0-9_-]{1,64}$/.test(holder) ? holder : null);
      await locking;
    }
    await file.truncate(0);
    const bytes = new TextEncoder().encode(taskId);
    for (let offset = 0; offset < bytes.length;) offset += await file.write(bytes.subarray(offset));
  } catch (error) {
    file.close();
    throw error;
  }
  return { [Symbol.dispose]: () => file.close() };
}
