/**
 * Ships made by copying a ship (issue 22, parts 3 and 4), end to end: the real CLI as a "laptop"
 * user against the fixture lobby, whose `cp` copies a VM whole (its home, as a new Unix user; its
 * processes not). A copy is never its source: not its address, inbox, tasks, costs or report, not
 * its channel, keys or running commands; and the source is left as it was.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { keyIdentity } from "../lib/providers/provider.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_copyTestToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-copyTestToken",
};

interface Row {
  id: string;
  status: string;
  sender: string | null;
  command: string;
}

interface StatusShip {
  name: string;
  repo: string | null;
  status: string;
  trusted: boolean;
  channel: string | null;
  copiedFrom: string | null;
  template: boolean;
  report: { address: string; counts: Record<string, number> } | null;
}

Deno.test({
  name: "ship create --from: a copy of a ship is a ship of its own, and its source is untouched",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const { cli, origin, ships: [source] } = await agentFleet(world, env, 1);
    const spec = `file://${origin}`;
    const as = (vm: string, args: string[], stdin?: string) =>
      world.execAs(world.vmUser(vm), [join(world.vmHome(vm), ".local/bin/ohcommodore"), ...args], {
        stdin,
      });
    const git = (vm: string, args: string[]) =>
      world.execAs(world.vmUser(vm), ["git", "-C", join(world.vmHome(vm), "web"), ...args]);
    const inbox = async (vm: string): Promise<Row[]> => {
      const listed = await as(vm, ["inbox", "list", "--json"]);
      assert.equal(listed.code, 0, listed.stderr);
      return JSON.parse(listed.stdout);
    };
    const statusOf = async (ship: string): Promise<StatusShip> => {
      const status = await cli(["fleet", "status", "--json"]);
      assert.equal(status.code, 0, status.stderr);
      return JSON.parse(status.stdout).ships.find((s: StatusShip) => s.name === ship);
    };
    const readJson = async (vm: string, path: string) =>
      JSON.parse(await Deno.readTextFile(join(world.vmHome(vm), path)));

    // The source's history: a command, a finished agent task (with a cost), a branch of its
    // own, a change and a file of its own in its checkout.
    const said = await cli([
      "inbox",
      "send",
      `captain@${source}`,
      "echo from-the-source",
      "--wait",
    ]);
    assert.equal(said.code, 0, said.stderr);
    const task = await cli([
      "agent",
      "run",
      "--ships",
      source,
      "--wait",
      "--json",
      "--",
      "[file a]",
    ]);
    assert.equal(task.code, 0, task.stderr);
    await git(source, ["checkout", "-q", "-b", "source-work"]);
    await world.execAs(world.vmUser(source), [
      "sh",
      "-c",
      "echo changed >> web/README.md && echo mine > web/untracked.txt",
    ]);
    // Origin moves on after the source cloned it: a copy must fetch.
    const work = await Deno.makeTempDir({ dir: world.dir });
    await run(["git", "clone", "-q", origin, work]);
    await Deno.writeTextFile(join(work, "NEWS.md"), "after the source was made\n");
    const commit = ["git", "-C", work, "-c", "user.name=T", "-c", "user.email=t@example.test"];
    await run([...commit, "add", "NEWS.md"]);
    await run([...commit, "commit", "-q", "-m", "After the source"]);
    await run(["git", "-C", work, "push", "-q", "origin", "HEAD:main"]);
    const originHead = (await run(["git", "--git-dir", origin, "rev-parse", "main"])).stdout.trim();
    await Deno.remove(work, { recursive: true });

    // While the source runs a task, with a command queued behind it, it is copied.
    const long = await cli(["agent", "run", "--ships", source, "--json", "--", "[sleep 6] long"]);
    assert.equal(long.code, 0, long.stderr);
    const longId: string = JSON.parse(long.stdout)[0].id;
    await eventually(async () =>
      (await inbox(source)).find((row) => row.id === longId && row.status === "running")
    );
    const queued = await cli(["inbox", "send", `captain@${source}`, "touch $HOME/queued-ran"]);
    assert.equal(queued.code, 0, queued.stderr);
    const sourceIdentity = await readJson(source, ".ohcommodore/identity.json");
    const sourceRows = await inbox(source);
    const copied = await cli(["ship", "create", spec, "--from", source, "--json"]);
    assert.equal(copied.code, 0, copied.stderr);
    const [record] = JSON.parse(copied.stdout);
    const copy: string = record.name;

    await t.step("the copy is recorded as a copy, and shown so", () => {
      assert.match(copy, /^ship-web-[a-z][0-9a-f]{7}$/);
      assert.notEqual(copy, source);
      assert.equal(record.copiedFrom, source);
      assert.equal(record.status, "ready");
      assert.equal(record.repo, spec);
      assert.match(copied.stderr, new RegExp(`${copy}: copying ${source}`));
      assert.match(copied.stderr, /making the copy its own/);
      assert.doesNotMatch(copied.stderr, /init\.sh/, "init.sh does not run on a copy");
      const cps = world.lobbyCalls().filter((call) => call.argv[0] === "cp");
      assert.deepEqual(cps.at(-1)?.argv, ["cp", source, copy, "--json"]);
    });

    await t.step("the copy answers as itself: address, identity, report", async () => {
      const identity = await as(copy, ["inbox", "identity"]);
      assert.equal(identity.stdout.trim(), `captain@${copy}`);
      const written = await readJson(copy, ".ohcommodore/identity.json");
      assert.equal(written.name, copy);
      assert.equal(written.home, world.vmHome(copy));
      assert.equal(written.workdir, join(world.vmHome(copy), "web"));
      assert.equal(written.keyless, true);
      const env = await Deno.readTextFile(join(world.vmHome(copy), ".ohcommodore/.env"));
      assert.match(env, new RegExp(`^VM_NAME='${copy}'$`, "m"));
      assert.equal(
        (await Deno.stat(join(world.vmHome(copy), ".ohcommodore/.env"))).mode! & 0o077,
        0,
      );
      const status = await statusOf(copy);
      assert.equal(status.report?.address, `captain@${copy}`);
      assert.equal(status.copiedFrom, source);
      const report = await readJson(copy, ".local/ship/data.duckdb.report.json");
      assert.equal(report.address, `captain@${copy}`);
    });

    await t.step("the copy's inbox, tasks and costs are its own: empty", async () => {
      assert.deepEqual(await inbox(copy), []);
      const tasks = await cli(["agent", "list", "--json"]);
      assert.equal(tasks.code, 0, tasks.stderr);
      const listed: TaskOutcome[] = JSON.parse(tasks.stdout);
      assert.ok(listed.some((task) => task.ship === source), "the source's tasks are listed");
      assert.deepEqual(listed.filter((task) => task.ship === copy), []);
      const costs = await cli(["fleet", "costs", "--json"]);
      assert.equal(costs.code, 0, costs.stderr);
      const ships: { name: string; tasks: number; costUsd: number }[] = JSON.parse(costs.stdout)
        .ships;
      assert.ok(ships.find((ship) => ship.name === source)!.costUsd > 0);
      const own = ships.find((ship) => ship.name === copy);
      assert.ok(!own || (own.tasks === 0 && own.costUsd === 0), JSON.stringify(own));
      await assert.rejects(Deno.stat(join(world.vmHome(copy), ".ohcommodore/tasks")));
      await assert.rejects(Deno.stat(join(world.vmHome(copy), ".claude-standin")));
    });

    await t.step("the copy does not run the task or the command its source had", async () => {
      // The source finishes its task, then runs the command queued behind it.
      await eventually(
        async () =>
          (await inbox(source)).find((row) =>
            row.command.includes("queued-ran") && row.status === "done"
          ),
        30_000,
        "the source's queued command",
      );
      assert.ok((await Deno.stat(join(world.vmHome(source), "queued-ran"))).isFile);
      await assert.rejects(Deno.stat(join(world.vmHome(copy), "queued-ran")));
      assert.deepEqual(await inbox(copy), []);
      // The task ran once, on the source: the copy's claude never started.
      await assert.rejects(Deno.stat(join(world.vmHome(copy), ".claude-standin")));
      const longRow = (await inbox(source)).find((row) => row.id === longId);
      assert.equal(longRow?.status, "done");
    });

    await t.step("the copy's checkout is origin's default branch, fetched and clean", async () => {
      assert.equal((await git(copy, ["rev-parse", "HEAD"])).stdout.trim(), originHead);
      assert.equal((await git(copy, ["branch", "--show-current"])).stdout.trim(), "main");
      assert.equal((await git(copy, ["status", "--porcelain"])).stdout, "");
      assert.equal((await git(copy, ["branch", "--list", "source-work"])).stdout, "");
      await assert.rejects(Deno.stat(join(world.vmHome(copy), "web/untracked.txt")));
    });

    await t.step(
      "the copy has a channel of its own: what it sends is stamped as itself",
      async () => {
        await eventually(async () => (await statusOf(copy)).channel === "forward" || undefined);
        const sent = await as(copy, [
          "inbox",
          "send",
          "--note",
          `commodore@${world.lobbyVms()[0].name}`,
          "hello from the copy",
        ]);
        assert.equal(sent.code, 0, sent.stderr);
        const flagship = world.lobbyVms()[0].name;
        const notes = await eventually(async () => {
          const rows = await inbox(flagship);
          return rows.find((row) => row.command === "hello from the copy");
        });
        assert.equal(notes.sender, `captain@${copy}`);
        assert.equal((await statusOf(source)).channel, "forward", "the source's channel stays");
      },
    );

    await t.step("the source is left as it was", async () => {
      assert.deepEqual(await readJson(source, ".ohcommodore/identity.json"), sourceIdentity);
      assert.equal((await as(source, ["inbox", "identity"])).stdout.trim(), `captain@${source}`);
      const rows = await inbox(source);
      for (const row of sourceRows) {
        assert.ok(rows.some((kept) => kept.id === row.id), `the source keeps ${row.id}`);
      }
      assert.equal((await git(source, ["branch", "--show-current"])).stdout.trim(), "source-work");
      assert.match(await Deno.readTextFile(join(world.vmHome(source), "web/README.md")), /changed/);
      assert.ok((await Deno.stat(join(world.vmHome(source), "web/untracked.txt"))).isFile);
      const status = await statusOf(source);
      assert.equal(status.report?.address, `captain@${source}`);
      assert.equal(status.copiedFrom, null);
    });

    await t.step("a copy not made its own does not pass for its source", async () => {
      // The lobby copies the source by hand: the copy's program refuses to say who it is.
      const name = `${source}x`;
      const cp = await world.execAs(world.laptop.user, [
        "ssh",
        "exe.dev",
        "cp",
        source,
        name,
        "--json",
      ]);
      assert.equal(cp.code, 0, cp.stderr);
      const identity = await as(name, ["inbox", "identity"]);
      assert.equal(identity.code, 1);
      assert.match(identity.stderr, new RegExp(`is a copy of ${source}, not ${source} itself`));
      const scheduler = await as(name, ["scheduler", "start"]);
      assert.notEqual(scheduler.code, 0, "its scheduler does not start as the source");
      const rm = await world.execAs(world.laptop.user, ["ssh", "exe.dev", "rm", name]);
      assert.equal(rm.code, 0, rm.stderr);
    });
  },
});

Deno.test({
  name: "ship template, --fresh, --count --from, keys, failures undone, and bad input",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const cli = (args: string[]) => world.cli(args, { env });
    const init = await cli(["init"]);
    assert.equal(init.code, 0, init.stderr);
    const spec = await world.bareRepo("web");
    const made = await cli(["ship", "create", spec, "--trusted"]);
    assert.equal(made.code, 0, made.stderr);
    const trusted = made.stdout.trim();
    const scratch = (await cli(["ship", "create", "scratch"])).stdout.trim();
    const registry = async () => {
      const ships = await cli(["fleet", "status", "--json"]);
      return JSON.parse(ships.stdout).ships as StatusShip[];
    };
    const shipKey = async (vm: string) =>
      keyIdentity(await Deno.readTextFile(join(world.vmHome(vm), ".ssh/id_ed25519.pub")));

    await t.step("a keyless copy of a trusted ship holds no key", async () => {
      const result = await cli(["ship", "create", spec, "--from", trusted]);
      assert.equal(result.code, 0, result.stderr);
      const copy = result.stdout.trim();
      await assert.rejects(Deno.stat(join(world.vmHome(copy), ".ssh/id_ed25519")));
      await assert.rejects(Deno.stat(join(world.vmHome(copy), ".ssh/id_ed25519.pub")));
      const status = (await registry()).find((ship) => ship.name === copy)!;
      assert.equal(status.trusted, false);
      assert.equal(world.lobbyKeys().length, 3, "the laptop's, the flagship's, the source's");
      const destroyed = await cli(["ship", "destroy", copy, "--force"]);
      assert.equal(destroyed.code, 0, destroyed.stderr);
    });

    await t.step("a --trusted copy gets a key of its own, registered", async () => {
      const result = await cli(["ship", "create", spec, "--from", trusted, "--trusted"]);
      assert.equal(result.code, 0, result.stderr);
      const copy = result.stdout.trim();
      const key = await shipKey(copy);
      assert.notEqual(key, await shipKey(trusted));
      assert.ok(world.lobbyKeys().map(keyIdentity).includes(key));
      const whoami = world.lobbyCalls().filter((call) => call.command === "whoami");
      assert.ok(whoami.some((call) => call.key === key && call.code === 0));
      const destroyed = await cli(["ship", "destroy", copy, "--force"]);
      assert.equal(destroyed.code, 0, destroyed.stderr);
      assert.ok(!world.lobbyKeys().map(keyIdentity).includes(key), "its key goes with it");
    });

    await t.step(
      "ship template: its repository's new ships are copies, unless --fresh",
      async () => {
        const marked = await cli(["ship", "template", trusted, "--json"]);
        assert.equal(marked.code, 0, marked.stderr);
        assert.equal(JSON.parse(marked.stdout).template, true);
        const copied = await cli(["ship", "create", spec, "--json"]);
        assert.equal(copied.code, 0, copied.stderr);
        const [copy] = JSON.parse(copied.stdout);
        assert.equal(copy.copiedFrom, trusted);
        assert.match(copied.stderr, /copying/);
        const fresh = await cli(["ship", "create", spec, "--fresh", "--json"]);
        assert.equal(fresh.code, 0, fresh.stderr);
        assert.equal(JSON.parse(fresh.stdout)[0].copiedFrom, null);
        assert.match(fresh.stderr, /running cloudinit\/init\.sh/);
        // Marking another replaces the first; unmarking leaves none.
        assert.equal((await cli(["ship", "template", copy.name])).code, 0);
        let ships = await registry();
        assert.deepEqual(ships.filter((ship) => ship.template).map((ship) => ship.name), [
          copy.name,
        ]);
        const table = await cli(["fleet", "status"]);
        assert.match(table.stdout, new RegExp(`${copy.name}\\s+\\S+ \\(template\\)`));
        assert.equal((await cli(["ship", "template", copy.name, "--unset"])).code, 0);
        ships = await registry();
        assert.deepEqual(ships.filter((ship) => ship.template), []);
        const plain = await cli(["ship", "create", spec, "--json"]);
        assert.equal(JSON.parse(plain.stdout)[0].copiedFrom, null, "no template: a full create");
        for (
          const name of [
            copy.name,
            JSON.parse(fresh.stdout)[0].name,
            JSON.parse(plain.stdout)[0].name,
          ]
        ) {
          assert.equal((await cli(["ship", "destroy", name, "--force"])).code, 0);
        }
      },
    );

    await t.step("--count 3 --from makes three copies side by side", async () => {
      const result = await cli([
        "ship",
        "create",
        spec,
        "--from",
        trusted,
        "--count",
        "3",
        "--json",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const copies: { name: string; copiedFrom: string }[] = JSON.parse(result.stdout);
      assert.equal(new Set(copies.map((copy) => copy.name)).size, 3);
      for (const copy of copies) {
        assert.equal(copy.copiedFrom, trusted);
        const identity = await world.execAs(world.vmUser(copy.name), [
          join(world.vmHome(copy.name), ".local/bin/ohcommodore"),
          "inbox",
          "identity",
        ]);
        assert.equal(identity.stdout.trim(), `captain@${copy.name}`);
      }
      for (const copy of copies) {
        assert.equal((await cli(["ship", "destroy", copy.name, "--force"])).code, 0);
      }
    });

    await t.step("a copy that fails is removed whole: VM, record, key", async () => {
      const before = world.lobbyVms().map((vm) => vm.name).sort();
      const keys = world.lobbyKeys().length;
      // Its origin cannot be read: the fetch on the copy fails.
      const originPath = new URL(spec).pathname;
      await run(["chmod", "000", originPath]);
      try {
        const result = await cli(["ship", "create", spec, "--from", trusted, "--trusted"]);
        assert.equal(result.code, 1);
        assert.match(result.stderr, /failed at step "own": .*git fetch/);
      } finally {
        await run(["chmod", "755", originPath]);
      }
      assert.deepEqual(world.lobbyVms().map((vm) => vm.name).sort(), before);
      assert.equal(world.lobbyKeys().length, keys);
      assert.deepEqual(
        (await registry()).map((ship) => ship.name).sort(),
        [scratch, trusted].sort(),
      );
      // The lobby refuses the copy: nothing is left either.
      world.refuseNextLobbyCall("cp", "no room for another VM");
      const refused = await cli(["ship", "create", spec, "--from", trusted]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /no room for another VM/);
      assert.deepEqual(world.lobbyVms().map((vm) => vm.name).sort(), before);
    });

    await t.step("bad input is refused, saying what to do", async () => {
      const calls = world.lobbyCalls().length;
      const both = await cli(["ship", "create", spec, "--from", trusted, "--fresh"]);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /--from.*--fresh|--fresh.*--from/);
      const missing = await cli(["ship", "create", spec, "--from", "nosuchship", "--json"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /Cannot copy "nosuchship" \(--from\): No ship matches/);
      assert.equal(JSON.parse(missing.stdout).error.name, "NotFoundError");
      const other = await cli(["ship", "create", "acme/other", "--from", trusted]);
      assert.equal(other.code, 2);
      assert.match(other.stderr, /Cannot make ships of "acme\/other" from .*: it holds/);
      const noRepo = await cli(["ship", "template", scratch]);
      assert.equal(noRepo.code, 2);
      assert.match(noRepo.stderr, /has no repository, so it cannot be a template/);
      const scratchCopy = await cli(["ship", "create", spec, "--from", scratch]);
      assert.equal(scratchCopy.code, 2);
      assert.match(scratchCopy.stderr, /it holds no repository/);
      assert.equal(world.lobbyCalls().length, calls, "nothing reached the lobby");
    });

    await t.step("a ship that is not ready yet cannot be copied", async () => {
      world.setBootDelay(8000);
      const program = join(world.laptop.home, ".local/bin/ohcommodore");
      const child = world.spawnAs(world.laptop.user, [program, "ship", "create", "slow"], {
        env: { ...env, OHCOMMODORE_SHIP_BIN: world.shipBin },
      });
      try {
        // The lobby has made it; it refuses ssh for 8 s, so the flagship waits for it to answer.
        const slow = await eventually(
          () => Promise.resolve(world.lobbyVms().find((vm) => vm.name.startsWith("ship-slow-"))),
          20_000,
        );
        const result = await cli(["ship", "create", "slow", "--from", slow.name]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /Cannot copy ship-slow-\S+: it is provisioning, not ready/);
      } finally {
        await child.output();
        world.setBootDelay(0);
      }
    });
  },
});
