/**
 * Ship → ship → flagship: the laptop asks ship A to hand work to ship B by name; B runs it and
 * reports to the flagship; the laptop waits for that report to arrive in the flagship's inbox
 * (`inbox.next`, no polling by hand) and reads its sender. Run with
 * `deno run -A examples/ship_to_ship.ts`.
 *
 * @module
 */

import { Fleet } from "@smithclay/ohcommodore";

await using fleet = await Fleet.local();
const [a, b] = await fleet.createShips("crew", { count: 2 });
const shipA = await fleet.ship(a.name);
const flagship = fleet.flagship;

// Listen first, so the report cannot arrive before we wait for it.
const report = flagship.inbox.next({ from: `captain@${b.name}`, timeoutMs: 60_000 });
// What B runs: count its files and send the flagship a report that says so.
const onB = `ohcommodore inbox send ${flagship.address} "echo files: $(ls -A ~ | wc -l)"`;
await shipA.$`ohcommodore inbox send --wait captain@${b.name} ${onB}`;

const arrived = await report;
console.log(`the flagship got "${arrived.command.trim()}" from ${arrived.sender}`);
const ran = await flagship.inbox.waitFor(arrived.id, { timeoutMs: 60_000 });
console.log(`it ran on the flagship (exit code ${ran.exitCode}): ${ran.result?.trim()}`);
