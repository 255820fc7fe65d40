import assert from "node:assert/strict";
import { claimOldest, tempInbox as tempInboxIn } from "./helpers/temp_inbox.ts";
import { DeliveryRefusedError, NotFoundError } from "../lib/errors.ts";
import { type Inbox, withStore } from "../lib/inbox/inbox.ts";
import { LIST_CLIP_CHARS } from "../lib/inbox/message_listing.ts";

/** An inbox in a home of its own; disposing it removes the home. */
function tempInbox(): Promise<Inbox & AsyncDisposable> {
  return tempInboxIn("ohc-inbox-", { role: "captain", name: "ship-a" });
}

const AWKWARD =
  `echo 'single' "double" $HOME \`date\`; x=1 && echo "$x"\nprintf '%s\\n' "ünïcödé ⚓ 🚢"`;

Deno.test("deliver stores awkward and 100 KB commands byte-identical", async () => {
  await using inbox = await tempInbox();
  const big = "echo " + "x".repeat(100 * 1024);
  for (const command of [AWKWARD, big]) {
    const stored = await inbox.deliver({ recipient: "captain@ship-a", command, sender: "local@l" });
    assert.equal((await inbox.get(stored.id)).command, command);
    assert.equal(stored.status, "unread");
    assert.equal(stored.recipient, "captain@ship-a");
  }
});

Deno.test("delivering the same id twice stores one message; another command under it is refused", async () => {
  await using inbox = await tempInbox();
  const delivery = {
    id: "00aa11bb22cc33dd",
    recipient: "captain@ship-a",
    command: "true",
    sender: "local@l",
  };
  await inbox.deliver(delivery);
  await inbox.deliver(delivery);
  assert.equal((await inbox.list()).length, 1);
  await assert.rejects(inbox.deliver({ ...delivery, command: "false" }), DeliveryRefusedError);
});

Deno.test("deliver refuses messages for another member and empty commands", async () => {
  await using inbox = await tempInbox();
  await assert.rejects(
    inbox.deliver({ recipient: "commodore@ship-a", command: "true" }),
    /captain@ship-a refused a message for "commodore@ship-a"/,
  );
  await assert.rejects(
    inbox.deliver({ recipient: "captain@ship-b", command: "true" }),
    DeliveryRefusedError,
  );
  await assert.rejects(
    inbox.deliver({ recipient: "captain@ship-a", command: "  \n" }),
    /empty command/,
  );
  // Reached through an SSH alias, only the role must match.
  const viaAlias = await inbox.deliver({
    recipient: "captain@alias",
    command: "true",
    viaDestination: true,
  });
  assert.equal(viaAlias.recipient, "captain@ship-a");
  assert.equal((await inbox.list()).length, 1);
});

Deno.test("get finds messages by unique prefix and explains unknown or ambiguous ids", async () => {
  await using inbox = await tempInbox();
  await inbox.deliver({ id: "abc1000000000000", recipient: "captain@ship-a", command: "true" });
  await inbox.deliver({ id: "abc2000000000000", recipient: "captain@ship-a", command: "true" });
  assert.equal((await inbox.get("abc1")).id, "abc1000000000000");
  await assert.rejects(inbox.get("abc"), /ambiguous/);
  await assert.rejects(inbox.get("ffff"), NotFoundError);
  await assert.rejects(inbox.get("no such id!"), /Invalid message id/);
});

Deno.test("claiming hands out the oldest unread message exactly once", async () => {
  await using inbox = await tempInbox();
  const first = await inbox.deliver({ recipient: "captain@ship-a", command: "echo 1" });
  const second = await inbox.deliver({ recipient: "captain@ship-a", command: "echo 2" });
  assert.equal((await claimOldest(inbox))?.id, first.id);
  assert.equal((await claimOldest(inbox))?.id, second.id);
  assert.equal(await claimOldest(inbox), undefined);
  const running = await inbox.list({ status: "running" });
  assert.deepEqual(running.map((m) => m.id).sort(), [first.id, second.id].sort());
});

Deno.test("read, done, error and delete move a message through its life", async () => {
  await using inbox = await tempInbox();
  const { id } = await inbox.deliver({ recipient: "captain@ship-a", command: "make" });
  assert.equal((await inbox.markRead(id)).status, "pending");
  assert.equal(
    await claimOldest(inbox),
    undefined,
    "the scheduler skips pending messages",
  );
  assert.equal((await inbox.markDone(id)).status, "done");
  const failed = await inbox.markError(id, "tests failed");
  assert.equal(failed.status, "error");
  assert.equal(failed.error, "tests failed");
  assert.equal((await inbox.delete(id)).id, id);
  await assert.rejects(inbox.get(id), NotFoundError);
});

