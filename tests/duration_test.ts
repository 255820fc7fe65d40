import assert from "node:assert/strict";
import {
  checkDurationMs,
  formatDuration,
  MAX_DURATION_MS,
  parseDuration,
} from "../lib/duration.ts";
import { UsageError } from "../lib/errors.ts";
import { MAX_TIMER_MS, setLongTimeout } from "../lib/timer.ts";

Deno.test("the longest duration is 7 days, which a timer holds with room for the wait margins", () => {
  assert.equal(MAX_DURATION_MS, 7 * 86_400_000);
  assert.ok(MAX_DURATION_MS + 3 * 60_000 < MAX_TIMER_MS);
});

Deno.test("parseDuration accepts 7 days and refuses anything longer, saying the maximum", () => {
  assert.equal(parseDuration("7d"), MAX_DURATION_MS);
  assert.equal(parseDuration("168h"), MAX_DURATION_MS);
  for (const long of ["25d", "7d1ms", "604801", "99999999999999d"]) {
    assert.throws(
      () => parseDuration(long),
      (error) =>
        error instanceof UsageError &&
        error.message === `Invalid duration "${long}": it must be at most 7d`,
    );
  }
});

Deno.test("formatDuration says days, so the maximum reads as it is typed", () => {
  assert.equal(formatDuration(MAX_DURATION_MS), "7d");
  assert.equal(formatDuration(86_400_000 + 3_600_000 + 5_000), "1d1h5s");
  assert.equal(formatDuration(5_400_000), "1h30m");
});

Deno.test("checkDurationMs refuses what is not a number above zero and up to the maximum", () => {
  assert.equal(checkDurationMs(90_000, "timeoutMs"), 90_000);
  assert.equal(checkDurationMs(MAX_DURATION_MS, "timeoutMs"), MAX_DURATION_MS);
  for (const bad of [0, -1, NaN, Infinity, 1e99, MAX_DURATION_MS + 1, "60000", null]) {
    assert.throws(
      () => checkDurationMs(bad, "timeoutMs"),
      (error) =>
        error instanceof UsageError &&
        error.message.startsWith(`Invalid timeoutMs "${String(bad)}": give milliseconds above 0`) &&
        error.message.endsWith("at most 604800000 (7d)"),
    );
  }
});

Deno.test("setLongTimeout waits past 2^31-1 ms instead of firing at once, and can be cancelled", async () => {
  let fired = false;
  const cancel = setLongTimeout(() => fired = true, MAX_TIMER_MS + 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  cancel();
  assert.equal(fired, false);
  const soon = await new Promise<boolean>((resolve) => setLongTimeout(() => resolve(true), 10));
  assert.equal(soon, true);
  let cancelled = false;
  setLongTimeout(() => cancelled = true, 10)();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(cancelled, false);
});
