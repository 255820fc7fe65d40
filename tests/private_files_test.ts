/**
 * The inbox database, its WAL and the scheduler's log are 0600, and ~/.local/ship is 0700,
 * whether this version created them or found them with wider modes: checked on real files.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeIdentity } from "../lib/identity.ts";
import { withDatabase } from "../lib/inbox/database.ts";
import { Inbox } from "../lib/inbox/inbox.ts";
import { memberPaths } from "../lib/paths.ts";
import { runProcess } from "../lib/process.ts";
import { writePrivateFile } from "../lib/private_files.ts";
import { LocalMember } from "./helpers/local_member.ts";
import { tempDir } from "./helpers/temp_dir.ts";

async function modeOf(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o777).toString(8);
}

Deno.test("a new inbox's database is 0600 and its ship directory 0700, whatever the umask lets DuckDB make", async () => {
  await using home = await tempDir("ohc-perm-");
  await writeIdentity({ role: "captain", name: "solo" }, home.path);
  const inbox = await Inbox.open({ home: home.path });
  await inbox.deliver({ recipient: inbox.address, command: "cat ~/.ohcommodore/.env" });
  const paths = memberPaths(home.path);
  assert.equal(await modeOf(paths.shipDir), "700");
  assert.equal(await modeOf(paths.database), "600");
  assert.equal(await modeOf(`${paths.database}.lock`), "600");
});

Deno.test("an existing world-readable ship directory and database are tightened when the inbox opens them", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  const paths = memberPaths(member.home);
  await (await Inbox.open({ home: member.home })).list(); // creates the database
  await Deno.chmod(paths.shipDir, 0o755);
  await Deno.chmod(paths.database, 0o644);
  await Deno.chmod(`${paths.database}.lock`, 0o644);
  const listed = await member.cli(["inbox", "list"]); // a fresh process, as a person's call
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(await modeOf(paths.shipDir), "700");
  assert.equal(await modeOf(paths.database), "600");
  assert.equal(await modeOf(`${paths.database}.lock`), "600");
});

Deno.test("a WAL a crashed process left readable is tightened when the database is next opened", async () => {
  await using home = await tempDir("ohc-perm-");
  await writeIdentity({ role: "captain", name: "solo" }, home.path);
  const paths = memberPaths(home.path);
  await (await Inbox.open({ home: home.path })).list();
  // A process that writes and dies before DuckDB checkpoints: its WAL stays, 0644 by the umask.
  const script = `
    import { DuckDBInstance } from ${
    JSON.stringify(new URL("../lib/duckdb.ts", import.meta.url).href)
  };
    const connection = await (await DuckDBInstance.create(Deno.args[0])).connect();
    await connection.run("INSERT INTO config VALUES ('CRASHED', 'yes')");
    Deno.exit(0);
  `;
  const crashed = await runProcess(Deno.execPath(), ["eval", script, paths.database], {
    timeoutMs: 60_000,
  });
  assert.equal(crashed.code, 0, crashed.stderr);
  assert.equal(await modeOf(`${paths.database}.wal`), "644");
  await Deno.chmod(paths.database, 0o644);
  const inbox = await Inbox.open({ home: home.path });
  // The WAL is checked while the database is open (it goes when the session closes).
  const walMode = await withDatabase(
    { path: inbox.database, identity: inbox.address },
    () => modeOf(`${paths.database}.wal`),
  );
  assert.equal(walMode, "600");
  assert.equal(await modeOf(paths.database), "600");
});

Deno.test("the scheduler's log is 0600, also when an older version left it readable", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "logged" });
  const log = `${memberPaths(member.home).shipDir}/scheduler.log`;
  for (const before of [undefined, 0o644]) {
    if (before !== undefined) await Deno.chmod(log, before);
    const started = await member.cli(["scheduler", "start"]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
    assert.equal(await modeOf(log), "600");
    assert.match(await Deno.readTextFile(log), /scheduler for captain@logged started/);
  }
});

Deno.test("a database outside the ship directory leaves its directory's mode alone", async () => {
  await using dir = await tempDir("ohc-perm-");
  await Deno.chmod(dir.path, 0o755);
  const inbox = await Inbox.open({
    home: dir.path,
    database: `${dir.path}/inbox.duckdb`,
    identity: { role: "captain", name: "solo" },
  });
  await inbox.list();
  assert.equal(await modeOf(dir.path), "755");
  assert.equal(await modeOf(`${dir.path}/inbox.duckdb`), "600");
});

Deno.test("writePrivateFile writes whole, private, with its directory, and leaves no side file", async () => {
  await using home = await tempDir("ohc-private-");
  const path = join(home.path, "made", "state.json");
  await writePrivateFile(path, "one\n");
  await Promise.all([
    writePrivateFile(path, "two\n"),
    writePrivateFile(path, "three\n", { sync: true }),
  ]);
  assert.ok(["two\n", "three\n"].includes(await Deno.readTextFile(path)));
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(join(home.path, "made"))).mode! & 0o777, 0o700);
  assert.deepEqual([...Deno.readDirSync(join(home.path, "made"))].map((entry) => entry.name), [
    "state.json",
  ]);
});
