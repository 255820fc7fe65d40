/**
 * Bad numbers and long durations at every edge of the inbox: the CLI (exit 2, the value quoted),
 * the library (a typed error), and a delivery's JSON from another member (never DuckDB's own
 * conversion error).
 */

import { tempInbox as tempInboxIn } from "./helpers/temp_inbox.ts";
import assert from "node:assert/strict";
import { DeliveryRefusedError, UsageError } from "../lib/errors.ts";
import { execOnShips } from "../lib/fleet/exec.ts";
import type { Inbox } from "../lib/inbox/inbox.ts";
import { receiveDelivery } from "../lib/inbox/exec_delivery.ts";
import { send } from "../lib/inbox/send.ts";
import { Ssh } from "../lib/ssh.ts";
import { LocalMember } from "./helpers/local_member.ts";

const DAY = 86_400_000;

/** An inbox in a home of its own (no scheduler runs); disposing it removes the home. */
function tempInbox(): Promise<Inbox & AsyncDisposable> {
  return tempInboxIn("ohc-input-", { role: "captain", name: "solo" });
}

/** Fails instead of hanging when a call that should refuse at once waits instead. */
function soon<T>(promise: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms}ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("inbox send, wait and next refuse a --timeout above 7 days with exit 2 and say the maximum", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  const cases = [
    ["inbox", "send", "captain@solo", "true", "--timeout", "25d"],
    ["inbox", "wait", "abc", "--timeout", "8d"],
    ["inbox", "next", "--timeout", "604801s"],
  ];
  for (const args of cases) {
    const run = await member.cli(args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, /^error: Invalid duration "[^"]+": it must be at most 7d\n$/);
  }
  assert.deepEqual(JSON.parse((await member.cli(["inbox", "list", "--json"])).stdout), []);
  for (const command of ["send", "wait", "next"]) {
    const help = await member.cli(["inbox", command, "--help"]);
    assert.match(help.stdout, /--timeout <duration>[^-]*at\s+most\s+7d/, command);
  }
});

Deno.test("send refuses a timeoutMs above 7 days or a waitMs above 7 days and a minute", async () => {
  await using inbox = await tempInbox();
  for (const options of [{ timeoutMs: 25 * DAY }, { timeoutMs: 7 * DAY, waitMs: 8 * DAY }]) {
    await assert.rejects(
      send(inbox.address, "true", { home: inbox.home, wait: true, ...options }),
      (error) => error instanceof UsageError && /at most \d+ \(7d/.test(error.message),
    );
  }
  assert.deepEqual(await inbox.list(), []);
});

Deno.test("deliver refuses a timeout above 7 days, whoever sent it", async () => {
  await using inbox = await tempInbox();
  await assert.rejects(
    inbox.deliver({ recipient: inbox.address, command: "true", timeoutMs: 25 * DAY }),
    (error) =>
      error instanceof DeliveryRefusedError &&
      error.message === `captain@solo refused a timeout of "2160000000" ms: give milliseconds ` +
          `above 0 and at most 604800000 (7d)`,
  );
  const longest = await inbox.deliver({
    recipient: inbox.address,
    command: "true",
    timeoutMs: 7 * DAY,
  });
  assert.equal(longest.timeoutSec, 7 * 86_400);
});

Deno.test("waitFor and next refuse a timeoutMs past the maximum instead of waiting", async () => {
  await using inbox = await tempInbox();
  const message = await inbox.deliver({ recipient: inbox.address, command: "true" });
  await assert.rejects(soon(inbox.waitFor(message.id, { timeoutMs: 2 ** 31 })), UsageError);
  await assert.rejects(soon(inbox.next({ timeoutMs: 2 ** 31 })), UsageError);
});

Deno.test("fleet exec refuses a timeoutMs above 7 days before sending to any ship", async () => {
  await assert.rejects(
    execOnShips([], "true", { timeoutMs: 25 * DAY }, { ssh: new Ssh() }),
    UsageError,
  );
});

Deno.test("inbox list --limit and inbox send --timeout refuse numbers DuckDB cannot take, with exit 2", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  for (const limit of ["99999999999999999999", "9007199254740993", "1.5", "0", "1e3", "ten"]) {
    const run = await member.cli(["inbox", "list", "--limit", limit]);
    assert.equal(run.code, 2, `--limit ${limit}: ${run.stderr}`);
    assert.equal(
      run.stderr,
      `error: Invalid count "${limit}": give a whole number from 1 to 9007199254740991\n`,
    );
  }
  const huge = await member.cli(["inbox", "send", "captain@solo", "true", "-t", "99999999999999d"]);
  assert.equal(huge.code, 2, huge.stderr);
  assert.match(huge.stderr, /^error: Invalid duration "99999999999999d": it must be at most 7d/);
  assert.equal((await member.cli(["inbox", "list", "--limit", "9007199254740991"])).code, 0);
});

