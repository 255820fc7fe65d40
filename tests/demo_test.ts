/**
 * The README's first command, `deno task demo` (examples/local_demo.ts), run as a newcomer runs
 * it: a whole local fleet made, used and sunk, with nothing left behind. Also on a PATH without
 * GNU timeout and systemd, which a Mac lacks (bash 3.2 and BSD tools are not tried here).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runProcess } from "../lib/process.ts";
import { binWithout } from "./helpers/bin_without.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const PROJECT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

async function runDemo(env: Record<string, string> = {}) {
  const result = await runProcess(Deno.execPath(), ["run", "-A", "examples/local_demo.ts"], {
    cwd: PROJECT,
    env: { NO_COLOR: "1", ...env },
    timeoutMs: 180_000,
  });
  const home = result.stderr.match(/\(home: (\S+)\)/)?.[1];
  assert.ok(home, `the demo names its home: ${result.stderr}`);
  return { ...result, home };
}

/** Processes (not zombies) whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") continue;
      const cmdline = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).replaceAll(
        "\0",
        " ",
      );
      if (cmdline.includes(text)) found.push(`${entry.name}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function assertDemoWorked(demo: Awaited<ReturnType<typeof runDemo>>): Promise<void> {
  assert.equal(demo.code, 0, demo.stderr);
  // Ship to ship, ship to flagship, laptop to ship (a failing command), then the status.
  assert.match(demo.stdout, /^captain@ship-web-\w+ asked \S+\/web to run this\nREADME\.md$/m);
  assert.match(demo.stdout, /^received by commodore@flagship-\w+$/m);
  assert.match(demo.stdout, /^error, exit code 3: [0-9a-f]{7,} first$/m);
  const statusLines = demo.stdout.match(
    /^\S+ +scheduler running +done \d+ +error \d+ +version \S+$/gm,
  );
  assert.equal(statusLines?.length, 3, demo.stdout);
  // A plan of three tasks, the last needing the other two, worked by the stand-in (this machine
  // has no Claude Code), each verified and brought onto origin's demo branch, the last on top.
  assert.match(demo.stderr, /with a stand-in agent/);
  assert.match(
    demo.stdout,
    /^plan [0-9a-f]{8}: done, readme done, license done, changelog done, \$0\.0375$/m,
  );
  assert.match(
    demo.stdout,
    /^origin's demo branch: Stand-in: Start a CHANGELOG[^|]*\| Stand-in: (Add|Describe)[^|]*\| Stand-in: (Add|Describe)[^|]*\| first$/m,
  );
  assert.match(demo.stderr, /^ {2}dispatched changelog on ship-web-\w+: attempt 1 of 2$/m);
  // Progress in words, for the flagship as for the ships; the end says what was sunk.
  assert.match(demo.stderr, /^ {2}flagship-\w+: running cloudinit\/init\.sh$/m);
  assert.match(demo.stderr, /^ {2}ship-web-\w+: running cloudinit\/init\.sh$/m);
  assert.doesNotMatch(demo.stderr, /: (init\.sh|reach|destroy)$/m);
  assert.match(demo.stderr, /sank 2 ship\(s\) and the flagship/);
  await assert.rejects(Deno.stat(demo.home), Deno.errors.NotFound, "the demo's home is removed");
  assert.deepEqual(await processesMentioning(demo.home), [], "no scheduler is left running");
}

// TMPDIR: the ships' homes are deep, so their schedulers' sockets go to $TMPDIR/ohc-wake-<uid>
// (lib/inbox/wake.ts), a directory that outlives the demo; the test's own directory holds it.
Deno.test("the local demo makes a fleet, sends work through it and sinks it", async () => {
  await using tmp = await tempDir("ohc-demo-");
  await assertDemoWorked(await runDemo({ TMPDIR: tmp.path }));
});

Deno.test("the local demo runs without GNU timeout and systemd, as on a Mac", async () => {
  await using root = await tempDir("ohc-demo-path-");
  const bin = await binWithout(root.path, ["timeout", "systemctl", "loginctl"]);
  await assertDemoWorked(await runDemo({ PATH: bin, TMPDIR: root.path }));
});
