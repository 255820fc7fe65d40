/**
 * A real full disk for tests: a small tmpfs mounted on a directory (root only), which a filler
 * file fills up to a chosen number of free bytes. Disposing it unmounts it.
 *
 * @module
 */

import { join } from "node:path";
import { runProcess } from "../../lib/process.ts";

/**
 * Explains why this machine cannot mount a small disk for a test.
 *
 * @returns The reason, or undefined when it can.
 */
export function smallDiskUnavailable(): string | undefined {
  if (Deno.uid() !== 0) return "a full disk needs root (it mounts a tmpfs)";
  const probe = Deno.makeTempDirSync({ prefix: "ohc-disk-probe-" });
  try {
    const mounted = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    if (!mounted.success) return "cannot mount a tmpfs here";
    new Deno.Command("umount", { args: [probe], stdout: "null", stderr: "null" }).outputSync();
    return undefined;
  } finally {
    Deno.removeSync(probe);
  }
}

/** A small disk mounted on a directory. */
export interface SmallDisk extends AsyncDisposable {
  /** Where it is mounted. */
  readonly path: string;
  /** Fills it until only about `bytes` are free (a page more or less). */
  fill(bytes: number): Promise<void>;
  /** Frees what {@link SmallDisk.fill} took. */
  free(): Promise<void>;
}

/**
 * Mounts a tmpfs of `sizeBytes` on `path` (made when missing). What was in the directory is
 * hidden while it is mounted; what is written there goes when it is unmounted.
 *
 * @param path The directory.
 * @param sizeBytes The disk's size.
 * @returns The disk; dispose it (after whatever writes there has stopped) to unmount it.
 */
export async function mountSmallDisk(path: string, sizeBytes: number): Promise<SmallDisk> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  const mounted = await runProcess(
    "mount",
    ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700`, "tmpfs", path],
    { timeoutMs: 10_000 },
  );
  if (mounted.code !== 0) throw new Error(`mount failed: ${mounted.stderr}`);
  const filler = join(path, "filler");
  return {
    path,
    async fill(bytes: number) {
      using file = await Deno.open(filler, { write: true, create: true, append: true });
      const chunk = new Uint8Array(64 * 1024).fill(120);
      try {
        while (true) await file.write(chunk);
      } catch (error) {
        if ((error as { code?: string }).code !== "ENOSPC") throw error;
      }
      const { size } = await file.stat();
      await file.truncate(Math.max(0, size - bytes));
    },
    async free() {
      await Deno.remove(filler).catch(() => {});
    },
    async [Symbol.asyncDispose]() {
      // A process that just ended may hold a file for a moment: busy is retried, then lazy.
      for (let attempt = 0; attempt < 20; attempt++) {
        const result = await runProcess("umount", [path], { timeoutMs: 10_000 });
        if (result.code === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await runProcess("umount", ["-l", path], { timeoutMs: 10_000 });
    },
  };
}