Deno.test("Inbox.list refuses a limit that is not a whole number of at least 1, and unknown statuses", async () => {
  await using inbox = await tempInbox();
  await inbox.deliver({ recipient: inbox.address, command: "true" });
  for (const limit of [1e20, 1e99, NaN, -5, 0, 1.5, Infinity]) {
    await assert.rejects(
      inbox.list({ limit }),
      (error) =>
        error instanceof UsageError &&
        error.message.startsWith(`Invalid limit "${String(limit)}": give a whole number`),
    );
  }
  await assert.rejects(
    inbox.list({ status: "finished" as "done" }),
    /Invalid status "finished": use one of unread, pending/,
  );
  assert.equal((await inbox.list({ limit: Number.MAX_SAFE_INTEGER })).length, 1);
});

Deno.test("deliver refuses NaN, negative, huge and non-number timeouts and a non-string sender", async () => {
  await using inbox = await tempInbox();
  for (const timeoutMs of [1e99, NaN, -1, 0, Infinity, "60000"]) {
    await assert.rejects(
      inbox.deliver({
        recipient: inbox.address,
        command: "true",
        timeoutMs: timeoutMs as number,
      }),
      (error) =>
        error instanceof DeliveryRefusedError &&
        error.message.startsWith(`captain@solo refused a timeout of "${String(timeoutMs)}" ms`),
    );
  }
  await assert.rejects(
    inbox.deliver({ recipient: inbox.address, command: "true", sender: 5 as unknown as string }),
    /refused a sender that is not an address/,
  );
  assert.deepEqual(await inbox.list(), []);
});

Deno.test("a remote sender's JSON with bad numbers gets a typed refusal, never DuckDB's error", async () => {
  await using inbox = await tempInbox();
  const request = {
    version: 1,
    sender: "local@laptop",
    recipient: inbox.address,
    viaDestination: false,
    command: "true",
    timeoutMs: 60_000,
  };
  const cases: [Record<string, unknown>, string][] = [
    [{ timeoutMs: 1e99 }, "DeliveryRefusedError"],
    [{ timeoutMs: "soon" }, "DeliveryRefusedError"],
    [{ timeoutMs: null }, "DeliveryRefusedError"],
    [{ waitMs: 1e99 }, "UsageError"],
    [{ waitMs: -1 }, "UsageError"],
    [{ waitMs: "soon" }, "UsageError"],
  ];
  for (const [i, [change, name]] of cases.entries()) {
    const input = JSON.stringify({ ...request, id: `bad${i}`, ...change });
    const reply = await soon(receiveDelivery(input, { home: inbox.home }));
    assert.equal(reply.ok, false, input);
    if (reply.ok) continue;
    assert.equal(reply.error.name, name, `${input}: ${reply.error.message}`);
    assert.doesNotMatch(reply.error.message, /Conversion Error|INT64|INT32/);
  }
});

Deno.test("a delivery over exec keeps its quota: the relay's limit holds on that path too", async () => {
  await using inbox = await tempInbox();
  const note = (n: number) =>
    JSON.stringify({
      version: 1,
      id: `quota${n}`,
      sender: "captain@ship-a",
      recipient: inbox.address,
      viaDestination: false,
      command: "progress",
      kind: "note",
      timeoutMs: 60_000,
      quota: { messages: 2, bytes: 1024 },
    });
  const replies = [];
  for (const n of [1, 2, 3]) replies.push(await receiveDelivery(note(n), { home: inbox.home }));
  assert.deepEqual(replies.map((reply) => reply.ok), [true, true, false]);
  const refused = replies[2];
  assert.ok(!refused.ok && /captain@ship-a has 2 message\(s\)/.test(refused.error.message));
  assert.equal((await inbox.list()).length, 2);
});
