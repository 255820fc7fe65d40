/**
 * A keyless ship's outbox on disk: what it hands over, in order, and what it does with a file
 * that holds no message.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Outbox, type OutboxEntry } from "../lib/relay/outbox.ts";
import { LocalMember } from "./helpers/local_member.ts";

function entry(id: string, queuedAt: string): OutboxEntry {
  return { id, recipient: "captain@ship-b", command: "true", timeoutMs: 60_000, queuedAt };
}

Deno.test("a file in the outbox that holds no message is set aside; the rest go on", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "ship-a" });
  const outbox = new Outbox(member.home);
  await outbox.put(entry("00000000000000a2", "2026-12-06T10:00:02Z"));
  await outbox.put(entry("00000000000000a1", "2026-12-06T10:00:01Z"));
  // A broken hand edit, and JSON that is no message: each once stopped every collection.
  await Deno.writeTextFile(join(outbox.dir, "0123456789abcdef.json"), "{not json\n");
  await Deno.writeTextFile(join(outbox.dir, "00000000000000ff.json"), '{"id": 7}\n');

  const pending = await outbox.pending();
  assert.deepEqual(pending.map((item) => item.id), ["00000000000000a1", "00000000000000a2"]);
  const aside = join(outbox.dir, "unreadable");
  assert.deepEqual(await outbox.unreadable(), [
    join(aside, "00000000000000ff.json"),
    join(aside, "0123456789abcdef.json"),
  ]);
  assert.equal(await Deno.readTextFile(join(aside, "0123456789abcdef.json")), "{not json\n");

  const shown = await member.cli(["inbox", "outbox"]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /0123456789abcdef\s+unreadable\s.*set aside in outbox\/unreadable/);
  assert.match(shown.stdout, /00000000000000a1\s+waiting/);
  const json = await member.cli(["inbox", "outbox", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const listed = JSON.parse(json.stdout);
  assert.equal(listed.pending.length, 2);
  assert.equal(listed.unreadable.length, 2);
});

Deno.test("refusing an entry that turned unreadable sets it aside instead of failing", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "ship-a" });
  const outbox = new Outbox(member.home);
  await Deno.mkdir(outbox.dir, { recursive: true });
  await Deno.writeTextFile(join(outbox.dir, "0123456789abcdef.json"), "[]\n");
  await outbox.refuse("0123456789abcdef", "no such member");
  assert.deepEqual(await outbox.refused(), []);
  assert.equal((await outbox.unreadable()).length, 1);
});
