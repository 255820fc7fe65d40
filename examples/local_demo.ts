/**
 * The local demo: a whole fleet on this machine with the `local` provider (each VM a sandbox
 * directory with its own home, inbox and scheduler). It creates the flagship, two ships with a
 * repository cloned, sends commands between them, shows the fleet's status, and sinks it all.
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
} finally {
  if (fleet) {
    step("ohcommodore fleet sink --scuttle --force");
    const sunk = await fleet.sink({ scuttle: true, onProgress: progress });
    console.error(`  sank ${sunk.destroyed.length} ship(s) and the flagship`);
  }
  await Deno.remove(home, { recursive: true });
}

async function git(args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("git", { args, stdout: "null" }).output();
  if (code !== 0) throw new Error(`git ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}
