/**
 * Cancelling inbox messages, waiting for the next one, and errors as data: the edges that a
 * careless implementation gets wrong.
 */

import assert from "node:assert/strict";
import { AmbiguousNameError, NotFoundError, OhcommodoreError } from "../lib/errors.ts";
import { errorFromData, errorToData } from "../lib/error_data.ts";
import { Inbox } from "../lib/inbox/inbox.ts";
import { NoSchedulerError } from "../lib/inbox/no_scheduler_error.ts";
import { claimOldest } from "./helpers/temp_inbox.ts";
import { Scheduler } from "../lib/inbox/scheduler.ts";
import { eventually } from "./helpers/local_member.ts";
import { tempDir } from "./helpers/temp_dir.ts";

async function withInbox(
  work: (inbox: Inbox) => Promise<void>,
  options: { scheduler?: boolean; killGraceMs?: number } = {},
) {
  await using home = await tempDir("ohc-cancel-");
  const inbox = await Inbox.open({ home: home.path, identity: { role: "captain", name: "c" } });
  const scheduler = options.scheduler === false
    ? undefined
    : await Scheduler.start(inbox, { killGraceMs: options.killGraceMs });
  try {
    await work(inbox);
  } finally {
    scheduler?.stop();
    await scheduler?.finished;
  }
}

Deno.test("cancel stops a command that ignores TERM with KILL after the grace", async () => {
  await withInbox(async (inbox) => {
    const message = await inbox.deliver({
      recipient: inbox.address,
      command: "trap '' TERM; sleep 30; echo survived",
    });
    await eventually(async () => (await inbox.get(message.id)).status === "running" || undefined);
    const began = Date.now();
    const cancelled = await inbox.cancel(message.id);
    assert.equal(cancelled.outcome, "stopped");
    assert.equal(cancelled.message.status, "error");
    assert.equal(cancelled.message.error, "cancelled");
    assert.equal(cancelled.message.exitCode, 137);
    assert.equal(cancelled.message.result, "");
    assert.ok(Date.now() - began < 10_000, "stopped after the grace, not after the sleep");
  }, { killGraceMs: 300 });
});

Deno.test("cancel removes an unread message, refuses a pending one, leaves a finished one", async () => {
  await withInbox(async (inbox) => {
    const unread = await inbox.deliver({ recipient: inbox.address, command: "true" });
    assert.equal((await inbox.cancel(unread.id)).outcome, "removed");
    await assert.rejects(inbox.get(unread.id), NotFoundError);
    const taken = await inbox.deliver({ recipient: inbox.address, command: "true" });
    await inbox.markRead(taken.id);
    await assert.rejects(inbox.cancel(taken.id), /taken by hand/);
    assert.equal((await inbox.get(taken.id)).status, "pending");
    await inbox.markDone(taken.id);
    assert.equal((await inbox.cancel(taken.id)).outcome, "finished");
  }, { scheduler: false });
});

Deno.test("cancel signals nothing for a running row that no scheduler runs", async () => {
  await withInbox(async (inbox) => {
    const message = await inbox.deliver({ recipient: inbox.address, command: "sleep 5" });
    await claimOldest(inbox); // as a scheduler that then died would have
    await assert.rejects(inbox.cancel(message.id), NoSchedulerError);
    assert.equal((await inbox.get(message.id)).status, "running");
  }, { scheduler: false });
});

Deno.test("next returns the first message to arrive after the call, optionally from one sender", async () => {
  await withInbox(async (inbox) => {
    await inbox.deliver({ recipient: inbox.address, command: "echo before" });
    const waiting = inbox.next({ from: "captain@other", timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await inbox.deliver({ recipient: inbox.address, command: "echo mine", sender: "local@me" });
    await inbox.deliver({
      recipient: inbox.address,
      command: "echo theirs",
      sender: "captain@other",
    });
    assert.equal((await waiting).command, "echo theirs");
    // Without a scheduler it still arrives (looked for every half second).
  }, { scheduler: true });
  await withInbox(async (inbox) => {
    const waiting = inbox.next({ timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await inbox.deliver({ recipient: inbox.address, command: "echo later" });
    assert.equal((await waiting).command, "echo later");
  }, { scheduler: false });
});

Deno.test("errors from data keep their class and fields, never exit 0 and take no unsafe keys", () => {
  const back = errorFromData(
    JSON.parse(JSON.stringify(
      errorToData(new AmbiguousNameError("two match", { query: "w", matches: ["a", "b"] })),
    )),
  );
  assert.ok(back instanceof AmbiguousNameError);
  assert.deepEqual(back.matches, ["a", "b"]);
  assert.equal(back.exitCode, 2);
  const advised = new NotFoundError("gone", { query: "w", next: 'see "ohcommodore fleet status"' });
  const advisedBack = errorFromData(JSON.parse(JSON.stringify(errorToData(advised))));
  assert.equal(advisedBack.next, 'see "ohcommodore fleet status"', "the next step crosses too");
  assert.equal(advisedBack.message, "gone");
  const forged = errorFromData(JSON.parse(
    '{"name":"NotFoundError","message":"m","exitCode":0,"fields":{"__proto__":{"x":1},' +
      '"constructor":"c","toString":"t","query":"q"}}',
  ));
  assert.ok(forged instanceof NotFoundError);
  assert.equal(forged.exitCode, 1, "a failure never exits 0");
  assert.equal(String(forged), "NotFoundError: m", "toString is the class's own");
  assert.equal(forged.constructor, NotFoundError);
  assert.equal((forged as NotFoundError).query, "q");
  const unknown = errorFromData({ name: "SomethingElse", message: "x", exitCode: 300, fields: {} });
  assert.ok(unknown instanceof OhcommodoreError);
  assert.equal(unknown.name, "SomethingElse");
  assert.equal(unknown.exitCode, 1);
});
