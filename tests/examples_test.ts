/**
 * Every script in examples/ runs as a user would run it (`deno run examples/<name>.ts`, which
 * imports the package by name), against the local provider, and says what it should; and a
 * throwaway `Fleet.local()` goes away on SIGTERM too.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runProcess } from "../lib/process.ts";
import { CLI_PERMISSIONS } from "../lib/self_command.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function example(name: string, args: string[] = [], tmp?: string) {
  const result = await runProcess(
    Deno.execPath(),
    ["run", ...CLI_PERMISSIONS, `examples/${name}.ts`, ...args],
    { cwd: ROOT, timeoutMs: 180_000, env: { NO_COLOR: "1", ...(tmp ? { TMPDIR: tmp } : {}) } },
  );
  return result;
}

// What a throwaway fleet left in the temporary directory: its home (ohcommodore-local-*) must
// be gone. ohc-wake-<uid> is this user's socket directory for deep homes (lib/inbox/wake.ts),
// shared by every inbox of the user, so it stays, as tmux's does; the test's directory takes it.
function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name)
    .filter((name) => !name.startsWith("ohc-wake-"));
}

Deno.test("examples: one ship per repository of a list", async () => {
  await using tmp = await tempDir("ohc-example-");
  const run = await example("ship_per_repo", [], tmp.path);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^ship-api-\w+ \(file:.*api\.git\): [0-9a-f]+ first$/m);
  assert.match(run.stdout, /^ship-web-\w+ \(file:.*web\.git\): [0-9a-f]+ first$/m);
  assert.deepEqual(leftovers(tmp.path), []);
});

Deno.test("examples: the tests everywhere, and the ship where they failed", async () => {
  await using tmp = await tempDir("ohc-example-");
  const run = await example("test_everywhere", [], tmp.path);
  assert.equal(run.code, 1, run.stderr);
  assert.equal(run.stdout.match(/: passed in \d+ ms$/gm)?.length, 2, run.stdout);
  assert.equal(run.stdout.match(/: FAILED in \d+ ms$/gm)?.length, 1, run.stdout);
  assert.match(run.stdout, /\(exit 1\):\n1 test failed/);
  assert.deepEqual(leftovers(tmp.path), []);
});

Deno.test("examples: ship to ship to flagship", async () => {
  await using tmp = await tempDir("ohc-example-");
  const run = await example("ship_to_ship", [], tmp.path);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^the flagship got "echo files: \d+" from captain@ship-crew-\w+$/m);
  assert.match(run.stdout, /^it ran on the flagship \(exit code 0\): files: \d+$/m);
  assert.deepEqual(leftovers(tmp.path), []);
});

Deno.test("examples: a long command followed to its end", async () => {
  await using tmp = await tempDir("ohc-example-");
  const run = await example("follow_long_command", ["2"], tmp.path);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /: running since /);
  assert.match(run.stdout, /done, exit code 0, output:\nstep 1\nstep 2\n/);
  assert.deepEqual(leftovers(tmp.path), []);
});

// Runs a script that makes a Fleet.local with one ship, prints its home, runs `then` and waits
// forever; sends it SIGTERM; gives back its exit status, the home and what it printed after.
async function heldFleetOnSigterm(then: string) {
  await using tmp = await tempDir("ohc-example-");
  const script = `${tmp.path}/hold.ts`;
  await Deno.writeTextFile(
    script,
    `import { Fleet } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};\n` +
      `const fleet = await Fleet.local();\nawait fleet.createShips("held");\n` +
      `console.log(fleet.home);\n${then}\nawait new Promise(() => {});\n`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_PERMISSIONS, script],
    cwd: ROOT,
    env: { TMPDIR: tmp.path },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  while (!printed.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    printed += value;
  }
  const home = printed.slice(0, printed.indexOf("\n"));
  assert.ok(Deno.statSync(home).isDirectory);
  child.kill("SIGTERM");
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    printed += read.value;
  }
  const status = await child.status;
  assert.throws(() => Deno.statSync(home), Deno.errors.NotFound);
  // No scheduler of its members is left: they ran with the home in their command line.
  const ps = await runProcess("ps", ["-eo", "args"], { timeoutMs: 10_000 });
  assert.ok(!ps.stdout.includes(home), "a process of the fleet is still running");
  return { status, after: printed.slice(home.length + 1) };
}

Deno.test("Fleet.local is sunk and removed on SIGTERM, which then ends the process", async () => {
  const { status } = await heldFleetOnSigterm("");
  assert.equal(status.signal, "SIGTERM", "after the sinking, the signal ends it as it would have");
});

Deno.test("Fleet.local sinks on SIGTERM and leaves the ending to a script that listens for it", async () => {
  // The script hears the signal twice: as it comes, and raised again once the fleet is sunk.
  const { status, after } = await heldFleetOnSigterm(
    `let heard = 0;\nDeno.addSignalListener("SIGTERM", () => {\n` +
      `  if (++heard < 2) return;\n` +
      `  try { Deno.statSync(fleet.home); console.log("afloat"); } catch { console.log("sunk"); }\n` +
      `  Deno.exit(7);\n});`,
  );
  assert.equal(status.code, 7, "the script's own listener decided");
  assert.equal(after, "sunk\n");
});

Deno.test("examples: warm ships, copies of a repository's template", async () => {
  await using tmp = await tempDir("ohc-example-");
  const run = await example("warm_ships", [], tmp.path);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 4, run.stdout);
  const [first, ...copies] = lines.map((line) =>
    line.match(/^(ship-web-\w+): (.*); answers as (\S+); at (\w+)$/)!
  );
  assert.equal(first[2], "set up from nothing");
  for (const copy of copies) {
    assert.equal(copy[2], `a copy of ${first[1]}`);
    assert.equal(copy[3], `captain@${copy[1]}`, "each copy answers as itself");
    assert.equal(copy[4], first[4], "at the same commit");
  }
  assert.deepEqual(leftovers(tmp.path), []);
});
