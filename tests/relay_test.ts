/**
 * The flagship's relay, driven directly: what a keyless ship may make another member hold.
 */

import assert from "node:assert/strict";
import { DeliveryRefusedError } from "../lib/errors.ts";
import { withStore } from "../lib/inbox/inbox.ts";
import { DEFAULT_POLICY } from "../lib/relay/policy.ts";
import { Relay, SHIP_QUOTA } from "../lib/relay/relay.ts";
import { Ssh } from "../lib/ssh.ts";
import { channelHandlers } from "../lib/relay/ship_channel.ts";
import { InboxServer } from "../lib/inbox/server.ts";
import { ServerConnection } from "../lib/inbox/server_connection.ts";
import { join } from "node:path";
import { tempDir } from "./helpers/temp_dir.ts";
import { tempInbox } from "./helpers/temp_inbox.ts";

const FLAGSHIP = "flagship-q1a2";

function hexId(n: number): string {
  return n.toString(16).padStart(16, "0");
}

Deno.test("a ship may have so many messages and bytes waiting at a member, and no more", async () => {
  await using inbox = await tempInbox("ohc-relay-", { role: "commodore", name: FLAGSHIP });
  const logged: string[] = [];
  const relay = new Relay({
    home: inbox.home,
    flagship: FLAGSHIP,
    ssh: new Ssh(),
    shipOf: () => Promise.resolve(undefined),
    policy: () => Promise.resolve(DEFAULT_POLICY),
    log: (line) => logged.push(line),
  });
  const note = (ship: string, id: number, text = "progress") =>
    relay.relay(ship, {
      id: hexId(id),
      recipient: `commodore@${FLAGSHIP}`,
      command: text,
      kind: "note",
    });
  for (let n = 1; n <= SHIP_QUOTA.messages; n++) await note("ship-a", n);
  const over = await note("ship-a", 1000).catch((error) => error);
  assert.ok(over instanceof DeliveryRefusedError, String(over));
  assert.match(over.message, /captain@ship-a has 100 message\(s\) of 800 bytes waiting there/);
  assert.match(over.message, /at most 100 or 16\.0 MiB/);
  // Its repeat of a stored message is still that message, not a refusal.
  assert.equal((await note("ship-a", 1)).id, hexId(1));
  // Another ship has a quota of its own.
  assert.equal((await note("ship-b", 2000)).status, "note");
  // Room comes back as waiting messages are dealt with.
  await inbox.delete(hexId(1));
  assert.equal((await note("ship-a", 1001)).status, "note");

  // Bytes count too: a few large held commands fill a quota long before 100 messages do.
  const big = "x".repeat(1024 * 1024 - 100);
  const held = (id: number) =>
    relay.relay("ship-c", { id: hexId(id), recipient: `commodore@${FLAGSHIP}`, command: big });
  for (let n = 0; n < 16; n++) assert.equal((await held(3000 + n)).status, "held");
  await assert.rejects(held(3100), /captain@ship-c has 16 message\(s\) of 16\.0 MiB waiting/);
  const stored = await withStore(inbox, (store) => store.counts());
  assert.equal(stored.held, 16);
  assert.ok(logged.some((line) => /refused 0+c1c from captain@ship-c/.test(line)), logged.join());
});

Deno.test("a ship's channel answers hello, relay and relayWait, and nothing of the flagship's inbox", async () => {
  await using dir = await tempDir("ohc-channel-");
  const relay = new Relay({
    home: dir.path,
    flagship: FLAGSHIP,
    ssh: new Ssh(),
    shipOf: () => Promise.resolve(undefined),
    policy: () => Promise.resolve(DEFAULT_POLICY),
    log: () => {},
  });
  const handlers = channelHandlers("ship-a", relay, `commodore@${FLAGSHIP}`);
  assert.deepEqual(Object.keys(handlers).sort(), ["hello", "relay", "relayWait"]);
  const path = join(dir.path, "channel.sock");
  using _server = InboxServer.listen(path, handlers);
  const connection = await ServerConnection.connect(path, "the channel");
  assert.ok(connection);
  try {
    assert.equal((await connection.call("hello", {})).address, `commodore@${FLAGSHIP}`);
    for (const op of ["list", "get", "deliver", "query", "delete", "maxRunning"] as const) {
      await assert.rejects(
        connection.call(op, { id: "x", sql: "SELECT 1" } as never),
        new RegExp(`Unknown inbox operation "${op}"`),
      );
    }
  } finally {
    connection.close();
  }
});

Deno.test("a ship's channel carries 8 of its requests at once; a ninth is refused, another ship's is not", async () => {
  await using dir = await tempDir("ohc-channel-");
  // Every look-up of a ship waits until the test lets it go: the requests stay under way.
  let release = () => {};
  const gate = new Promise<undefined>((resolve) => release = () => resolve(undefined));
  const relay = new Relay({
    home: dir.path,
    flagship: FLAGSHIP,
    ssh: new Ssh(),
    shipOf: () => gate,
    policy: () => Promise.resolve(DEFAULT_POLICY),
    log: () => {},
  });
  const channelA = channelHandlers("ship-a", relay, `commodore@${FLAGSHIP}`);
  const channelB = channelHandlers("ship-b", relay, `commodore@${FLAGSHIP}`);
  const context = { emit: () => {}, signal: new AbortController().signal };
  const send = (handlers: typeof channelA, n: number) =>
    handlers.relay!({ id: hexId(n), recipient: "captain@ship-c", command: "true" }, context)
      .catch((error: Error) => error);
  const underWay = Array.from({ length: 8 }, (_, n) => send(channelA, n));
  const ninth = await send(channelA, 8);
  assert.ok(ninth instanceof DeliveryRefusedError, String(ninth));
  assert.match(ninth.message, /from ship-a: 8 of its requests are under way already/);
  const otherShip = send(channelB, 9);
  release();
  // Each ended as the relay judged it, not as the limit did.
  for (const ended of [...await Promise.all(underWay), await otherShip]) {
    assert.match(String(ended), /captain@ship-c is not a member of this fleet/);
  }
  // Room again once they ended.
  assert.match(String(await send(channelA, 10)), /is not a member of this fleet/);
});