Deno.test("a starting scheduler marks running messages as errors and leaves unread ones", async () => {
  await using inbox = await tempInbox();
  const running = await inbox.deliver({ recipient: "captain@ship-a", command: "sleep 100" });
  await claimOldest(inbox);
  const waiting = await inbox.deliver({ recipient: "captain@ship-a", command: "true" });
  const start = await withStore(inbox, (store) => store.startScheduling());
  assert.deepEqual(start.recovered.map((m) => m.id), [running.id]);
  assert.equal(start.counts.error, 1);
  assert.equal(start.counts.unread, 1);
  const after = await inbox.get(running.id);
  assert.equal(after.status, "error");
  // Claimed, never started (no process group recorded): it does not say it was running.
  assert.equal(
    after.error,
    "scheduler stopped after claiming it, before its command was seen to start (it may not have run)",
  );
  assert.equal((await inbox.get(waiting.id)).status, "unread");
});

Deno.test("the database keeps the original tool's config keys", async () => {
  await using inbox = await tempInbox();
  assert.equal((await withStore(inbox, (store) => store.startScheduling())).maxRunning, 1);
  const { DuckDBInstance } = await import("../lib/duckdb.ts");
  const instance = await DuckDBInstance.create(inbox.database);
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll("SELECT key, value FROM config ORDER BY key");
  connection.closeSync();
  instance.closeSync();
  assert.deepEqual(reader.getRows(), [["IDENTITY", "captain@ship-a"], ["POLL_INTERVAL_SEC", "10"]]);
});

Deno.test("one store lists right after its inbox was empty (DuckDB reruns no stale statement)", async () => {
  await using inbox = await tempInbox();
  await withStore(inbox, async (store) => {
    assert.deepEqual(await store.list(), []);
    await store.insertMany([
      {
        id: "a1b2c3d4e5f60718",
        command: "make test",
        sender: null,
        timeoutSec: 60,
        status: "unread",
      },
    ]);
    const [listed] = await store.list();
    assert.equal(listed?.id, "a1b2c3d4e5f60718");
    assert.equal(listed?.command, "make test");
    assert.equal(listed?.timeoutSec, 60);
    assert.equal((await store.counts()).unread, 1);
  });
});

Deno.test("a note is stored, never unread; a held command waits for approve", async () => {
  await using inbox = await tempInbox();
  const note = await inbox.deliver({
    recipient: "captain@ship-a",
    command: "tests pass",
    kind: "note",
  });
  const held = await inbox.deliver({ recipient: "captain@ship-a", command: "deploy", hold: true });
  assert.equal(note.status, "note");
  assert.equal(held.status, "held");
  assert.equal(await claimOldest(inbox), undefined, "neither is claimed to run");
  await assert.rejects(inbox.waitFor(note.id), /is a note: notes are stored and shown, never run/);
  await assert.rejects(inbox.approve(note.id), /is note, not held/);
  assert.equal((await inbox.approve(held.id)).status, "unread");
  assert.equal((await claimOldest(inbox))?.id, held.id);
  await assert.rejects(
    inbox.deliver({ recipient: "captain@ship-a", command: "x", kind: "memo" as never }),
    /a message of kind "memo"/,
  );
  await assert.rejects(
    inbox.deliver({ recipient: "captain@ship-a", command: " ", kind: "note" }),
    /an empty note/,
  );
});

Deno.test("a listing can keep only the commands that start with a prefix", async () => {
  await using inbox = await tempInbox();
  await inbox.deliver({ recipient: "captain@ship-a", command: "# mark\nmake test" });
  await inbox.deliver({ recipient: "captain@ship-a", command: "make lint" });
  await inbox.deliver({ recipient: "captain@ship-a", command: "# marked too, not the line" });
  const marked = await inbox.list({ commandPrefix: "# mark\n" });
  assert.deepEqual(marked.map((message) => message.command), ["# mark\nmake test"]);
  assert.equal((await inbox.list({ commandPrefix: "# mark\n", status: "done" })).length, 0);
  await assert.rejects(inbox.list({ commandPrefix: "x".repeat(1001) }), /at most 1000 characters/);
});

Deno.test("a listing clips big commands and outputs; get and full give them whole", async () => {
  await using inbox = await tempInbox();
  const command = "echo " + "é".repeat(LIST_CLIP_CHARS * 2);
  const sent = await inbox.deliver({ recipient: "captain@ship-a", command });
  await withStore(inbox, async (store) => {
    const claimed = await store.claim(sent);
    await store.finish(claimed!, {
      status: "done",
      exitCode: 0,
      stdout: "a".repeat(LIST_CLIP_CHARS) + "the end\n",
      stderr: "short",
      error: null,
    });
  });
  const [listed] = await inbox.list();
  assert.equal(listed.command.length, LIST_CLIP_CHARS);
  assert.ok(listed.command.startsWith("echo é") && listed.command.endsWith("é…"));
  assert.equal(listed.result!.length, LIST_CLIP_CHARS);
  assert.ok(listed.result!.startsWith("…a") && listed.result!.endsWith("the end\n"));
  assert.equal(listed.stderr, "short");
  const [whole] = await inbox.list({ full: true });
  assert.equal(whole.command, command);
  assert.equal((await inbox.get(sent.id)).command, command);
});
