/**
 * Keyless ships end to end, against the fixture lobby over real SSH: ships hold no key, reach
 * nothing but their own inbox and the flagship's channel, and still send by name; the flagship
 * stamps the sender, applies its policy, and reopens channels that drop.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { keyIdentity } from "../lib/providers/provider.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";

const ignore = sshWorldUnavailable() !== undefined;
const SKIP_STEPS = "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell";
const GH_TOKEN = "ghp_keylessSecretTokenValue456";
const env = { SKIP_STEPS, GH_TOKEN };

interface Row {
  id: string;
  status: string;
  sender: string | null;
  command: string;
  result: string | null;
}

/** A fleet of a flagship and `count` keyless ships, and ways to act as each member. */
async function keylessFleet(world: FleetWorld, count: number) {
  const init = await world.cli(["init"], { env });
  assert.equal(init.code, 0, init.stderr);
  const flagship = world.lobbyVms()[0].name;
  const made = await world.cli(["ship", "create", "web", "--count", String(count)], { env });
  assert.equal(made.code, 0, made.stderr);
  const ships = made.stdout.trim().split("\n").sort();
  const as = (vm: string, args: string[], stdin?: string) =>
    world.execAs(world.vmUser(vm), [join(world.vmHome(vm), ".local/bin/ohcommodore"), ...args], {
      stdin,
    });
  const inbox = async (vm: string): Promise<Row[]> => {
    const listed = await as(vm, ["inbox", "list", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    return JSON.parse(listed.stdout);
  };
  const channelState = async (ship: string) => {
    const status = await world.cli(["fleet", "status", "--json"], { env });
    const found = JSON.parse(status.stdout).ships.find((s: { name: string }) => s.name === ship);
    return found?.channel as string | null;
  };
  return { flagship, ships, as, inbox, channelState };
}

Deno.test({
  name: "keyless ships: no keys, messages by name through the flagship, policy, channels reopen",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const laptopKey = keyIdentity(world.lobbyKeys()[0]);
    const { flagship, ships, as, inbox, channelState } = await keylessFleet(world, 2);
    const [a, b] = ships;
    const flagshipLog = join(world.vmHome(flagship), ".local/ship/scheduler.log");
    // The flagship's ssh connections that carry a ship's channel.
    const channelMasters = async (ship: string) => {
      const pattern = `-M -N -S \\S+ -o ControlPersist=no -- \\S+@${ship}\\.exe\\.xyz$`;
      const found = await run(["pgrep", "-u", world.vmUser(flagship), "-f", "--", pattern], true);
      return found.stdout.trim().split("\n").filter(Boolean).length;
    };

    await t.step("the account's keys are the laptop's and the flagship's only", async () => {
      const flagshipKey = keyIdentity(
        await Deno.readTextFile(join(world.vmHome(flagship), ".ssh/id_ed25519.pub")),
      );
      assert.deepEqual(world.lobbyKeys().map(keyIdentity).sort(), [laptopKey, flagshipKey].sort());
      for (const ship of ships) {
        await assert.rejects(Deno.stat(join(world.vmHome(ship), ".ssh/id_ed25519")));
        const identity = JSON.parse(
          await Deno.readTextFile(join(world.vmHome(ship), ".ohcommodore/identity.json")),
        );
        assert.equal(identity.keyless, true);
      }
      const status = JSON.parse((await world.cli(["fleet", "status", "--json"], { env })).stdout);
      for (const ship of status.ships) {
        assert.equal(ship.trusted, false);
        assert.equal(ship.keyRegistered, null);
      }
      const table = await world.cli(["fleet", "status"], { env });
      assert.match(table.stdout, new RegExp(`${a}.*keyless, channel`));
    });

    await t.step("from a ship, the lobby, the flagship and the other ship refuse ssh", async () => {
      const ssh = (destination: string, command: string) =>
        world.execAs(world.vmUser(a), [
          "ssh",
          "-o",
          "BatchMode=yes",
          "-o",
          "ConnectTimeout=10",
          destination,
          command,
        ]);
      const config = JSON.parse(
        await Deno.readTextFile(join(world.laptop.home, ".ohcommodore/config.json")),
      );
      const status = JSON.parse((await world.cli(["fleet", "status", "--json"], { env })).stdout);
      const other = status.ships.find((ship: { name: string }) => ship.name === b).destination;
      for (const [destination, command] of [["exe.dev", "ls"], [config.flagship, "true"]]) {
        const result = await ssh(destination, command);
        assert.equal(result.code, 255, `${destination}: ${result.stdout}`);
        assert.match(result.stderr, /Permission denied/);
      }
      const toShip = await ssh(other, "cut -c1-12 ~/.ohcommodore/.env");
      assert.equal(toShip.code, 255);
      assert.match(toShip.stderr, /Permission denied/);
      assert.ok(!toShip.stdout.includes("GH_TOKEN"));
    });

    await t.step(
      "ship ssh lends a ship the agent only with --forward-agent, and warns",
      async () => {
        // The laptop's agent holds the account's key, as a person's would.
        const socket = join(world.laptop.home, "agent.sock");
        const agent = world.spawnAs(world.laptop.user, ["ssh-agent", "-D", "-a", socket]);
        // A person's ssh_config may forward agents everywhere; ship ssh must still not.
        const sshConfig = join(world.laptop.home, ".ssh/config");
        const config = await Deno.readTextFile(sshConfig);
        await Deno.writeTextFile(sshConfig, `ForwardAgent yes\n${config}`);
        try {
          const agentEnv = { ...env, SSH_AUTH_SOCK: socket };
          await eventually(
            () => Deno.stat(socket).then(() => true, () => undefined),
            10_000,
            "agent",
          );
          const added = await world.execAs(world.laptop.user, ["ssh-add", ".ssh/id_ed25519"], {
            env: agentEnv,
          });
          assert.equal(added.code, 0, added.stderr);
          // What code on the ship could do with a lent agent: reach the lobby.
          const probe =
            "ssh -o BatchMode=yes -o ConnectTimeout=10 exe.dev whoami >/dev/null 2>&1;" +
            ' echo "lobby:$?"; exit 0\n';
          const plain = await world.cli(["ship", "ssh", a], { env: agentEnv, stdin: probe });
          assert.equal(plain.code, 0, plain.stderr);
          assert.equal(plain.stdout, "lobby:255\n", "no agent, so no way into the lobby");
          assert.ok(!/warning/.test(plain.stderr), plain.stderr);
          const lent = await world.cli(["ship", "ssh", a, "--forward-agent"], {
            env: agentEnv,
            stdin: probe,
          });
          assert.equal(lent.code, 0, lent.stderr);
          assert.equal(lent.stdout, "lobby:0\n", "the test shows what a lent agent hands over");
          assert.match(lent.stderr, /warning: forwarding your SSH agent to ship-.*every key/);
        } finally {
          await Deno.writeTextFile(sshConfig, config);
          agent.kill("SIGTERM");
          await agent.output();
        }
      },
    );

    await t.step("a ship's channel opens with a forward", async () => {
      await eventually(
        async () => await channelState(a) === "forward" ? true : undefined,
        30_000,
        "the channel to open",
      );
    });

    await t.step("ship -> ship: runs there, with the sending ship as its sender", async () => {
      const sent = await as(a, [
        "inbox",
        "send",
        `captain@${b}`,
        'echo "$OHCOMMODORE_SENDER in $(basename "$PWD")"',
        "--wait",
      ]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(sent.stdout, `captain@${a} in ${b}\n`);
      const [row] = await inbox(b);
      assert.equal(row.sender, `captain@${a}`);
    });

    await t.step(
      "ship -> trusted ship: held there, as on the flagship (it holds a key)",
      async () => {
        const made = await world.cli(["ship", "create", "keyed", "--trusted"], { env });
        assert.equal(made.code, 0, made.stderr);
        const trusted = made.stdout.trim();
        await eventually(
          async () => await channelState(a) === "forward" ? true : undefined,
          30_000,
          "the channel to be open",
        );
        const sent = await as(a, ["inbox", "send", `captain@${trusted}`, "cat ~/.ssh/id_ed25519"]);
        assert.equal(sent.code, 0, sent.stderr);
        assert.match(sent.stderr, /held until a person there runs/);
        const [row] = await inbox(trusted);
        assert.equal(row.status, "held");
        assert.equal(row.result, null, "nothing ran");
        assert.equal((await world.cli(["ship", "destroy", trusted], { env })).code, 0);
      },
    );

    await t.step("ship -> flagship: a command is held until approved", async () => {
      const sent = await as(a, ["inbox", "send", `commodore@${flagship}`, "whoami"]);
      assert.equal(sent.code, 0, sent.stderr);
      const id = sent.stdout.trim();
      assert.match(sent.stderr, /held until a person there runs "ohcommodore inbox approve/);
      const held = (await inbox(flagship)).find((row) => row.id === id);
      assert.equal(held?.status, "held");
      assert.equal(held?.sender, `captain@${a}`);
      // Held means not run: still held a moment later.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await inbox(flagship)).find((row) => row.id === id)?.status, "held");
      const approved = await as(flagship, ["inbox", "approve", id]);
      assert.equal(approved.code, 0, approved.stderr);
      const waited = await as(flagship, ["inbox", "wait", id]);
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(waited.stdout.trim(), world.vmUser(flagship));
      const again = await as(flagship, ["inbox", "approve", id]);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /is done, not held/);
    });

    await t.step("ship -> flagship: a note is stored, never run", async () => {
      const sent = await as(a, ["inbox", "send", "--note", `commodore@${flagship}`, "touch ~/ran"]);
      assert.equal(sent.code, 0, sent.stderr);
      const note = (await inbox(flagship)).find((row) => row.id === sent.stdout.trim());
      assert.equal(note?.status, "note");
      assert.equal(note?.sender, `captain@${a}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await assert.rejects(Deno.stat(join(world.vmHome(flagship), "ran")));
      const wait = await as(a, ["inbox", "send", "--note", `commodore@${flagship}`, "x", "--wait"]);
      assert.equal(wait.code, 2);
      assert.match(wait.stderr, /A note is never run/);
    });

    await t.step("ship -> flagship: a fleet command is refused, with the rule", async () => {
      const sent = await as(a, [
        "inbox",
        "send",
        `commodore@${flagship}`,
        `ohcommodore ship destroy ${b}`,
      ]);
      assert.equal(sent.code, 1);
      assert.match(sent.stderr, /fleet commands .* are never accepted from a ship/);
      const outbox = JSON.parse((await as(a, ["inbox", "outbox", "--json"])).stdout);
      assert.equal(outbox.pending.length, 0);
      assert.equal(outbox.refused.length, 1);
      assert.match(outbox.refused[0].error, /never accepted from a ship/);
      assert.match(await Deno.readTextFile(flagshipLog), /relay: refused \w+ from captain@/);
      assert.equal((await inbox(flagship)).some((row) => row.command.includes("destroy")), false);
      // Nor can a ship reach any host through the flagship.
      const elsewhere = await as(a, ["inbox", "send", "captain@example.com", "true"]);
      assert.equal(elsewhere.code, 1);
      assert.match(elsewhere.stderr, /not a member of this fleet/);
    });

    await t.step("a sender that claims to be another ship is refused and logged", async () => {
      const socket = join(world.vmHome(a), ".ohcommodore/run/flagship.sock");
      const request = {
        v: 1,
        id: 1,
        op: "relay",
        args: {
          id: "c1a1c1a1c1a1c1a1",
          recipient: `captain@${b}`,
          command: "true",
          sender: `captain@${b}`,
        },
      };
      const code = `const c = await Deno.connect({ transport: "unix", path: ${
        JSON.stringify(socket)
      } });
        await c.write(new TextEncoder().encode(${JSON.stringify(JSON.stringify(request) + "\n")}));
        const buf = new Uint8Array(65536); const n = await c.read(buf);
        console.log(new TextDecoder().decode(buf.subarray(0, n ?? 0)));`;
      const claimed = await world.execAs(world.vmUser(a), [Deno.execPath(), "eval", code]);
      assert.equal(claimed.code, 0, claimed.stderr);
      const reply = JSON.parse(claimed.stdout);
      assert.equal(reply.ok, false);
      assert.match(reply.error.message, new RegExp(`claims to come from "captain@${b}"`));
      assert.match(await Deno.readTextFile(flagshipLog), /refused c1a1c1a1c1a1c1a1 .*claims/);
      assert.equal((await inbox(b)).some((row) => row.id === "c1a1c1a1c1a1c1a1"), false);
    });

    await t.step(
      "a message sent while the channel is down is delivered once it is back",
      async () => {
        // The ship "reboots": its sessions end and it refuses connections for a while.
        await run(["usermod", "--lock", world.vmUser(a)]);
        await run(["pkill", "-KILL", "-u", world.vmUser(a), "sshd"], true);
        await eventually(
          async () => await channelState(a) === "down" ? true : undefined,
          30_000,
          "the channel to drop",
        );
        const sent = await as(a, ["inbox", "send", `captain@${b}`, "echo once >> ~/count"]);
        // Queued is not delivered: a script tells them apart by the exit code and the status.
        assert.equal(sent.code, 75, sent.stderr);
        assert.match(sent.stderr, /waits in the outbox/);
        assert.match(
          sent.stderr,
          /Queued \w+ for captain@\S+ in this ship's outbox; not delivered/,
        );
        assert.ok(!/Delivered/.test(sent.stderr), sent.stderr);
        const id = sent.stdout.trim();
        const json = await as(a, ["inbox", "send", `captain@${b}`, "--note", "queued", "--json"]);
        assert.equal(json.code, 75, json.stderr);
        assert.equal(JSON.parse(json.stdout).status, "queued");
        assert.equal((await inbox(b)).some((row) => row.id === id), false, "not delivered yet");
        await run(["usermod", "--unlock", world.vmUser(a)]);
        const row = await eventually(
          async () => (await inbox(b)).find((row) => row.id === id && row.status === "done"),
          30_000,
          "the queued message to run",
        );
        assert.equal(row.sender, `captain@${a}`);
        // Once: a later collection does not hand it over again.
        await new Promise((resolve) => setTimeout(resolve, 2000));
        assert.equal(await Deno.readTextFile(join(world.vmHome(b), "count")), "once\n");
        const outbox = JSON.parse((await as(a, ["inbox", "outbox", "--json"])).stdout);
        assert.deepEqual(outbox.pending, []);
        const notes = await inbox(b);
        assert.equal(notes.filter((row) => row.status === "note").length, 1, "the note came too");
      },
    );

    await t.step("after the flagship's scheduler restarts, the channel comes back", async () => {
      const pid = Number(
        (await Deno.readTextFile(
          join(world.vmHome(flagship), ".local/ship/data.duckdb.scheduler.lock.pid"),
        ))
          .trim(),
      );
      // A wait under way when the flagship's scheduler dies, after the relay delivered: the
      // sender says the truth (delivered, the channel broke) and hears the end once it is back.
      const waiting = world.spawnAs(world.vmUser(a), [
        join(world.vmHome(a), ".local/bin/ohcommodore"),
        "inbox",
        "send",
        `captain@${b}`,
        "sleep 2; echo back",
        "--wait",
      ]);
      await eventually(
        async () => (await inbox(b)).find((row) => row.command === "sleep 2; echo back"),
        30_000,
        "the relay to deliver",
      );
      Deno.kill(pid, "SIGKILL");
      const started = await as(flagship, ["scheduler", "start"]);
      assert.equal(started.code, 0, started.stderr);
      const sent = await waiting.output();
      const stderr = new TextDecoder().decode(sent.stderr);
      assert.equal(sent.code, 0, stderr);
      assert.equal(new TextDecoder().decode(sent.stdout), "back\n");
      assert.ok(!/waits in the outbox/.test(stderr), stderr);
      // The connection the killed scheduler left was ended, not kept beside the new one.
      await eventually(
        async () => await channelMasters(a) === 1 ? true : undefined,
        15_000,
        "one channel connection",
      );
    });

    await t.step("a destroyed ship's channel closes", async () => {
      assert.equal(await channelMasters(b), 1);
      const destroyed = await world.cli(["ship", "destroy", b], { env });
      assert.equal(destroyed.code, 0, destroyed.stderr);
      await eventually(
        async () => await channelMasters(b) === 0 ? true : undefined,
        15_000,
        "the channel's connection to end",
      );
    });
  },
});

Deno.test({
  name: "keyless ships where sshd passes no forwards: the flagship collects the outbox",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start({ sshdExtra: ["AllowStreamLocalForwarding no"] });
    const { flagship, ships, as, inbox, channelState } = await keylessFleet(world, 1);
    const [a] = ships;
    // Collected every second here (the default is 5).
    const policy = join(world.vmHome(flagship), ".ohcommodore/policy.json");
    await Deno.writeTextFile(policy, JSON.stringify({ pollIntervalSec: 1 }));
    await run(["chown", `${world.vmUser(flagship)}:`, policy]);

    await t.step("the channel runs by collection", async () => {
      await eventually(
        async () => await channelState(a) === "poll" ? true : undefined,
        30_000,
        "the channel to open by collection",
      );
    });

    await t.step("a ship's note reaches the flagship at the next collection", async () => {
      const sent = await as(a, ["inbox", "send", "--note", `commodore@${flagship}`, "nightly ok"]);
      assert.equal(sent.code, 75, "queued until the next collection: " + sent.stderr);
      assert.match(sent.stderr, /waits in the outbox.*collects every \d+s/);
      const id = sent.stdout.trim();
      const row = await eventually(
        async () => (await inbox(flagship)).find((row) => row.id === id),
        15_000,
        "the note to be collected",
      ).catch(async (error) => {
        const log = join(world.vmHome(flagship), ".local/ship/scheduler.log");
        console.error(await Deno.readTextFile(log).catch(() => "no log"));
        throw error;
      });
      assert.equal(row.status, "note");
      assert.equal(row.sender, `captain@${a}`);
      // The flagship tells the ship right after it relayed the batch.
      await eventually(
        async () => {
          const outbox = JSON.parse((await as(a, ["inbox", "outbox", "--json"])).stdout);
          return outbox.pending.length === 0 ? true : undefined;
        },
        15_000,
        "the ship's outbox to be settled",
      );
    });

    await t.step("waiting for an answer is refused, with what to do instead", async () => {
      const sent = await as(a, ["inbox", "send", `commodore@${flagship}`, "true", "--wait"]);
      assert.equal(sent.code, 2);
      assert.match(sent.stderr, /collects its outbox every 1s.*send without --wait/s);
    });
  },
});
