/**
 * A keyless ship's send through its flagship (`relaySend`), against a stand-in for the flagship's
 * end of the channel: a socket at the ship's channel path that answers as the relay does. What a
 * sender says and does when the flagship's scheduler dies after the relay delivered, and what
 * `inbox send` says when no channel answers.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { TimeoutError } from "../lib/errors.ts";
import type { FinishedMessage, Message } from "../lib/inbox/message.ts";
import { SERVER_PROTOCOL_VERSION } from "../lib/inbox/server_protocol.ts";
import { InboxServer } from "../lib/inbox/server.ts";
import { shipChannelSocket } from "../lib/relay/channel_paths.ts";
import { Outbox } from "../lib/relay/outbox.ts";
import { relaySend } from "../lib/relay/ship_sender.ts";
import { LocalMember } from "./helpers/local_member.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const ID = "5e4d3c2b1a098765";
const RECIPIENT = "captain@ship-b-a1b2c3d4";

function stored(status: "unread"): Message;
function stored(status: "done"): FinishedMessage;
function stored(status: "unread" | "done"): Message {
  const base = {
    id: ID,
    createdAt: new Date().toISOString(),
    sender: "captain@ship-a-a1b2c3d4",
    recipient: RECIPIENT,
    command: "sleep 2; echo back",
    stderr: "",
    error: null,
    startedAt: null,
    finishedAt: null,
    timeoutSec: 60,
  };
  return status === "done"
    ? { ...base, status, exitCode: 0, result: "back\n" }
    : { ...base, status, exitCode: null, result: null };
}

/**
 * The flagship's end of the channel as it is until its scheduler is killed: it relays the
 * message, then dies while the sender waits for the end (its socket goes, its connections end).
 */
function relayThatDies(socket: string, relayed: string[]): Disposable {
  let dead = false;
  const die = () => {
    if (!dead) server[Symbol.dispose]();
    dead = true;
  };
  const server: InboxServer = InboxServer.listen(socket, {
    hello: () => Promise.reject(new Error("not asked")),
    relay: (args) => {
      relayed.push(args.id);
      return Promise.resolve(stored("unread"));
    },
    relayWait: () => {
      setTimeout(die, 50);
      return new Promise<never>(() => {});
    },
  });
  return { [Symbol.dispose]: die };
}

async function shipHome(prefix: string) {
  const home = await tempDir(prefix);
  await Deno.mkdir(dirname(shipChannelSocket(home.path)), { recursive: true });
  return home;
}

const request = (waitMs: number) => ({
  version: SERVER_PROTOCOL_VERSION,
  id: ID,
  sender: "captain@ship-a-a1b2c3d4",
  recipient: RECIPIENT,
  viaDestination: false,
  command: "sleep 2; echo back",
  timeoutMs: 60_000,
  waitMs,
});

Deno.test("a relayed wait whose flagship dies after delivery says the recipient has it, and hears the end once it is back", async () => {
  await using home = await shipHome("ohc-sender-");
  const socket = shipChannelSocket(home.path);
  const relayed: string[] = [];
  const told: string[] = [];
  let again: InboxServer | undefined;
  using _relay = relayThatDies(socket, relayed);
  try {
    const sending = relaySend(request(20_000), {
      home: home.path,
      onQueued: (reason) => {
        told.push(reason);
        // The flagship's scheduler is started again: its relay answers the wait.
        again ??= InboxServer.listen(socket, {
          relay: (args) => {
            relayed.push(args.id);
            return Promise.resolve(stored("unread"));
          },
          relayWait: (args) => {
            assert.equal(args.id, ID);
            return Promise.resolve(stored("done"));
          },
        });
      },
    });
    const ended = await sending;
    assert.equal(ended.status, "done");
    assert.equal(ended.result, "back\n");
    assert.deepEqual(relayed, [ID], "handed over once: the flagship had it");
    assert.equal(told.length, 1);
    assert.match(
      told[0],
      new RegExp(
        `^the channel to the flagship broke while waiting for ${ID}, which ${RECIPIENT} has`,
      ),
    );
    assert.doesNotMatch(told[0], /outbox/, "it never waited in the outbox");
    assert.deepEqual(await new Outbox(home.path).pending(), []);
  } finally {
    (again as InboxServer | undefined)?.[Symbol.dispose]();
  }
});

Deno.test("a relayed wait whose flagship does not come back ends at its time, saying the recipient has the message", async () => {
  await using home = await shipHome("ohc-sender-");
  const relayed: string[] = [];
  const told: string[] = [];
  using _relay = relayThatDies(shipChannelSocket(home.path), relayed);
  const began = Date.now();
  const error = await relaySend(request(2500), {
    home: home.path,
    onQueued: (reason) => told.push(reason),
  }).catch((error) => error);
  assert.ok(error instanceof TimeoutError, String(error));
  assert.ok(Date.now() - began < 10_000, "it ended near its time");
  assert.match(
    error.message,
    new RegExp(`^Gave up waiting for ${ID} \\(.*\\): ${RECIPIENT} has it$`),
  );
  assert.doesNotMatch(error.message, /outbox/);
  assert.equal(error.messageId, ID);
  assert.equal(error.status, "unread", "what it was when the flagship last said");
  assert.equal(error.exitCode, 124);
  assert.deepEqual(relayed, [ID]);
  assert.equal(told.length, 1);
  assert.doesNotMatch(told[0], /outbox/);
  assert.deepEqual(await new Outbox(home.path).pending(), []);
});

Deno.test("inbox send on a keyless ship whose channel is down says queued, not delivered, and exits 75", async () => {
  await using ship = await LocalMember.create({
    role: "captain",
    name: "ship-a-a1b2c3d4",
    keyless: true,
  });
  const sent = await ship.cli(["inbox", "send", RECIPIENT, "echo once"]);
  assert.equal(sent.code, 75, sent.stderr);
  const id = sent.stdout.trim();
  assert.match(id, /^[0-9a-f]{16}$/);
  assert.match(
    sent.stderr,
    new RegExp(`Queued ${id} for ${RECIPIENT} in this ship's outbox; not delivered yet`),
  );
  assert.doesNotMatch(sent.stderr, /Delivered/);
  const json = await ship.cli(["inbox", "send", RECIPIENT, "--note", "queued too", "--json"]);
  assert.equal(json.code, 75, json.stderr);
  const queued = JSON.parse(json.stdout);
  assert.equal(queued.status, "queued");
  assert.doesNotMatch(json.stderr, /Delivered/);
  const pending = await new Outbox(ship.home).pending();
  assert.deepEqual(pending.map((entry) => entry.id).sort(), [id, queued.id].sort());
});
