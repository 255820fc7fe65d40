import assert from "node:assert/strict";
import { join } from "node:path";
import { runCommand } from "../lib/inbox/run_command.ts";
import { mountSmallDisk, smallDiskUnavailable } from "./helpers/small_disk.ts";
import { tempDir } from "./helpers/temp_dir.ts";

Deno.test("a command whose timeout passes 2^31-1 ms runs to its end instead of being killed at once", async () => {
  await using dir = await tempDir("ohc-run-");
  const outcome = await runCommand("sleep 0.3; echo ran", {
    cwd: dir.path,
    scratchDir: join(dir.path, "run"),
    timeoutMs: 25 * 86_400_000, // what an older sender could store: 25 days
    killGraceMs: 2 ** 31,
  });
  assert.equal(outcome.error, null);
  assert.equal(outcome.exitCode, 0);
  assert.equal(outcome.stdout, "ran\n");
});

Deno.test("a command still times out on time with the long timers", async () => {
  await using dir = await tempDir("ohc-run-");
  const began = Date.now();
  const outcome = await runCommand("sleep 30", {
    cwd: dir.path,
    scratchDir: join(dir.path, "run"),
    timeoutMs: 200,
    killGraceMs: 100,
  });
  assert.equal(outcome.exitCode, 124);
  assert.ok(Date.now() - began < 10_000);
});

Deno.test("a command that cannot be spawned (its directory is gone) ends as an error that says why", async () => {
  await using dir = await tempDir("ohc-run-");
  const outcome = await runCommand("echo never", {
    cwd: join(dir.path, "gone"),
    scratchDir: join(dir.path, "run"),
    timeoutMs: 10_000,
  });
  assert.equal(outcome.status, "error");
  assert.equal(outcome.exitCode, null, "no process ran");
  assert.match(outcome.error ?? "", /^could not start: .*No such cwd '.*\/gone'/);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(join(dir.path, "run"))), []);
});

const noSmallDisk = smallDiskUnavailable();
Deno.test({
  name: "a command whose script does not fit on a full disk ends as an error that says so",
  ignore: noSmallDisk !== undefined,
  fn: async () => {
    await using dir = await tempDir("ohc-run-");
    await using disk = await mountSmallDisk(join(dir.path, "run"), 1024 * 1024);
    await disk.fill(64 * 1024);
    const outcome = await runCommand(`: ${"x".repeat(900_000)}\necho never`, {
      cwd: dir.path,
      scratchDir: disk.path,
      timeoutMs: 10_000,
    });
    assert.equal(outcome.status, "error");
    assert.equal(outcome.exitCode, null, "no process ran");
    assert.match(
      outcome.error ?? "",
      new RegExp(
        `^could not start: the disk is full \\(no space left to write "${disk.path}/[^"]+\\.sh"\\); ` +
          `free space on the disk that holds ${disk.path} \\(see "df -h ${disk.path}"\\)`,
      ),
    );
    const left = await Array.fromAsync(Deno.readDir(disk.path));
    assert.deepEqual(left.map((entry) => entry.name), ["filler"], "no part of the script is left");
  },
});
