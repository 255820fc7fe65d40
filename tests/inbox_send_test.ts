import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Inbox } from "../lib/inbox/inbox.ts";
import { DeliveryInterruptedError, send } from "../lib/inbox/send.ts";
import { eventually, LocalMember } from "./helpers/local_member.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

/**
 * A recipient in a sandbox whose program stands in for a sender's ssh killed mid-delivery: for
 * `_deliver` it hands the request to the real program in the background and then dies with
 * SIGKILL (exit 137) without an answer — at once without delivering ("drop"), once the delivery
 * has finished ("after"), or once the command has touched ~/cut ("cut").
 */
async function cutOffRecipient(mode: "drop" | "after" | "cut") {
  const recipient = await LocalMember.create({ role: "captain", name: "far" });
  const sender = await LocalMember.create({ role: "captain", name: "near" });
  const bin = join(recipient.home, ".local/bin");
  await Deno.mkdir(bin, { recursive: true });
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  await Deno.writeTextFile(
    join(bin, "ohcommodore"),
    `#!/bin/sh
export DENO_DIR='${denoDir}' NO_COLOR=1
real() { '${Deno.execPath()}' run -A --quiet '${CLI}' "$@"; }
if [ "$2" = _deliver ]; then
  [ ${mode} = drop ] && kill -KILL $$
  input="$HOME/delivery.json"; cat >"$input"  # in the member's home: it goes with the test
  (real "$@") <"$input" >/dev/null 2>&1 &
  if [ ${mode} = after ]; then wait $!; else
    i=0; while [ ! -e "$HOME/cut" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
  fi
  kill -KILL $$
fi
real "$@"
`,
    { mode: 0o755 },
  );
  // No scheduler yet: the first delivery goes over exec (a running one would be reached on its
  // socket instead), and the recipient's program starts one.
  const to = (command: string, wait: boolean, id: string) =>
    send(recipient.address, command, {
      wait,
      id,
      home: sender.home,
      route: () => Promise.resolve({ destination: recipient.home, viaDestination: false }),
    });
  return {
    recipient,
    to,
    inbox: await Inbox.open({ home: recipient.home }),
    async [Symbol.asyncDispose]() {
      await recipient[Symbol.asyncDispose]();
      await sender[Symbol.asyncDispose]();
    },
  };
}

Deno.test("a --wait whose answer is lost after the command finished returns the outcome from the recipient", async () => {
  await using world = await cutOffRecipient("after");
  const message = await world.to("echo ran once >> ~/ran.log; echo out", true, "aaaa000000000001");
  assert.equal(message.id, "aaaa000000000001");
  assert.equal(message.status, "done");
  assert.equal(message.result, "out\n");
  const ran = await Deno.readTextFile(join(world.recipient.home, "ran.log"));
  assert.equal(ran, "ran once\n", "looked up, never run again");
});

/** The DeliveryInterruptedError a send fails with (any other outcome fails the test). */
async function interrupted(sending: Promise<unknown>): Promise<DeliveryInterruptedError> {
  const error = await sending.then(() => assert.fail("no error"), (error) => error);
  assert.ok(error instanceof DeliveryInterruptedError, String(error));
  return error;
}

Deno.test("a --wait whose answer is lost while the command runs says it was delivered and how to wait", async () => {
  await using world = await cutOffRecipient("cut");
  const error = await interrupted(
    world.to('touch "$HOME/cut"; sleep 30', true, "aaaa000000000002"),
  );
  assert.equal(error.messageId, "aaaa000000000002");
  assert.equal(error.status, "running");
  assert.equal(error.found?.id, "aaaa000000000002");
  assert.match(error.message, /exit code 137: killed by signal 9/);
  assert.doesNotMatch(error.message, /Cannot deliver/);
  assert.match(error.message, /was delivered and is running: do not send it again/);
  assert.equal(error.next, 'wait for it there with "ohcommodore inbox wait aaaa000000000002"');
  assert.equal((await world.inbox.list()).length, 1);
  await world.inbox.cancel("aaaa000000000002");
});

Deno.test("a delivery cut off before it was stored says it was not delivered", async () => {
  await using world = await cutOffRecipient("drop");
  const error = await interrupted(world.to("echo never", false, "aaaa000000000003"));
  assert.equal(error.status, "not delivered");
  assert.equal(error.found, null);
  assert.match(error.message, /message "aaaa000000000003" is not in that inbox, so it was not/);
  assert.deepEqual(await world.inbox.list(), []);
});

Deno.test("a delivery without --wait whose answer is lost returns the stored message", async () => {
  await using world = await cutOffRecipient("after");
  const message = await world.to("echo stored", false, "aaaa000000000004");
  assert.equal(message.id, "aaaa000000000004");
  await eventually(
    async () => (await world.inbox.get(message.id)).status === "done" || undefined,
    20_000,
    "the message to run",
  );
});
