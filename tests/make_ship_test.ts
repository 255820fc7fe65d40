import assert from "node:assert/strict";
import { join } from "node:path";
import { writeIdentity } from "../lib/identity.ts";
import { makeShip } from "../lib/fleet/make_ship.ts";
import { parseShipSpec } from "../lib/fleet/names.ts";
import { ProvisionError } from "../lib/fleet/provision.ts";
import { Registry } from "../lib/fleet/registry.ts";
import { ShipKeys } from "../lib/fleet/ship_keys.ts";
import { LocalProvider } from "../lib/providers/local.ts";
import { tempDir } from "./helpers/temp_dir.ts";

Deno.test("a ship whose name is taken fails and leaves the VM of that name alone", async () => {
  await using dir = await tempDir("ohc-make-ship-");
  const home = join(dir.path, "flagship");
  const root = join(dir.path, "sandboxes");
  await writeIdentity({ role: "commodore", name: "flagship-k3f9" }, home);
  const provider = new LocalProvider(root);
  // Someone else's sandbox, with the name the new ship is given.
  const other = await provider.create("ship-web-k3f9abcd");
  await Deno.writeTextFile(join(other.destination, "work.txt"), "theirs\n");
  const registry = await Registry.open(home);
  const making = makeShip(parseShipSpec("web"), "ship-web-k3f9abcd", {
    facts: {
      tag: "k3f9",
      provider: "local",
      localRoot: root,
      flagshipVm: "flagship-k3f9",
      flagship: home,
      createdAt: new Date().toISOString(),
    },
    provider,
    keys: new ShipKeys(home),
    registry,
    settings: {},
    program: new Uint8Array(),
    initScript: "",
  });
  await assert.rejects(
    making,
    (error) =>
      error instanceof ProvisionError && error.step === "create" &&
      /already exists/.test(error.message),
  );
  assert.equal(await Deno.readTextFile(join(other.destination, "work.txt")), "theirs\n");
  assert.deepEqual((await provider.list()).map((vm) => vm.name), ["ship-web-k3f9abcd"]);
  assert.deepEqual(await registry.list(), []);
});
