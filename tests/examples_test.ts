/**
 * Every script in examples/ runs as a user would run it (`deno run examples/<name>.ts`, which
 * imports the package by name), against the local provider, and says what it should; and a
 * throwaway `Fleet.local()` goes away on SIGTERM too.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runProcess } from "../lib/process.ts";
import { CLI_PERMISSIONS } from "../lib/self.ts";
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

Deno.test("Fleet.local is sunk and removed on SIGTERM", async () => {
  await using tmp = await tempDir("ohc-example-");
  const script = `${tmp.path}/hold.ts`;
  await Deno.writeTextFile(
    script,
    `import { Fleet } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};\n` +
      `const fleet = await Fleet.local();\nawait fleet.createShips("held");\n` +
      `console.log(fleet.home);\nawait new Promise(() => {});\n`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_PERMISSIONS, script],
    cwd: ROOT,
    env: { TMPDIR: tmp.path },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let home = "";
  while (!home.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    home += value;
  }
  home = home.trim();
  assert.ok(Deno.statSync(home).isDirectory);
  child.kill("SIGTERM");
  const status = await child.status;
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  assert.equal(status.code, 130);
  assert.throws(() => Deno.statSync(home), Deno.errors.NotFound);
  // No scheduler of its members is left: they ran with the home in their command line.
  const ps = await runProcess("ps", ["-eo", "args"], { timeoutMs: 10_000 });
  assert.ok(!ps.stdout.includes(home), "a process of the fleet is still running");
});
