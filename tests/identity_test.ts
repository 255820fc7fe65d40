/**
 * A member's identity is bound to where it was written: a copy of the member (a copied VM or
 * sandbox) reads as a copy until it is made its own, never as the member it was copied from.
 */

import assert from "node:assert/strict";
import { hostname } from "node:os";
import { join } from "node:path";
import { bindIdentity, readIdentity, writeIdentity } from "../lib/identity.ts";
import { OhcommodoreError } from "../lib/errors.ts";
import { tempDir } from "./helpers/temp_dir.ts";

Deno.test("an identity bound to its home reads there, and refuses in a copy of that home", async () => {
  await using root = await tempDir("ohc-identity-");
  const home = join(root.path, "ship-web-k3f9a1b2");
  const copy = join(root.path, "ship-web-k3f9c4d5");
  await writeIdentity(bindIdentity({ role: "captain", name: "ship-web-k3f9a1b2" }, home), home);
  assert.deepEqual(await readIdentity(home), {
    role: "captain",
    name: "ship-web-k3f9a1b2",
    home,
  });
  await Deno.mkdir(join(copy, ".ohcommodore"), { recursive: true });
  await Deno.copyFile(
    join(home, ".ohcommodore/identity.json"),
    join(copy, ".ohcommodore/identity.json"),
  );
  const error = await readIdentity(copy).catch((error) => error);
  assert.ok(error instanceof OhcommodoreError);
  assert.match(
    error.message,
    /it was written for the home .*ship-web-k3f9a1b2, and this one is .*ship-web-k3f9c4d5, so this member is a copy of ship-web-k3f9a1b2, not ship-web-k3f9a1b2 itself/,
  );
  assert.match(error.next ?? "", /ship create --from/);
});

Deno.test("the same home through a symbolic link is the same home", async () => {
  await using root = await tempDir("ohc-identity-");
  const home = join(root.path, "real");
  await writeIdentity(bindIdentity({ role: "commodore", name: "flagship-k3f9" }, home), home);
  await Deno.symlink(home, join(root.path, "link"));
  assert.equal((await readIdentity(join(root.path, "link"))).name, "flagship-k3f9");
});

Deno.test("a VM's identity names its host when the host is named after the VM", async () => {
  await using root = await tempDir("ohc-identity-");
  const here = hostname();
  assert.equal(
    bindIdentity({ role: "captain", name: "ship-a-k3f9a1b2" }, root.path).host,
    undefined,
  );
  assert.equal(bindIdentity({ role: "captain", name: here }, root.path).host, here);
  // Written on a machine of another name: a copy of that VM, booted under its own name.
  await writeIdentity({ role: "captain", name: "ship-a-k3f9a1b2", host: `${here}-not` }, root.path);
  await assert.rejects(
    readIdentity(root.path),
    /it was written on the machine .*-not, and this one is/,
  );
  // Identities written before this check (no home, no host) read as they did.
  await writeIdentity({ role: "captain", name: "ship-a-k3f9a1b2" }, root.path);
  assert.equal((await readIdentity(root.path)).name, "ship-a-k3f9a1b2");
});
