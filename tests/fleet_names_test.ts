import assert from "node:assert/strict";
import { join } from "node:path";
import { OhcommodoreError, UsageError } from "../lib/errors.ts";
import { formatEnvFile, loadSettings } from "../lib/settings.ts";
import {
  isShipOfFleet,
  newFleetTag,
  newShipVmName,
  newShipVmNames,
  parseShipSpec,
  sameRepository,
} from "../lib/fleet/names.ts";
import { matchByPrefix } from "../lib/fleet/registry.ts";

Deno.test("ship specs: owner/repo, git URLs and plain names", () => {
  assert.deepEqual(parseShipSpec("denoland/std"), { name: "std", repo: "denoland/std" });
  assert.deepEqual(parseShipSpec("git@github.com:me/My_App.git"), {
    name: "my-app",
    repo: "git@github.com:me/My_App.git",
  });
  assert.deepEqual(parseShipSpec("file:///srv/git/web.git"), {
    name: "web",
    repo: "file:///srv/git/web.git",
  });
  assert.deepEqual(parseShipSpec("https://example.com/a/b/"), {
    name: "b",
    repo: "https://example.com/a/b/",
  });
  assert.deepEqual(parseShipSpec("scratch"), { name: "scratch", repo: null });
  for (const bad of ["", "a b", "../x", "owner/repo/extra", "-rf", "x;rm"]) {
    assert.throws(() => parseShipSpec(bad), UsageError, bad);
  }
  // A name typed as a name is kept whole or refused; a repository's name is shortened.
  assert.deepEqual(parseShipSpec("a".repeat(20)), { name: "a".repeat(20), repo: null });
  assert.throws(
    () => parseShipSpec("a".repeat(21)),
    /it has 21 characters, give a name of at most 20/,
  );
  assert.deepEqual(parseShipSpec(`me/${"b".repeat(40)}`), {
    name: "b".repeat(20),
    repo: `me/${"b".repeat(40)}`,
  });
  assert.throws(() => parseShipSpec(`me/${"b".repeat(400)}`), /at most 300 are taken/);
});

Deno.test("VM names carry the fleet tag and never end in digits only", () => {
  for (let i = 0; i < 200; i++) {
    const tag = newFleetTag();
    assert.match(tag, /^[a-z][0-9a-f]{3}$/);
    const name = newShipVmName("web", tag);
    assert.match(name, /^ship-web-[a-z][0-9a-f]{7}$/);
    assert.ok(!/-\d+$/.test(name));
    assert.ok(isShipOfFleet(name, tag));
    assert.ok(!isShipOfFleet(name, tag === "a000" ? "b000" : "a000"));
  }
  assert.ok(!isShipOfFleet("flagship-k3f9", "k3f9"));
});

Deno.test("a create's ship names differ from each other and from the fleet's", () => {
  // Half of the fleet's 65,536 "web" names are taken: without the check, a draw of 20 would
  // take about ten of them.
  const all = Array.from(
    { length: 65_536 },
    (_, i) => `ship-web-k3f9${i.toString(16).padStart(4, "0")}`,
  );
  const taken = new Set(all.filter((_, i) => i % 2 === 0));
  for (let run = 0; run < 20; run++) {
    const names = newShipVmNames("web", "k3f9", 20, taken);
    assert.equal(names.length, 20);
    assert.equal(new Set(names).size, 20);
    for (const name of names) {
      assert.ok(!taken.has(name), `${name} is taken`);
      assert.ok(isShipOfFleet(name, "k3f9"));
    }
  }
  assert.throws(
    () => newShipVmNames("web", "k3f9", 1, new Set(all)),
    (error) =>
      error instanceof OhcommodoreError &&
      /No free name for 1 more "web" ship\(s\) in this fleet: give them another name/.test(
        error.message,
      ),
  );
});

Deno.test("prefix matching: exact, unique prefix, short name, none, ambiguous", () => {
  const ships = [{ name: "ship-web-k3f9aaaa" }, { name: "ship-web-k3f9bbbb" }, {
    name: "ship-api-k3f9cccc",
  }];
  assert.equal(matchByPrefix(ships, "ship-web-k3f9aaaa").name, "ship-web-k3f9aaaa");
  assert.equal(matchByPrefix(ships, "ship-web-k3f9b").name, "ship-web-k3f9bbbb");
  assert.equal(matchByPrefix(ships, "api").name, "ship-api-k3f9cccc");
  assert.throws(() => matchByPrefix(ships, "web"), /matches 2 ships/);
  assert.throws(() => matchByPrefix(ships, "db"), /No ship matches "db"/);
});

Deno.test(".env files: written quoted, refused with quotes, read under the environment", async () => {
  assert.equal(formatEnvFile({ A: "x y", B: undefined, C: "$HOME" }), "A='x y'\nC='$HOME'\n");
  assert.throws(() => formatEnvFile({ GH_TOKEN: "a'b" }), /GH_TOKEN contains a quote/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(dir, ".env"),
      "DOTFILES_URL='https://x/d'\nSKIP_STEPS=zsh\nFOO=1\n",
    );
    Deno.env.set("SKIP_STEPS", "rustup");
    const settings = await loadSettings([join(dir, ".env")]);
    assert.equal(settings.DOTFILES_URL, "https://x/d");
    assert.equal(settings.SKIP_STEPS, "rustup", "the environment wins");
    assert.ok(!("FOO" in settings));
  } finally {
    Deno.env.delete("SKIP_STEPS");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one repository however spelled: owner/repo, GitHub's URLs, .git, a trailing slash", () => {
  const std = [
    "denoland/std",
    "Denoland/STD",
    "https://github.com/denoland/std",
    "https://github.com/denoland/std.git",
    "git@github.com:denoland/std.git",
    "ssh://git@github.com/denoland/std/",
  ];
  for (const spelling of std) assert.ok(sameRepository("denoland/std", spelling), spelling);
  assert.ok(!sameRepository("denoland/std", "denoland/fresh"));
  assert.ok(!sameRepository("denoland/std", "https://gitlab.com/denoland/std"));
  assert.ok(sameRepository("file:///srv/git/web.git", "file:///srv/git/web"));
  assert.ok(!sameRepository("file:///srv/git/web.git", "file:///srv/git/api.git"));
});
