/**
 * The local demo: a fleet member in a temporary home, its scheduler, and a few commands sent to
 * its inbox through the library, with the results shown. Run it with `deno task demo`.
 *
 * @module
 */

import { Inbox, Scheduler, send, writeIdentity } from "../mod.ts";

const home = await Deno.makeTempDir({ prefix: "ohcommodore-demo-" });
await writeIdentity({ role: "captain", name: "demo-ship" }, home);
const inbox = await Inbox.open({ home });
const scheduler = await Scheduler.start(inbox, {
  onEvent: (event) => {
    if (event.type === "running") console.error(`  ▶ running ${event.message.id}`);
  },
});
console.error(`⚓ ${inbox.address} has an inbox at ${inbox.database}\n`);

const commands = [
  `echo "hello from $(hostname), it's $(date -u +%H:%M:%S) UTC"`,
  `echo 'quotes, $dollars and \`backticks\` arrive intact'`,
  "ls /definitely/not/here",
  "sleep 5",
];
try {
  for (const command of commands) {
    console.error(`→ send ${inbox.address} ${JSON.stringify(command)}`);
    const message = await send(inbox.address, command, {
      home,
      wait: true,
      timeoutMs: command.startsWith("sleep") ? 1000 : 60_000,
    });
    const output = (message.result || message.stderr || "").trimEnd();
    const mark = message.status === "done" ? "✔" : "✘";
    const why = message.error ? ` (${message.error})` : "";
    console.error(`  ${mark} ${message.status}, exit ${message.exitCode}${why}`);
    if (output) console.error(output.split("\n").map((line) => `    ${line}`).join("\n"));
    console.error();
  }
  console.error("The inbox now holds:");
  for (const message of await inbox.list()) {
    console.log(`${message.id}  ${message.status.padEnd(5)}  ${message.command}`);
  }
} finally {
  scheduler.stop();
  await scheduler.finished;
  await Deno.remove(home, { recursive: true });
}
