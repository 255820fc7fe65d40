/**
 * The library as a laptop script sees it, and `fleet exec`, on the local provider: calls travel
 * to the flagship (`fleet _call`) and come back as the same values, errors and progress.
 */

import assert from "node:assert/strict";
import {
  AmbiguousNameError,
  CommandFailedError,
  Fleet,
  type FleetProgress,
  NotFoundError,
  SshError,
  TimeoutError,
} from "../mod.ts";
import { LocalMember } from "./helpers/local_member.ts";

Deno.test("from the laptop: typed errors, progress, exec, handles and $ commands", async (t) => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  const init = await laptop.cli(["init", "--provider", "local", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  await using fleet = await Fleet.open({ home: laptop.home });
  assert.equal(fleet.onFlagship, false);
  const names: string[] = [];

  try {
    await t.step("createShips from the laptop reports the flagship's progress", async () => {
      const events: FleetProgress[] = [];
      const made = await fleet.createShips("deck", {
        count: 3,
        settings: {},
        onProgress: (event) => events.push(event),
      });
      names.push(...made.map((ship) => ship.name).sort());
      assert.equal(names.length, 3);
      for (const name of names) {
        const steps = events.filter((event) => event.vm === name).map((event) => event.step);
        assert.ok(steps.includes("init.sh") && steps.at(-1) === "ready", `${name}: ${steps}`);
      }
    });

    await t.step(
      "errors from the flagship come back as their own classes, with fields",
      async () => {
        const unknown = await fleet.ship("nosuch").catch((error) => error);
        assert.ok(unknown instanceof NotFoundError, String(unknown));
        assert.equal(unknown.query, "nosuch");
        const ambiguous = await fleet.ship("deck").catch((error) => error);
        assert.ok(ambiguous instanceof AmbiguousNameError, String(ambiguous));
        assert.deepEqual([...ambiguous.matches].sort(), names);
        const twice = await fleet.destroyShip("nosuch").catch((error) => error);
        assert.ok(twice instanceof NotFoundError);
      },
    );

    await t.step(
      "ships() gives handles from one call; exec gives one result per ship",
      async () => {
        const ships = await fleet.ships();
        assert.deepEqual(ships.map((ship) => ship.name).sort(), names);
        const odd = names[1];
        const results = await fleet.exec(
          `echo same; [ "$OHCOMMODORE_ADDRESS" = "captain@${odd}" ] && { echo odd >&2; exit 3; }; true`,
          { timeoutMs: 30_000 },
        );
        assert.equal(results.length, 3);
        assert.deepEqual(results.succeeded.map((r) => r.ship).sort(), [names[0], names[2]]);
        const [failed] = results.failed;
        assert.equal(failed.ship, odd);
        assert.equal(failed.status, "error");
        assert.equal(failed.exitCode, 3);
        assert.equal(failed.stderr, "odd\n");
        assert.throws(
          () => results.throwIfAnyFailed(),
          new RegExp(`1 of 3 ship\\(s\\) failed: ${odd}`),
        );
        const picked = await fleet.exec("true", { ships: [names[0]] });
        assert.deepEqual(picked.map((r) => r.ship), [names[0]]);
        await assert.rejects(fleet.exec("true", { ships: ["nosuch"] }), NotFoundError);
      },
    );

    await t.step("a sent command is a handle: status, wait, cancel", async () => {
      const ship = await fleet.ship(names[0]);
      const slow = await ship.send("sleep 30", { timeoutMs: 60_000 });
      const waiting = await ship.send("echo later");
      // The scheduler runs one at a time: the second is still unread while the first runs.
      const early = await ship.inbox.waitFor(slow.id, { timeoutMs: 300 }).catch((e) => e);
      assert.ok(early instanceof TimeoutError, String(early));
      assert.equal(early.messageId, slow.id);
      assert.equal(early.status, "running"); // as it is now, not as it was when the wait began
      assert.match(early.message, /after 300ms/);
      assert.equal((await waiting.cancel()).outcome, "removed");
      assert.equal((await ship.inbox.list()).some((m) => m.id === waiting.id), false);
      const stopped = await slow.cancel();
      assert.equal(stopped.outcome, "stopped");
      assert.equal(stopped.message.status, "error");
      assert.equal(stopped.message.error, "cancelled");
      const done = await (await ship.send("echo hi")).wait();
      assert.equal(done.exitCode, 0);
      assert.equal(done.result, "hi\n");
    });

    await t.step(
      "$ quotes each value as one argument; a failure throws with the message",
      async () => {
        const ship = await fleet.ship(names[2]);
        const tricky = `it's "$HOME" and \`x\``;
        assert.deepEqual(await ship.$`printf '%s\n' ${tricky} ${["a b", "c"]}`.lines(), [
          tricky,
          "a b",
          "c",
        ]);
        assert.deepEqual(await ship.$`echo '{"n": 1}'`.json(), { n: 1 });
        const failure = await ship.$`exit 4`.catch((error) => error);
        assert.ok(failure instanceof CommandFailedError, String(failure));
        assert.equal(failure.outcome.exitCode, 4);
        assert.equal((await ship.$`exit 4`.noThrow()).exitCode, 4);
      },
    );

    await t.step("a ship kept after its destroy is unreachable, not a crash", async () => {
      const kept = await fleet.ship(names[2]);
      await fleet.destroyShip(names[2]);
      const error = await kept.send("true").catch((error) => error);
      assert.ok(error instanceof SshError, String(error));
      assert.match(error.message, /no longer exists/);
      const [result] = await fleet.exec("true", { ships: (ship) => ship.name === names[0] });
      assert.equal(result.ok, true);
    });

    await t.step("inbox.next waits for the next message that arrives", async () => {
      const flagship = fleet.flagship;
      const ship = await fleet.ship(names[0]);
      const arriving = flagship.inbox.next({ timeoutMs: 30_000 });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const sent = await ship.$`ohcommodore inbox send commodore@${flagship.name} 'echo report'`
        .noThrow();
      assert.equal(sent.exitCode, 0, sent.stderr);
      const report = await arriving;
      assert.equal(report.command, "echo report");
      assert.equal(report.sender, `captain@${names[0]}`);
      await assert.rejects(flagship.inbox.next({ timeoutMs: 300 }), TimeoutError);
    });
  } finally {
    await fleet.sink({ scuttle: true });
  }
});

Deno.test("fleet exec: grouped output, exit 1 when a ship fails, --json, bad input", async () => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  assert.equal((await laptop.cli(["init", "--provider", "local"])).code, 0);
  try {
    const made = await laptop.cli(["ship", "create", "row", "--count", "3", "--json"]);
    assert.equal(made.code, 0, made.stderr);
    const names: string[] = JSON.parse(made.stdout).map((s: { name: string }) => s.name).sort();
    const odd = names[2];
    const script = `echo same; [ "$OHCOMMODORE_ADDRESS" != "captain@${odd}" ] || exit 5`;
    const run = await laptop.cli(["fleet", "exec", "--", script]);
    assert.equal(run.code, 1, run.stderr);
    // Ships that agree are shown once, under their names.
    assert.match(run.stdout, new RegExp(`^-+ ${names[0]},${names[1]} \\(2\\): ok\\nsame$`, "m"));
    assert.match(run.stdout, new RegExp(`^-+ ${odd} \\(1\\): error \\(exit 5\\)\\nsame$`, "m"));
    assert.match(run.stdout, /^2 of 3 ship\(s\) succeeded$/m);

    const json = await laptop.cli([
      "fleet",
      "exec",
      "--json",
      "--ships",
      names[0],
      "--",
      "echo",
      "a b",
    ]);
    assert.equal(json.code, 0, json.stderr);
    const [only] = JSON.parse(json.stdout);
    assert.equal(only.ship, names[0]);
    assert.equal(only.stdout, "a b\n");
    assert.equal(only.ok, true);

    const unknown = await laptop.cli([
      "fleet",
      "exec",
      "--json",
      "--ships",
      "nosuch",
      "--",
      "true",
    ]);
    assert.equal(unknown.code, 1);
    assert.equal(JSON.parse(unknown.stdout).error.name, "NotFoundError");
    assert.equal(unknown.stderr.match(/error:/g)?.length, 1, unknown.stderr);
    // A --json after "--" is the remote command's, not ours: the error stays one stderr line.
    const theirs = await laptop.cli(["fleet", "exec", "--ships", "nosuch", "--", "tool", "--json"]);
    assert.equal(theirs.code, 1);
    assert.equal(theirs.stdout, "");
    const none = await laptop.cli(["fleet", "exec", "--ships", ",", "--", "true"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--ships "," names no ship/);
    const bad = await laptop.cli(["fleet", "exec", "--concurrency", "0", "--", "true"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid --concurrency "0": give a whole number from 1 to 1000/);
    // A name that looks like an option travels as data and is refused as a name.
    const dashed = await laptop.cli(["ship", "destroy", "--", "-rf"]);
    assert.equal(dashed.code, 1);
    assert.match(dashed.stderr, /No ship matches "-rf"/);
  } finally {
    await laptop.cli(["fleet", "sink", "--scuttle", "--force"]);
  }
});
