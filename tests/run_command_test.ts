import assert from "node:assert/strict";
import { join } from "node:path";
import { runCommand } from "../lib/inbox/run_command.ts";
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
