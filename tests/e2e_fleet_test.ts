/**
 * The fleet end to end: the real CLI as a "laptop" user, against a fixture exe.dev lobby over
 * real SSH, where every VM is a Unix user with its own home, inbox and scheduler.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { withDatabase } from "../lib/inbox/database.ts";
import { keyIdentity } from "../lib/providers/provider.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";

const ignore = sshWorldUnavailable() !== undefined;
// The network steps cannot work offline; `sshconfig` and the essential ones run for real.
const SKIP_STEPS = "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell";
const GH_TOKEN = "ghp_e2eSecretTokenValue123";
const env = { SKIP_STEPS, GH_TOKEN };

interface StatusJson {
  flagship: { name: string; report: { schedulerRunning: boolean; version: string } };
  ships: {
    name: string;
    repo: string | null;
    status: string;
    vmStatus: string;
    keyRegistered: boolean | null;
    trusted: boolean;
    channel: string | null;
    report: { schedulerRunning: boolean; version: string; counts: Record<string, number> } | null;
  }[];
  orphans: { name: string }[];
}

Deno.test({
  name: "fleet: init, create --trusted ships, status, send between ships, destroy, sink --scuttle",
  ignore,
  async fn(t) {
    // The fixture every step shares: a flagship and two trusted ships of one repository. Each
    // step below depends on it alone, never on another step, so one failing step fails alone;
    // a step that destroys makes what it destroys (but the last, which sinks the fleet).
    await using world = await FleetWorld.start({ bootDelayMs: 300, logs: true });
    const laptopKey = keyIdentity(world.lobbyKeys()[0]);
    const cli = (args: string[], stdin?: string) => world.cli(args, { env, stdin });
    const init = await cli(["init"]);
    assert.equal(init.code, 0, `the fixture's init failed: ${init.stderr}`);
    const configFile = join(world.laptop.home, ".ohcommodore/config.json");
    const config = JSON.parse(await Deno.readTextFile(configFile));
    const flagship: string = config.flagship_vm;
    const keysAfterInit = world.lobbyKeys().map(keyIdentity);
    const repo = await world.bareRepo("web");
    const created = await cli(["ship", "create", repo, "--count", "2", "--trusted"]);
    assert.equal(created.code, 0, `the fixture's ship create failed: ${created.stderr}`);
    const ships = created.stdout.trim().split("\n");

    await t.step("init creates the flagship and the local config", async () => {
      assert.match(flagship, /^flagship-[a-z][0-9a-f]{3}$/);
      assert.ok(world.lobbyVms().some((vm) => vm.name === flagship));
      // The lobby's ssh_dest, used as given (here it carries a user prefix).
      assert.equal(config.flagship, `${world.vmUser(flagship)}@${flagship}.exe.xyz`);
      const mode = (await Deno.stat(configFile)).mode;
      assert.equal(mode! & 0o777, 0o600);
      // The flagship registered a key of its own, and runs as commodore with a scheduler.
      const flagshipKey = keyIdentity(
        await Deno.readTextFile(join(world.vmHome(flagship), ".ssh/id_ed25519.pub")),
      );
      assert.deepEqual(keysAfterInit.sort(), [laptopKey, flagshipKey].sort());
      const identity = JSON.parse(
        await Deno.readTextFile(join(world.vmHome(flagship), ".ohcommodore/identity.json")),
      );
      // Bound to its home, so a copy of the VM elsewhere does not pass for the flagship.
      assert.deepEqual(identity, {
        role: "commodore",
        name: flagship,
        home: world.vmHome(flagship),
      });
    });

    await t.step("a second init refuses", async () => {
      const before = world.lobbyVms().length;
      const result = await cli(["init"]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /A fleet already exists \(flagship flagship-/);
      assert.equal(world.lobbyVms().length, before);
    });

    await t.step("ship create --trusted --count 2 clones the repo on two ships", async () => {
      const result = created;
      assert.equal(ships.length, 2);
      for (const ship of ships) {
        assert.match(ship, /^ship-web-[a-z][0-9a-f]{7}$/);
        assert.ok(!/-\d+$/.test(ship), "exe.dev refuses names ending in -digits");
        const readme = await Deno.readTextFile(join(world.vmHome(ship), "web/README.md"));
        assert.ok(readme.length > 0);
        // Secrets land only in owner-only files.
        const envFile = join(world.vmHome(ship), ".ohcommodore/.env");
        assert.equal((await Deno.stat(envFile)).mode! & 0o077, 0);
        assert.match(await Deno.readTextFile(envFile), new RegExp(GH_TOKEN));
        // The ship finished its key's registration itself (while its init.sh ran).
        const publicKey = await Deno.readTextFile(join(world.vmHome(ship), ".ssh/id_ed25519.pub"));
        const key = keyIdentity(publicKey);
        const whoami = world.lobbyCalls().filter((call) => call.command === "whoami");
        assert.ok(whoami.some((call) => call.key === key && call.code === 0), `${ship} whoami`);
      }
      assert.match(result.stderr, /running cloudinit\/init\.sh/, "progress is shown");
      for (const ship of ships) assert.ok(world.lobbyVms().some((vm) => vm.name === ship));
      const shipKeys = await Promise.all(
        ships.map(async (ship) =>
          keyIdentity(await Deno.readTextFile(join(world.vmHome(ship), ".ssh/id_ed25519.pub")))
        ),
      );
      for (const key of shipKeys) {
        assert.ok(world.lobbyKeys().map(keyIdentity).includes(key), "each ship has its own key");
      }
      const calls = world.lobbyCalls().map((call) => call.command).join("\n");
      assert.ok(!calls.includes(GH_TOKEN), "no secret on a lobby command line");
    });

    await t.step("fleet status shows both ships, live, with keys and versions", async () => {
      const result = await cli(["fleet", "status", "--json"]);
      assert.equal(result.code, 0, result.stderr);
      const status: StatusJson = JSON.parse(result.stdout);
      assert.equal(status.flagship.name, flagship);
      assert.equal(status.flagship.report.schedulerRunning, true);
      assert.deepEqual(status.ships.map((ship) => ship.name).sort(), [...ships].sort());
      for (const ship of status.ships) {
        assert.equal(ship.repo, repo);
        assert.equal(ship.status, "ready");
        assert.equal(ship.vmStatus, "running");
        assert.equal(ship.keyRegistered, true);
        assert.equal(ship.trusted, true);
        assert.equal(ship.channel, null, "a trusted ship needs no channel");
        assert.equal(ship.report?.schedulerRunning, true);
        assert.match(ship.report?.version ?? "", /^\d+\.\d+\.\d+/);
      }
      const table = await cli(["fleet", "status"]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /SHIP\s+REPO\s+DESTINATION/);
      for (const ship of ships) assert.match(table.stdout, new RegExp(`${ship}.*\\btrusted\\b`));
    });

    await t.step("a ship sends to another ship and to the flagship by name", async () => {
      const [a, b] = ships;
      const program = join(world.vmHome(a), ".local/bin/ohcommodore");
      const toShip = await world.execAs(world.vmUser(a), [
        program,
        "inbox",
        "send",
        `captain@${b}`,
        'echo "$OHCOMMODORE_SENDER in $(basename "$PWD")"',
        "--wait",
      ]);
      assert.equal(toShip.code, 0, toShip.stderr);
      assert.equal(toShip.stdout, `captain@${a} in web\n`);
      const toFlagship = await world.execAs(world.vmUser(b), [
        program.replace(world.vmHome(a), world.vmHome(b)),
        "inbox",
        "send",
        `commodore@${flagship}`,
        "whoami",
        "--wait",
      ]);
      assert.equal(toFlagship.code, 0, toFlagship.stderr);
      assert.equal(toFlagship.stdout.trim(), world.vmUser(flagship));
    });

    await t.step("the laptop sends to a ship by name", async () => {
      const result = await cli([
        "inbox",
        "send",
        `captain@${ships[0]}`,
        "git log --oneline | wc -l",
        "--wait",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), "1");
    });

    await t.step(
      "status counts from the schedulers' reports, and asks a ship whose scheduler is down",
      async () => {
        const launches = async () => (await Deno.readTextFile(world.launchLog)).split("\n");
        const doneOn = async () => {
          const status: StatusJson = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
          const byName = new Map(status.ships.map((ship) => [ship.name, ship]));
          return ships.map((ship) => byName.get(ship)?.report?.counts.done ?? NaN);
        };
        const earlier = await doneOn();
        const sent = await cli(["inbox", "send", `captain@${ships[1]}`, "true", "--wait"]);
        assert.equal(sent.code, 0, sent.stderr);
        const before = (await launches()).length;
        const counted = await doneOn();
        assert.deepEqual(counted, [earlier[0], earlier[1] + 1]);
        const shipUsers = ships.map((ship) => world.vmUser(ship));
        const started = (await launches()).slice(before - 1).filter((line) =>
          shipUsers.includes(line.split(" ")[0])
        );
        assert.deepEqual(started, [], "no program started on a ship to report on it");

        const program = join(world.vmHome(ships[1]), ".local/bin/ohcommodore");
        const stop = await world.execAs(world.vmUser(ships[1]), [program, "scheduler", "stop"]);
        assert.equal(stop.code, 0, stop.stderr);
        try {
          const down: StatusJson = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
          const ship = down.ships.find((ship) => ship.name === ships[1]);
          assert.equal(ship?.report?.schedulerRunning, false);
          assert.equal(ship?.report?.counts.done, counted[1], "counted from its database instead");
        } finally {
          const start = await world.execAs(world.vmUser(ships[1]), [program, "scheduler", "start"]);
          assert.equal(start.code, 0, start.stderr);
        }
      },
    );

    await t.step(
      "fleet exec from the laptop reaches every ship over ssh, one result each",
      async () => {
        const result = await cli([
          "fleet",
          "exec",
          "--json",
          "--",
          '[ "$OHCOMMODORE_ADDRESS" = captain@' + ships[1] + " ] && exit 6; whoami",
        ]);
        assert.equal(result.code, 1, result.stderr);
        const results = JSON.parse(result.stdout) as {
          ship: string;
          ok: boolean;
          exitCode: number;
          stdout: string;
        }[];
        const byShip = new Map(results.map((r) => [r.ship, r]));
        assert.deepEqual([...byShip.keys()].sort(), [...ships].sort());
        assert.equal(byShip.get(ships[0])!.ok, true);
        assert.equal(byShip.get(ships[0])!.stdout.trim(), world.vmUser(ships[0]));
        assert.equal(byShip.get(ships[1])!.exitCode, 6);
      },
    );

    await t.step("a laptop script: handles, a remote inbox and $ commands over ssh", async () => {
      const script = `
        import { AmbiguousNameError, Fleet, TimeoutError } from "@smithclay/ohcommodore";
        await using fleet = await Fleet.open();
        const ambiguous = await fleet.ship("ship-web").catch((error) => error);
        const ship = await fleet.ship(${JSON.stringify(ships[0])});
        const slow = await ship.send("sleep 20");
        const early = await slow.wait({ timeoutMs: 500 }).catch((error) => error);
        const cancelled = await slow.cancel();
        const failed = await ship.inbox.list({ status: "error" });
        const text = await ship.$\`printf '%s|' \${"it's $HOME"} \${["a b", "c"]}\`.text();
        console.log(JSON.stringify({
          ambiguous: ambiguous instanceof AmbiguousNameError ? ambiguous.matches.length : null,
          early: early instanceof TimeoutError ? early.status : String(early),
          outcome: cancelled.outcome,
          error: cancelled.message.error,
          listed: failed.some((message) => message.id === slow.id),
          text,
        }));
      `;
      const result = await world.laptopScript(script);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "", "the library writes nothing to its caller's stderr");
      assert.deepEqual(JSON.parse(result.stdout), {
        ambiguous: 2,
        early: "running",
        outcome: "stopped",
        error: "cancelled",
        listed: true,
        text: "it's $HOME|a b|c|",
      });
    });

    await t.step("ship ssh opens a shell on the ship named by a unique prefix", async () => {
      const prefix = ships[0].slice(0, -2);
      const result = await cli(["ship", "ssh", prefix], "whoami\npwd\nexit 3\n");
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.stdout, `${world.vmUser(ships[0])}\n${world.vmHome(ships[0])}\n`);
      assert.match(result.stderr, new RegExp(`Connecting to ${ships[0]}`));
    });

    await t.step("destroy needs a unique prefix, then removes VM, key and record", async () => {
      const launched = (await Deno.readTextFile(world.launchLog)).split("\n").length;
      const ambiguous = await cli(["ship", "destroy", "web"]);
      assert.equal(ambiguous.code, 2);
      assert.match(ambiguous.stderr, /matches 2 ships/);
      const unknown = await cli(["ship", "destroy", "nope"]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /No ship matches "nope"/);
      const made = await cli(["ship", "create", "doomed", "--trusted"]);
      assert.equal(made.code, 0, made.stderr);
      const doomed = made.stdout.trim();
      const shipKey = keyIdentity(
        await Deno.readTextFile(join(world.vmHome(doomed), ".ssh/id_ed25519.pub")),
      );
      const result = await cli(["ship", "destroy", doomed]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(
        world.lobbyVms().map((vm) => vm.name).sort(),
        [flagship, ...ships].sort(),
      );
      assert.ok(!world.lobbyKeys().map(keyIdentity).includes(shipKey), "its key is revoked");
      const status: StatusJson = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
      assert.deepEqual(status.ships.map((ship) => ship.name).sort(), [...ships].sort());
      // Create and destroy were requests to the flagship's scheduler: no program started there.
      const onFlagship = (await Deno.readTextFile(world.launchLog)).split("\n").slice(launched - 1)
        .filter((line) => line.startsWith(`${world.vmUser(flagship)} `));
      assert.deepEqual(onFlagship, [], "no program started on the flagship for the fleet calls");
    });

    await t.step("sink without --force asks on a terminal, and refuses without one", async () => {
      const before = world.lobbyVms().length;
      const result = await cli(["fleet", "sink", "--scuttle"]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /type "sink".*--force/);
      assert.equal(world.lobbyVms().length, before);
    });

    await t.step("scuttling from the flagship itself is refused", async () => {
      const program = join(world.vmHome(flagship), ".local/bin/ohcommodore");
      const result = await world.execAs(world.vmUser(flagship), [
        program,
        "fleet",
        "sink",
        "--scuttle",
        "--force",
      ]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /runs from your laptop/);
    });

    // Last: it sinks the fixture.
    await t.step("sink --scuttle --force removes every VM, key and the config", async () => {
      const result = await cli(["fleet", "sink", "--scuttle", "--force"]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(world.lobbyVms(), []);
      assert.deepEqual(world.lobbyKeys().map(keyIdentity), [laptopKey]);
      await assert.rejects(Deno.stat(join(world.laptop.home, ".ohcommodore/config.json")));
      const after = await cli(["fleet", "status"]);
      assert.equal(after.code, 2);
      assert.match(after.stderr, /No fleet yet; create one with "ohcommodore init"/);
    });
  },
});

Deno.test({
  name: "fleet: a failed ship create leaves nothing behind; bad input and wrong roles are refused",
  ignore,
  async fn(t) {
    await using world = await FleetWorld.start();
    const cli = (args: string[]) => world.cli(args, { env });
    const noToken = await world.cli(["init"], { env: { SKIP_STEPS } });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /init needs GH_TOKEN/);
    assert.deepEqual(world.lobbyVms(), [], "nothing was created");
    const init = await cli(["init"]);
    assert.equal(init.code, 0, init.stderr);
    const flagship = world.lobbyVms()[0].name;
    const keysBefore = world.lobbyKeys().length;

    await t.step(
      "a repository that does not exist fails at step repo and is cleaned up",
      async () => {
        const result = await cli(["ship", "create", "file:///nonexistent/repo.git"]);
        assert.equal(result.code, 1);
        assert.match(result.stderr, /failed at step "init\.sh": init\.sh: step repo failed/);
        assert.deepEqual(world.lobbyVms().map((vm) => vm.name), [flagship], "no VM left");
        assert.equal(world.lobbyKeys().length, keysBefore, "no key left");
        const status = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
        assert.deepEqual(status.ships, [], "no record left");
        assert.deepEqual(keyFilesOn(world, flagship), [], "no key file left on the flagship");
      },
    );

    await t.step(
      "a ship whose new key the lobby will not activate fails at step key, without waiting for init.sh",
      async () => {
        world.refuseNextLobbyCall("whoami", "key activation is down");
        // A setup script that would take a minute: the failed activation stops it.
        const script = join(world.laptop.home, "slow.sh");
        await Deno.writeTextFile(script, "#!/usr/bin/env bash\nsleep 60\n");
        await Deno.chmod(script, 0o644);
        const started = performance.now();
        const result = await world.cli(["ship", "create", "unkeyed", "--trusted"], {
          env: { ...env, INIT_PATH: script },
        });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /failed at step "key".*key activation is down/s);
        assert.ok(performance.now() - started < 30_000, "init.sh was stopped, not waited for");
        assert.deepEqual(world.lobbyVms().map((vm) => vm.name), [flagship], "no VM left");
        assert.equal(world.lobbyKeys().length, keysBefore, "no key left");
        const status = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
        assert.deepEqual(status.ships, [], "no record left");
      },
    );

    await t.step(
      "a key the lobby refuses fails at step key, with nothing to clean up",
      async () => {
        world.refuseNextLobbyCall("ssh-key add", "key quota reached");
        const result = await cli(["ship", "create", "refused", "--trusted"]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /failed at step "key".*key quota reached/s);
        assert.doesNotMatch(result.stderr, /Cleaning up/, "removing a key never added is no error");
        assert.deepEqual(world.lobbyVms().map((vm) => vm.name), [flagship], "no VM was made");
        assert.equal(world.lobbyKeys().length, keysBefore);
      },
    );

    await t.step(
      "a --count where one ship fails keeps the other and reports both",
      async () => {
        // A setup script that lets only the first ship to run it live: mkdir is atomic.
        const marker = `/tmp/ohc-partial-${crypto.randomUUID()}`;
        const script = join(world.laptop.home, "one-only.sh");
        await Deno.writeTextFile(
          script,
          [
            "#!/usr/bin/env bash",
            "set -euo pipefail",
            '. "$HOME/.ohcommodore/.env"',
            `mkdir '${marker}' 2>/dev/null || { echo "init: only one ship may live"; exit 1; }`,
            '"$HOME/.local/bin/ohcommodore" _setup --role "$ROLE" --name "$VM_NAME"',
            '"$HOME/.local/bin/ohcommodore" scheduler start',
          ].join("\n") + "\n",
        );
        await Deno.chmod(script, 0o644);
        try {
          const result = await world.cli(
            ["ship", "create", "part", "--count", "2", "--json"],
            { env: { ...env, INIT_PATH: script } },
          );
          assert.equal(result.code, 1, result.stderr);
          // The error comes back from the flagship as data: its class, the ships made, why.
          const { error } = JSON.parse(result.stdout);
          assert.equal(error.name, "CreateShipsError");
          assert.equal(error.fields.created.length, 1);
          const made = error.fields.created[0].name;
          assert.match(made, /^ship-part-/);
          assert.equal(error.fields.failures.length, 1);
          assert.match(
            error.fields.failures[0].$error.message,
            /failed at step "init\.sh".*only one ship may live/s,
          );
          // One error line, saying why and what was made.
          assert.equal(result.stderr.match(/error:/g)?.length, 1, result.stderr);
          assert.match(
            result.stderr,
            new RegExp(`only one ship may live.*\\(made: ${made}\\)`, "s"),
          );
          assert.deepEqual(world.lobbyVms().map((vm) => vm.name).sort(), [flagship, made].sort());
          const status = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
          assert.deepEqual(status.ships.map((ship: { name: string }) => ship.name), [made]);
        } finally {
          await Deno.remove(marker).catch(() => {});
          for (const vm of world.lobbyVms().filter((vm) => vm.name.startsWith("ship-part-"))) {
            assert.equal((await cli(["ship", "destroy", vm.name])).code, 0);
          }
        }
      },
    );

    await t.step("bad specs and counts are usage errors", async () => {
      const before = world.lobbyVms().length;
      for (
        const [args, pattern] of [
          [["ship", "create", "bad name!"], /Cannot make a ship from "bad name!"/],
          [["ship", "create", "web", "--count", "0"], /Invalid --count "0": give a whole/],
          [["ship", "create", "web", "--count", "many"], /Invalid --count "many": give a whole/],
          [["init", "--provider", "aws"], /Allowed choices are exedev, local/],
        ] as const
      ) {
        const result = await cli([...args]);
        assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, pattern);
      }
      assert.equal(world.lobbyVms().length, before);
    });

    await t.step(
      "init refuses on a VM",
      async () => {
        const program = join(world.vmHome(flagship), ".local/bin/ohcommodore");
        const initThere = await world.execAs(world.vmUser(flagship), [program, "init"]);
        assert.equal(initThere.code, 2);
        assert.match(
          initThere.stderr,
          /"init" runs on your laptop; this machine is the fleet's commodore/,
        );
      },
    );

    await t.step(
      "a plain name makes a ship without a repo; fleet status refuses on it",
      async () => {
        const made = await cli(["ship", "create", "scratch"]);
        assert.equal(made.code, 0, made.stderr);
        const ship = made.stdout.trim();
        assert.match(ship, /^ship-scratch-/);
        const program = join(world.vmHome(ship), ".local/bin/ohcommodore");
        const status = await world.execAs(world.vmUser(ship), [program, "fleet", "status"]);
        assert.equal(status.code, 2);
        assert.match(
          status.stderr,
          /This is a ship \(ship-scratch-.*\); fleet commands run on your laptop/,
        );
      },
    );

    await t.step("sink finds VMs of this fleet that the registry lost", async () => {
      const made = await cli(["ship", "create", "lost"]);
      assert.equal(made.code, 0, made.stderr);
      const lost = made.stdout.trim();
      // Lose its record: delete it from the flagship's registry behind its back.
      const shipDir = join(world.vmHome(flagship), ".local/ship");
      await withDatabase(
        { path: join(shipDir, "fleet.duckdb"), identity: `commodore@${flagship}`, schema: [] },
        (db) => db.run("DELETE FROM fleet WHERE name = $1", [lost]),
      );
      await run(["chown", "-R", `${world.vmUser(flagship)}:${world.vmUser(flagship)}`, shipDir]);
      const status = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
      assert.deepEqual(status.orphans.map((vm: { name: string }) => vm.name), [lost]);
      const sink = await cli(["fleet", "sink", "--force", "--json"]);
      assert.equal(sink.code, 0, sink.stderr);
      assert.deepEqual(JSON.parse(sink.stdout).orphans, [lost]);
      assert.deepEqual(world.lobbyVms().map((vm) => vm.name), [flagship]);
    });

    await t.step(
      "scuttle with an unreachable flagship still removes every VM and the fleet's keys",
      async () => {
        const made = await cli(["ship", "create", "spare", "--trusted"]);
        assert.equal(made.code, 0, made.stderr);
        assert.equal(world.lobbyKeys().length, keysBefore + 1);
        // sshd refuses a locked account; close the laptop's shared connections too.
        await run(["usermod", "--lock", world.vmUser(flagship)]);
        await run(["pkill", "-u", world.laptop.user, "-x", "ssh"], true);
        const scuttle = await cli(["fleet", "sink", "--scuttle", "--force"]);
        assert.equal(scuttle.code, 0, scuttle.stderr);
        assert.match(scuttle.stderr, /Permission denied/, "the flagship really was unreachable");
        assert.deepEqual(world.lobbyVms(), []);
        assert.equal(world.lobbyKeys().length, 1, "only the laptop's own key is left");
        await assert.rejects(Deno.stat(join(world.laptop.home, ".ohcommodore/config.json")));
      },
    );
  },
});

/** Collects a stream's text as it arrives, so a test can wait for a line. */
function watch(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  return {
    async until(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async all(): Promise<string> {
      await done;
      return text;
    },
  };
}

/**
 * Runs a program in the world and sends its process group SIGINT once `when` shows on stderr
 * (a pattern) or happens (a promise).
 */
async function interruptAt(
  world: FleetWorld,
  user: string,
  argv: string[],
  when: RegExp | Promise<unknown>,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = world.spawnAs(user, argv, {
    env: { ...env, OHCOMMODORE_SHIP_BIN: world.shipBin, ...extraEnv },
  });
  const stdout = new Response(child.stdout).text();
  const stderr = watch(child.stderr);
  try {
    await (when instanceof RegExp ? stderr.until(when) : within(when, 60_000, "held lobby call"));
  } finally {
    Deno.kill(-child.pid, "SIGINT"); // the whole group, as a terminal does
  }
  const { code } = await child.status;
  return { code, stdout: await stdout, stderr: await stderr.all() };
}

Deno.test({
  name: "fleet: Ctrl-C during init or ship create removes what was half made",
  ignore,
  async fn(t) {
    // VMs take a while to answer, so the operations are caught waiting for them.
    await using world = await FleetWorld.start({ bootDelayMs: 2000 });
    const laptop = join(world.laptop.home, ".local/bin/ohcommodore");
    const keysBefore = world.lobbyKeys().length;

    await t.step("init: a key being registered when Ctrl-C comes is revoked too", async () => {
      const adding = world.holdNextLobbyCall("ssh-key add", 1500);
      const result = await interruptAt(world, world.laptop.user, [laptop, "init"], adding);
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /interrupted by SIGINT; what it had made is removed/);
      const add = world.lobbyCalls().find((call) =>
        call.argv.slice(0, 2).join(" ") === "ssh-key add"
      );
      assert.equal(add?.code, 0, "the lobby registered the key");
      assert.deepEqual(world.lobbyVms(), []);
      assert.equal(world.lobbyKeys().length, keysBefore, "and it was revoked");
      await assert.rejects(Deno.stat(join(world.laptop.home, ".ohcommodore/config.json")));
    });

    await t.step("init: no VM, key or config is left", async () => {
      const result = await interruptAt(
        world,
        world.laptop.user,
        [laptop, "init"],
        /flagship-\w+: waiting for it to answer/,
      );
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /Interrupted \(SIGINT\)/);
      assert.match(result.stderr, /interrupted by SIGINT; what it had made is removed/);
      assert.deepEqual(world.lobbyVms(), []);
      assert.equal(world.lobbyKeys().length, keysBefore);
      await assert.rejects(Deno.stat(join(world.laptop.home, ".ohcommodore/config.json")));
    });

    // The fixture of the steps below (theirs alone: the steps above need none).
    const init = await world.cli(["init"], { env });
    assert.equal(init.code, 0, `the fixture's init failed: ${init.stderr}`);
    const flagship = world.lobbyVms()[0].name;

    await t.step(
      "ship create on the flagship: no VM, key, record or key file is left",
      async () => {
        const keys = world.lobbyKeys().length;
        const program = join(world.vmHome(flagship), ".local/bin/ohcommodore");
        const result = await interruptAt(
          world,
          world.vmUser(flagship),
          [program, "ship", "create", "box", "--count", "2"],
          /ship-box-\w+: waiting for it to answer/,
        );
        assert.equal(result.code, 130, result.stderr);
        assert.match(result.stderr, /interrupted by SIGINT; what it had made is removed/);
        assert.deepEqual(world.lobbyVms().map((vm) => vm.name), [flagship]);
        assert.equal(world.lobbyKeys().length, keys);
        const status = JSON.parse((await world.cli(["fleet", "status", "--json"], { env })).stdout);
        assert.deepEqual(status.ships, []);
        assert.deepEqual(keyFilesOn(world, flagship), []);
      },
    );

    await t.step(
      "ship create on the flagship: Ctrl-C during init.sh stops it at once and removes the ship",
      async () => {
        const slow = join(world.vmHome(flagship), "slow-init.sh");
        await Deno.writeTextFile(slow, "#!/usr/bin/env bash\nsleep 60\n");
        await Deno.chmod(slow, 0o644);
        const program = join(world.vmHome(flagship), ".local/bin/ohcommodore");
        const started = performance.now();
        const result = await interruptAt(
          world,
          world.vmUser(flagship),
          [program, "ship", "create", "slow"],
          /ship-slow-\w+: running cloudinit\/init\.sh/,
          { INIT_PATH: slow },
        );
        assert.equal(result.code, 130, result.stderr);
        assert.match(result.stderr, /failed at step "init\.sh": interrupted by SIGINT/);
        assert.ok(performance.now() - started < 45_000, "the remote init.sh was not waited for");
        assert.deepEqual(world.lobbyVms().map((vm) => vm.name), [flagship]);
      },
    );

    await t.step(
      "ship create from the laptop: the flagship finishes the ship it started",
      async () => {
        const result = await interruptAt(
          world,
          world.laptop.user,
          [laptop, "ship", "create", "late"],
          /ship-late-\w+: waiting for it to answer/,
        );
        assert.equal(result.code, 130, result.stderr);
        assert.match(result.stderr, /carries on with the ships it started/);
        const ship = await eventuallyReady(world);
        assert.match(ship, /^ship-late-/);
      },
    );

    await t.step(
      "a flagship scheduler stopped during a create from the laptop finishes the ship first",
      async () => {
        const child = world.spawnAs(world.laptop.user, [laptop, "ship", "create", "calm"], {
          env: { ...env, OHCOMMODORE_SHIP_BIN: world.shipBin },
        });
        const stderr = watch(child.stderr);
        const stdout = new Response(child.stdout).text();
        await stderr.until(/ship-calm-\w+: waiting for it to answer/);
        const program = join(world.vmHome(flagship), ".local/bin/ohcommodore");
        const stop = await world.execAs(world.vmUser(flagship), [program, "scheduler", "stop"]);
        assert.equal(stop.code, 0, stop.stderr);
        const { code } = await child.status;
        await stdout;
        const said = await stderr.all();
        assert.equal(code, 1, said);
        assert.match(said, /stopped answering during "createShips".*it finishes what it started/);
        assert.match(said, /see how it went with "ohcommodore fleet status"/);
        // The stopped scheduler's process made the ship whole before it ended.
        const calm = await eventually(
          async () => {
            const status = await world.cli(["fleet", "status", "--json"], { env });
            const ships: { name: string; status: string }[] = JSON.parse(status.stdout).ships;
            return ships.find((ship) => /^ship-calm-/.test(ship.name) && ship.status === "ready")
              ?.name;
          },
          60_000,
          "the ship the stopped scheduler was making to be ready",
        );
        assert.ok(world.lobbyVms().some((vm) => vm.name === calm));
      },
    );
  },
});

/** The ship keys the flagship keeps (none once each trusted ship has its own). */
function keyFilesOn(world: FleetWorld, flagship: string): string[] {
  try {
    return [...Deno.readDirSync(join(world.vmHome(flagship), ".ohcommodore/keys"))]
      .map((entry) => entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Waits for a promise, failing after `ms` instead of hanging the test. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the fleet has a ready ship, and returns its name. */
function eventuallyReady(world: FleetWorld): Promise<string> {
  return eventually(
    async () => {
      const result = await world.cli(["fleet", "status", "--json"], { env });
      const ships: { name: string; status: string }[] = JSON.parse(result.stdout).ships;
      return ships.find((ship) => ship.status === "ready")?.name;
    },
    60_000,
    "a ready ship after the laptop let go",
  );
}
