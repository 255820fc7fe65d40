/**
 * Usage limits and what attempts cost, without a fleet: every attempt's cost and tokens added
 * up, and a limit's reset told in the reader's local time, never as Claude Code's raw epoch.
 */

import assert from "node:assert/strict";
import { addAttempts } from "../lib/agent/task_outcome.ts";
import {
  costText,
  localTime,
  readableResult,
  resetText,
  statusText,
} from "../lib/cli/limit_text.ts";

Deno.test("a task's attempts add up: every run's cost and tokens, not the last one's", () => {
  const limited = {
    is_error: true,
    total_cost_usd: 0.001,
    usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 7 },
  };
  const resumed = {
    total_cost_usd: 0.0125,
    usage: {
      input_tokens: 100,
      output_tokens: 20,
      cache_creation_input_tokens: 3,
      cache_read_input_tokens: 5,
    },
  };
  assert.deepEqual(addAttempts([limited, resumed]), {
    costUsd: 0.0135,
    usage: {
      inputTokens: 200,
      outputTokens: 40,
      cacheCreationInputTokens: 3,
      cacheReadInputTokens: 12,
    },
  });
  assert.deepEqual(addAttempts([]), { costUsd: null, usage: null });
  assert.deepEqual(
    addAttempts([null, { total_cost_usd: 0.5 }]),
    { costUsd: 0.5, usage: null },
    "a run that printed no result adds nothing",
  );
  assert.deepEqual(
    addAttempts([{ total_cost_usd: "lots", usage: { input_tokens: -5, output_tokens: 2 } }]),
    {
      costUsd: null,
      usage: {
        inputTokens: 0,
        outputTokens: 2,
        cacheCreationInputTokens: 0,
        cacheReadInputTokens: 0,
      },
    },
  );
});

Deno.test("a limit's reset reads in local time, with how long until then", () => {
  const now = new Date(2026, 2, 5, 10, 0, 0).getTime(); // 5 March 2026, 10:00 local
  const at = (hours: number, minutes = 0) => new Date(2026, 2, 5, hours, minutes).toISOString();
  assert.equal(localTime(Date.parse(at(14, 5)), now), "14:05");
  assert.equal(localTime(new Date(2026, 2, 6, 9, 30).getTime(), now), "2026-03-06 09:30");
  assert.equal(resetText(at(13, 20), now), "resets 13:20 (in 3h20m)");
  assert.equal(resetText(new Date(now + 2400).toISOString(), now), "resets 10:00 (in 2s)");
  assert.equal(resetText(at(9, 15), now), "reset at 09:15");
  assert.equal(resetText("soon", now), "");
  assert.equal(
    statusText({ status: "rate_limited", resetAt: at(11) }, now),
    "rate_limited, resets 11:00 (in 1h)",
  );
  assert.equal(statusText({ status: "done", resetAt: null }, now), "done");
  const epoch = Math.floor(Date.parse(at(12, 30)) / 1000);
  assert.equal(
    readableResult(`Claude AI usage limit reached|${epoch}`, now),
    "Claude AI usage limit reached; resets 12:30 (in 2h30m)",
  );
  assert.equal(readableResult("All done|1796598422", now), "All done|1796598422");
});

Deno.test("a task's cost says how many attempts it took, when more than one", () => {
  assert.equal(costText({ costUsd: 0.0135, attempts: 2 }), "$0.0135 (2 attempts)");
  assert.equal(costText({ costUsd: 0.0125, attempts: 1 }), "$0.0125");
  assert.equal(costText({ costUsd: 0.0125 }), "$0.0125", "an outcome from an older ship");
  assert.equal(costText({ costUsd: null, attempts: 0 }), "-");
});
