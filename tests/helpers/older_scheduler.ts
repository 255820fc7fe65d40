/**
 * A stand-in for a scheduler of an older version, as an upgrade leaves one running: it holds the
 * scheduler lock, names itself in the pid file and answers `hello` with version 0.0.1-old (and
 * nothing else) until SIGTERM. Run: `deno run -A older_scheduler.ts <home>`.
 */

import { memberPaths } from "../../lib/paths.ts";
import { schedulerLockPathOf, schedulerPidPathOf } from "../../lib/inbox/scheduler_files.ts";
import { InboxServer } from "../../lib/inbox/server.ts";
import { serverHello } from "../../lib/inbox/server_protocol.ts";
import { socketPathOf } from "../../lib/inbox/socket_path.ts";

const database = memberPaths(Deno.args[0]).database;
await Deno.mkdir(memberPaths(Deno.args[0]).shipDir, { recursive: true, mode: 0o700 });
const lock = await Deno.open(schedulerLockPathOf(database), { write: true, create: true });
await lock.lock(true);
await Deno.writeTextFile(schedulerPidPathOf(database), `${Deno.pid}\n`);
const server = InboxServer.listen(socketPathOf(database), {
  hello: () => Promise.resolve({ ...serverHello("?", 1), version: "0.0.1-old" }),
});
Deno.addSignalListener("SIGTERM", () => {
  server[Symbol.dispose]();
  Deno.removeSync(schedulerPidPathOf(database));
  lock.close();
  Deno.exit(0);
});
