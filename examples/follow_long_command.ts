/**
 * A long command followed to its end: send it, watch its status while it runs, then wait for
 * its outcome; Ctrl-C cancels it on the ship (its process group is stopped) before the fleet is
 * sunk. Run with `deno run -A examples/follow_long_command.ts [seconds]`.
 *
 * @module
 */

import { Fleet } from "@smithclay/ohcommodore";

const seconds = Number(Deno.args[0] ?? 3);
await using fleet = await Fleet.local();
const [made] = await fleet.createShips("worker");
const ship = await fleet.ship(made.name);

const sent = await ship.send(`for i in $(seq ${seconds}); do echo "step $i"; sleep 1; done`);
const cancel = () =>
  sent.cancel().then((c: { outcome: string }) => console.error(`cancelled: ${c.outcome}`));
Deno.addSignalListener("SIGINT", cancel);
try {
  for (let status = await sent.status(); status.status !== "done" && status.status !== "error";) {
    console.log(
      `${sent.id}: ${status.status}${status.startedAt ? ` since ${status.startedAt}` : ""}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    status = await sent.status();
  }
  const done = await sent.wait();
  console.log(`${done.status}, exit code ${done.exitCode}, output:\n${done.result}`);
} finally {
  Deno.removeSignalListener("SIGINT", cancel);
}
