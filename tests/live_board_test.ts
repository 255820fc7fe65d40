/**
 * The live board: in-process on a fake terminal, and through the real CLI on a local-provider
 * fleet, off a terminal (plain lines) and on one (tmux: one line per ship). The same fleet shows
 * that `fleet status` leaves the ship names shell completion reads.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { type BoardOutput, liveBoard } from "../lib/cli/live_board.ts";
import { memberPaths } from "../lib/paths.ts";
import { LocalMember } from "./helpers/local_member.ts";
import { Terminal } from "./helpers/terminal.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

function recorder(terminal: boolean): BoardOutput & { text: () => string } {
  const chunks: Uint8Array[] = [];
  return {
    writeSync: (bytes) => (chunks.push(bytes.slice()), bytes.length),
    isTerminal: () => terminal,
    text: () => chunks.map((chunk) => new TextDecoder().decode(chunk)).join(""),
  };
}

Deno.test("live board off a terminal prints each change once as a plain line", () => {
  const output = recorder(false);
  {
    using board = liveBoard({ output });
    board.set("ship-a", "creating the VM");
    board.set("ship-b", "creating the VM");
    board.set("ship-a", "creating the VM");
    board.done("ship-a", "ready");
    board.set("ship-a", "late news");
    board.log("a note");
  }
  assert.equal(
    output.text(),
    "  ship-a: creating the VM\n  ship-b: creating the VM\n  ship-a: ready\na note\n",
  );
});

Deno.test("live board on a terminal rewrites its lines in place", () => {
  const output = recorder(true);
  {
    using board = liveBoard({ output, live: true }); // not TERM: this test is of the drawing
    board.set("ship-a", "creating the VM");
    board.set("ship-b", "creating the VM");
    board.done("ship-a", "ready");
  }
  const text = output.text();
  // Each draw moves up over the lines drawn before and erases each line it writes.
  assert.equal(
    text,
    "\r\x1b[2K  ship-a: creating the VM\n" +
      "\r\x1b[1A\x1b[2K  ship-a: creating the VM\n\x1b[2K  ship-b: creating the VM\n" +
      "\r\x1b[2A\x1b[2K  ship-a: ready\n\x1b[2K  ship-b: creating the VM\n",
  );
});

Deno.test("fleet commands: plain lines off a terminal, one line per ship on one; status caches names", async (t) => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  const init = await laptop.cli(["init", "--provider", "local", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  const ships: string[] = [];

  await t.step("off a terminal, ship create prints every step of every ship", async () => {
    const result = await laptop.cli(["ship", "create", "plain", "--count", "2", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    ships.push(...JSON.parse(result.stdout).map((ship: { name: string }) => ship.name));
    for (const ship of ships) {
      assert.match(result.stderr, new RegExp(`^  ${ship}: waiting for it to answer$`, "m"));
      assert.match(result.stderr, new RegExp(`^  ${ship}: ready$`, "m"));
    }
    assert.ok(!result.stderr.includes("\x1b["), "no cursor movement off a terminal");
  });

  await t.step("on a terminal, ship create leaves one line per ship", async () => {
    await using terminal = await Terminal.start(
      [Deno.execPath(), "run", "-A", "--quiet", CLI, "ship", "create", "live", "--count", "3"],
      {
        HOME: laptop.home,
        NO_COLOR: "1",
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      },
      { rows: 60 },
    );
    const screen = await terminal.waitFor(/\[exited \d+\]/, 60_000);
    assert.match(screen, /\[exited 0\]/);
    const lines = screen.split("\n").filter((line) => /^ {2}ship-live-\S+: /.test(line));
    assert.equal(lines.length, 3, `one line per ship:\n${screen}`);
    for (const line of lines) assert.match(line, /^ {2}ship-live-\S+: ready\s*$/);
    const made = screen.split("\n").filter((line) => /^ship-live-\S+$/.test(line.trim()));
    ships.push(...made.map((line) => line.trim()));
    assert.equal(ships.length, 5);
  });

  await t.step("fleet status writes the ship names cache, private, for completion", async () => {
    const cache = memberPaths(laptop.home).shipNamesCache;
    await Deno.remove(cache).catch(() => {});
    const result = await laptop.cli(["fleet", "status", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await Deno.readTextFile(cache), [...ships].sort().map((s) => `${s}\n`).join(""));
    assert.equal((await Deno.stat(cache)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(cache, ".."))).mode! & 0o777, 0o700);
    assert.deepEqual(
      [...Deno.readDirSync(join(cache, ".."))].map((entry) => entry.name),
      ["ships"],
      "no temporary file left",
    );
  });

  await t.step("ship destroy drops the name; sink --scuttle empties the cache", async () => {
    const cache = memberPaths(laptop.home).shipNamesCache;
    const destroyed = await laptop.cli(["ship", "destroy", ships[0]]);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.doesNotMatch(await Deno.readTextFile(cache), new RegExp(ships[0]));
    const sunk = await laptop.cli(["fleet", "sink", "--scuttle", "--force"]);
    assert.equal(sunk.code, 0, sunk.stderr);
    for (const ship of ships.slice(1)) {
      assert.match(sunk.stderr, new RegExp(`^  ${ship}: destroyed$`, "m"));
    }
    assert.equal(await Deno.readTextFile(cache), "");
  });
});
