import assert from "node:assert/strict";
import { runProcess } from "../lib/process.ts";

// What ssh does with a control master: the program we started is gone, but another process
// that no signal to its process group reaches (here: sleep in a session of its own) still holds
// its stdout.
const HELD_PIPE = ["-c", "echo started; setsid sleep 20"];

Deno.test("a timeout returns at once, with the output so far, although the pipe stays open", async () => {
  const started = performance.now();
  const result = await runProcess("sh", HELD_PIPE, { timeoutMs: 500 });
  assert.equal(result.timedOut, true);
  assert.equal(result.stdout, "started\n");
  assert.ok(performance.now() - started < 10_000, "not waited for the pipe to close");
});

Deno.test("an abort returns at once with its reason, although the pipe stays open", async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("stopped by the test")), 500);
  const started = performance.now();
  await assert.rejects(
    runProcess("sh", HELD_PIPE, { timeoutMs: 60_000, signal: controller.signal }),
    /stopped by the test/,
  );
  assert.ok(performance.now() - started < 10_000, "not waited for the pipe to close");
});

Deno.test("a program that ends by itself gives all of its output", async () => {
  const result = await runProcess("sh", [
    "-c",
    "head -c 3000000 /dev/zero | tr '\\0' x; echo >&2 e",
  ], {
    timeoutMs: 30_000,
  });
  assert.equal(result.code, 0);
  assert.equal(result.stdout.length, 3_000_000);
  assert.equal(result.stderr, "e\n");
  assert.equal(result.timedOut, false);
});

Deno.test("a program past maxOutput is killed, and what came so far is returned", async () => {
  const result = await runProcess("yes", ["ship output"], {
    timeoutMs: 10_000,
    maxOutput: 100_000,
  });
  assert.equal(result.code, 137, "killed, not run to its timeout");
  assert.equal(result.timedOut, false);
  assert.ok(result.stdout.length > 100_000 && result.stdout.length < 10_000_000);
  assert.ok(result.stdout.startsWith("ship output\n"));
});
