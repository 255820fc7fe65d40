/**
 * The flagship's ship registry: a file of its own beside the inbox (whose file the scheduler
 * holds), with the ships an older version kept in the inbox's file carried over once.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Registry } from "../lib/fleet/registry.ts";
import { withDatabase } from "../lib/inbox/database.ts";
import { writeIdentity } from "../lib/identity.ts";
import { memberPaths } from "../lib/paths.ts";
import { tempDir } from "./helpers/temp_dir.ts";

Deno.test("an older flagship's ships, kept in the inbox's file, come along into fleet.duckdb", async () => {
  await using home = await tempDir("ohc-registry-");
  await writeIdentity({ role: "commodore", name: "flagship-a1b2" }, home.path);
  const paths = memberPaths(home.path);
  // As an older version left it: the fleet table inside data.duckdb.
  await withDatabase({ path: paths.database, identity: "commodore@flagship-a1b2" }, (db) =>
    db.run(
      `CREATE TABLE fleet (name TEXT PRIMARY KEY, repo TEXT, ssh_dest TEXT NOT NULL,
         pubkey TEXT, status TEXT DEFAULT 'provisioning',
         created_at TIMESTAMP DEFAULT current_timestamp);
       INSERT INTO fleet VALUES ('ship-web-1f2e', 'acme/web', 'ship-web-1f2e.exe.xyz',
         'ssh-ed25519 AAAA', 'ready', TIMESTAMP '2026-11-30 10:00:00')`,
    ));
  const registry = await Registry.open(home.path);
  const ships = await registry.list();
  assert.deepEqual(ships.map((ship) => [ship.name, ship.repo, ship.destination, ship.status]), [
    ["ship-web-1f2e", "acme/web", "ship-web-1f2e.exe.xyz", "ready"],
  ]);
  assert.equal(ships[0].createdAt, "2026-11-30T10:00:00Z");
  assert.equal(ships[0].trusted, true, "a ship of an older flagship had its own key");
  assert.ok((await Deno.stat(paths.fleetDatabase)).isFile);
  // Carried over once: a ship removed from the new file does not come back.
  await registry.remove("ship-web-1f2e");
  assert.deepEqual(await (await Registry.open(home.path)).list(), []);
});

Deno.test("a new flagship's registry starts empty, in fleet.duckdb beside the inbox", async () => {
  await using home = await tempDir("ohc-registry-");
  await writeIdentity({ role: "commodore", name: "flagship-c3d4" }, home.path);
  const registry = await Registry.open(home.path);
  await registry.add({
    name: "ship-api-9a8b",
    repo: null,
    destination: "ship-api-9a8b.exe.xyz",
    publicKey: "",
    trusted: false,
    status: "provisioning",
  });
  assert.deepEqual((await registry.list()).map((ship) => [ship.name, ship.trusted]), [
    ["ship-api-9a8b", false],
  ]);
  assert.equal(
    memberPaths(home.path).fleetDatabase,
    join(home.path, ".local/ship/fleet.duckdb"),
  );
});

Deno.test("a repository has one template, however its URL is spelled; copies name their source", async () => {
  await using home = await tempDir("ohc-registry-");
  await writeIdentity({ role: "commodore", name: "flagship-e5f6" }, home.path);
  const registry = await Registry.open(home.path);
  const ship = (name: string, repo: string | null, copiedFrom: string | null = null) =>
    registry.add({
      name,
      repo,
      destination: `${name}.exe.xyz`,
      publicKey: "",
      trusted: false,
      status: "ready",
      copiedFrom,
    });
  await ship("ship-std-e5f6aaaa", "denoland/std");
  await ship("ship-std-e5f6bbbb", "https://github.com/denoland/std.git", "ship-std-e5f6aaaa");
  await ship("ship-web-e5f6cccc", "acme/web");
  const templates = async () =>
    (await registry.list()).filter((ship) => ship.template).map((ship) => ship.name);
  assert.deepEqual(await templates(), []);
  await registry.setTemplate("ship-std-e5f6aaaa", true);
  await registry.setTemplate("ship-web-e5f6cccc", true);
  assert.deepEqual(await templates(), ["ship-std-e5f6aaaa", "ship-web-e5f6cccc"]);
  // The same repository spelled as a URL: it takes the place of the first.
  await registry.setTemplate("ship-std-e5f6bbbb", true);
  assert.deepEqual(await templates(), ["ship-std-e5f6bbbb", "ship-web-e5f6cccc"]);
  await registry.setTemplate("ship-web-e5f6cccc", false);
  assert.deepEqual(await templates(), ["ship-std-e5f6bbbb"]);
  const copy = (await registry.list()).find((ship) => ship.name === "ship-std-e5f6bbbb");
  assert.equal(copy?.copiedFrom, "ship-std-e5f6aaaa");
  // A destroyed template leaves its repository with none.
  await registry.remove("ship-std-e5f6bbbb");
  assert.deepEqual(await templates(), []);
  await assert.rejects(registry.setTemplate("ship-gone-e5f6dddd", true), /No ship named/);
});
