/**
 * The local demo: a whole fleet on this machine with the `local` provider (each VM a sandbox
 * directory with its own home, inbox and scheduler). It creates the flagship, two ships with a
 * repository cloned, sends commands between them, shows the fleet's status, hands the flagship a
 * plan of three tasks (one needing the other two) that its ships work, verify and bring onto one
 * branch — with Claude Code when this machine has it, else with a stand-in — and sinks it all.
 * Run it with `deno task demo`.
 *
 * @module
 */

import { Fleet, type FleetProgress, send } from "../mod.ts";
import { describeProgress, fleetRouter } from "../fleet.ts";

const home = await Deno.makeTempDir({ prefix: "ohcommodore-demo-" });
const step = (text: string) => console.error(`\n⚓ ${text}`);
const progress = (progress: FleetProgress) => console.error(`  ${describeProgress(progress)}`);

// A repository for the ships to clone, standing in for github.com/you/web.
const repo = `${home}/web.git`;
await git(["init", "--quiet", "--bare", repo]);
await git(["clone", "--quiet", repo, `${home}/web`]);
await Deno.writeTextFile(`${home}/web/README.md`, "# web\nA repository the ships clone.\n");
await git(["-C", `${home}/web`, "add", "README.md"]);
await git([
  "-C",
  `${home}/web`,
  "-c",
  "user.name=demo",
  "-c",
  "user.email=demo@example.com",
  "commit",
  "--quiet",
  "-m",
  "first",
]);
await git(["-C", `${home}/web`, "push", "--quiet", "origin", "HEAD"]);

let fleet: Fleet | undefined;
try {
  step(`ohcommodore init --provider local   (home: ${home})`);
  fleet = await Fleet.init({ home, provider: "local", settings: {}, onProgress: progress });

  step(`ohcommodore ship create file://${repo} --count 2`);
  const [a, b] = await fleet.createShips(`file://${repo}`, { count: 2, onProgress: progress });

  step(`${a.name} sends work to ${b.name}`);
  const fromA = await send(
    `captain@${b.name}`,
    'echo "$OHCOMMODORE_SENDER asked $(pwd) to run this"; ls',
    {
      home: a.destination,
      route: await fleetRouter(a.destination),
      wait: true,
    },
  );
  console.log(fromA.result?.trim());

  step(`${b.name} reports to the flagship ${fleet.facts.flagshipVm}`);
  const report = await send(
    `commodore@${fleet.facts.flagshipVm}`,
    "echo received by $OHCOMMODORE_ADDRESS",
    {
      home: b.destination,
      route: await fleetRouter(b.destination),
      wait: true,
    },
  );
  console.log(report.result?.trim());

  step("the laptop runs a failing command on a ship");
  const ship = await fleet.ship(a.name);
  const sent = await ship.send("git -C ~/web log --oneline && exit 3");
  const failed = await sent.wait();
  console.log(`${failed.status}, exit code ${failed.exitCode}: ${failed.result?.trim()}`);

  step("ohcommodore fleet status");
  const status = await fleet.status();
  for (
    const s of [
      { name: status.flagship.name, report: status.flagship.report },
      ...status.ships,
    ]
  ) {
    const r = s.report;
    console.log(
      `${s.name.padEnd(22)} scheduler ${r?.schedulerRunning ? "running" : "stopped"}  ` +
        `done ${r?.counts.done ?? "?"}  error ${r?.counts.error ?? "?"}  version ${r?.version}`,
    );
  }

  step(`ohcommodore plan run demo.yaml --integrate demo --wait   (${await agentSetup(fleet)})`);
  const plan = await fleet.plans.run({
    // Every change committed: what a real project would check with its tests.
    verify: 'test -z "$(git status --porcelain)"',
    tasks: [
      { id: "readme", prompt: "Describe the project in README.md, and commit it" },
      { id: "license", prompt: "Add an MIT LICENSE file, and commit it" },
      {
        id: "changelog",
        prompt: "Start a CHANGELOG.md that lists the README and LICENSE work, and commit it",
        needs: ["readme", "license"],
      },
    ],
  }, { integrate: "demo", ships: [a.name, b.name] });
  for await (const event of plan.events()) {
    const who = [event.task, event.ship].filter(Boolean).join(" on ");
    console.error(`  ${event.type}${who ? ` ${who}` : ""}: ${event.text}`);
  }
  const planned = await plan.status();
  console.log(
    `plan ${planned.id}: ${planned.status}, ` +
      planned.tasks.map((task) => `${task.id} ${task.status}`).join(", ") +
      `, $${planned.costUsd.toFixed(4)}`,
  );
  console.log(
    `origin's demo branch: ${await gitOut(["--git-dir", repo, "log", "--format=%s", "demo"])}`,
  );
} finally {
  if (fleet) {
    step("ohcommodore fleet sink --scuttle --force");
    const sunk = await fleet.sink({ scuttle: true, onProgress: progress });
    console.error(`  sank ${sunk.destroyed.length} ship(s) and the flagship`);
  }
  await Deno.remove(home, { recursive: true });
}

// Claude Code when this machine has it and a credential for it; else the tests' stand-in, which
// speaks its headless protocol and commits a file per prompt, on each ship's PATH.
async function agentSetup(fleet: Fleet): Promise<string> {
  const credential = Deno.env.get("CLAUDE_CODE_OAUTH_TOKEN") || Deno.env.get("ANTHROPIC_API_KEY");
  const claude = await new Deno.Command("sh", { args: ["-c", "command -v claude"] }).output();
  if (credential && claude.success) return "with Claude Code";
  const standin = new URL("../tests/helpers/claude_standin.ts", import.meta.url).pathname;
  for (const ship of await fleet.ships()) {
    const bin = `${ship.destination}/.local/bin`;
    await Deno.mkdir(bin, { recursive: true });
    await Deno.writeTextFile(
      `${bin}/claude`,
      `#!/bin/sh\nexport CLAUDE_CODE_OAUTH_TOKEN=stand-in\n` +
        `exec "${Deno.execPath()}" run -A --quiet --no-config "${standin}" "$@"\n`,
      { mode: 0o755 },
    );
  }
  return "Claude Code is not set up here: with a stand-in agent that commits a file per task";
}

async function gitOut(args: string[]): Promise<string> {
  const { stdout } = await new Deno.Command("git", { args, stderr: "null" }).output();
  return new TextDecoder().decode(stdout).trim().split("\n").join(" | ");
}

async function git(args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("git", { args, stdout: "null" }).output();
  if (code !== 0) throw new Error(`git ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}
