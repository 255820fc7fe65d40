/**
 * `ohcommodore _setup-copy` on a copy of a ship's home, as the flagship runs it on a new copy:
 * what the copy forgets, what it writes, its checkout, the scheduler its boot started (through
 * a stand-in systemctl) killed and its own started, and nothing touched when it runs another
 * program than the flagship's.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { bindIdentity, readIdentity, writeIdentity } from "../lib/identity.ts";
import { COPY_FORGETS, type CopySetup } from "../lib/fleet/copy_setup.ts";
import { runProcess } from "../lib/process.ts";
import { stopMemberProcesses } from "./helpers/member_processes.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

// systemd as a copied VM has it: the source's unit enabled, its scheduler started at boot.
const FAKE_SYSTEMCTL = `echo "$*" >>"$HOME/../systemctl.log"
case "$*" in
  "--user is-enabled --quiet "*) exit 0 ;;
  "--user kill --signal=SIGKILL "*|"--user stop "*) exit 0 ;;
  "--user start "*) ohcommodore _scheduler </dev/null >/dev/null 2>&1 & ;;
  *) exit 1 ;;
esac
`;

async function sh(script: string, env: Record<string, string> = {}): Promise<string> {
  const result = await runProcess("sh", ["-c", script], { timeoutMs: 60_000, env });
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** A ship's home as its source left it (history, a key, a branch, a change), and a copy of it. */
async function copiedHome(root: string) {
  const source = join(root, "source");
  const copy = join(root, "copy");
  const origin = join(root, "web.git");
  const git = `git -c user.name=t -c user.email=t@t`;
  await sh(
    `git init -q --bare --initial-branch=main ${origin} && git clone -q ${origin} ${root}/w &&
    echo one > ${root}/w/README.md && cd ${root}/w && ${git} add . && ${git} commit -qm one &&
    git push -q origin HEAD:main && git clone -q ${origin} ${source}/web`,
  );
  await writeIdentity(
    bindIdentity({
      role: "captain",
      name: "ship-web-k3f9aaaa",
      workdir: join(source, "web"),
      flagship: { name: "flagship-k3f9", destination: "flagship-k3f9.exe.xyz" },
    }, source),
    source,
  );
  const files: Record<string, string> = {
    ".ohcommodore/.env": "VM_NAME='ship-web-k3f9aaaa'\nGH_TOKEN='ghp_old'\n",
    ".ohcommodore/tasks/t1.json": "{}\n",
    ".ohcommodore/outbox/m1.json": "{}\n",
    ".ohcommodore/run/channel.json": "{}\n",
    ".ohcommodore/ssh/x.inbox.json": "{}\n",
    ".ohcommodore/init.log": "init.sh: done\n",
    ".local/ship/data.duckdb": "not really a database\n",
    ".local/ship/data.duckdb.report.json": '{"address":"captain@ship-web-k3f9aaaa"}\n',
    ".local/ship/data.duckdb.scheduler.lock.pid": "1\n",
    ".ssh/id_ed25519": "the source's private key\n",
    ".ssh/id_ed25519.pub": "ssh-ed25519 AAAA ship-web-k3f9aaaa\n",
    ".claude/projects/p/s.jsonl": "{}\n",
    ".claude/settings.json": "{}\n",
    ".claude-standin/calls.jsonl": "{}\n",
    ".cache/tool/warm": "a cache the copy keeps\n",
    ".config/systemd/user/ohcommodore-scheduler.service": "[Service]\n",
  };
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(source, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(source, path), text);
  }
  await sh(`cd ${source}/web && git checkout -q -b source-work && echo two >> README.md &&
    echo mine > scratch.txt && echo '*.log' > .git/info/exclude && echo kept > build.log`);
  // Origin moves on after the source was made.
  await sh(`cd ${root}/w && echo news > NEWS.md && ${git} add . && ${git} commit -qm two &&
    git push -q origin HEAD:main`);
  const program = `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet '${CLI}' "$@"\n`;
  await Deno.mkdir(join(source, ".local/bin"), { recursive: true });
  await Deno.writeTextFile(join(source, ".local/bin/ohcommodore"), program, { mode: 0o755 });
  await sh(`cp -a ${source} ${copy}`);
  const fakeBin = join(root, "bin");
  await Deno.mkdir(fakeBin);
  await Deno.writeTextFile(join(fakeBin, "systemctl"), FAKE_SYSTEMCTL, { mode: 0o755 });
  const head = await sh(`git --git-dir ${origin} rev-parse main`);
  const sha = createHash("sha256").update(program).digest("hex");
  return { source, copy, fakeBin, head, sha };
}

Deno.test("a copy made its own forgets its source's history, keeps its caches, and starts clean", async () => {
  await using root = await tempDir("ohc-copy-setup-");
  const { source, copy, fakeBin, head, sha } = await copiedHome(root.path);
  // Disposed first: the scheduler started in the copy goes before the directory does.
  await using _copy = { [Symbol.asyncDispose]: () => stopMemberProcesses(copy) };
  const env = {
    HOME: copy,
    PATH: `${fakeBin}:${copy}/.local/bin:/usr/local/bin:/usr/bin:/bin`,
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    NO_COLOR: "1",
  };
  const setup: CopySetup = {
    version: 1,
    name: "ship-web-k3f9bbbb",
    source: "ship-web-k3f9aaaa",
    flagship: { name: "flagship-k3f9", destination: "flagship-k3f9.exe.xyz" },
    keyless: false,
    env: "VM_NAME='ship-web-k3f9bbbb'\nGH_TOKEN='ghp_new'\n",
    key: { privateKey: "the copy's own private key\n", publicKey: "ssh-ed25519 BBBB copy" },
    programSha256: sha,
  };
  const run = (request: CopySetup) =>
    runProcess(join(copy, ".local/bin/ohcommodore"), ["_setup-copy"], {
      stdin: JSON.stringify(request),
      env,
      clearEnv: true,
      timeoutMs: 120_000,
    });

  // Another program than the flagship's: nothing is touched, the flagship is told.
  const other = await run({ ...setup, programSha256: "0".repeat(64) });
  assert.equal(other.code, 0, other.stderr);
  assert.deepEqual(JSON.parse(other.stdout), { programDiffers: true });
  assert.ok((await Deno.stat(join(copy, ".ohcommodore/tasks/t1.json"))).isFile);

  const made = await run(setup);
  assert.equal(made.code, 0, made.stderr);
  const answer = JSON.parse(made.stdout);
  assert.equal(answer.address, "captain@ship-web-k3f9bbbb");
  assert.equal(answer.workdir, join(copy, "web"));
  assert.equal(answer.branch, "main");
  assert.equal(answer.head, head);
  assert.equal(answer.scheduler.systemd, true);
  assert.deepEqual(answer.warnings, []);

  const calls = await Deno.readTextFile(join(root.path, "systemctl.log"));
  assert.match(
    calls,
    /--user kill --signal=SIGKILL ohcommodore-scheduler\.service\n--user stop ohcommodore-scheduler\.service\n(.*\n)*--user start ohcommodore-scheduler\.service\n/,
    "the scheduler its boot started is killed before anything is forgotten; its own is started",
  );
  const identity = await readIdentity(copy);
  assert.deepEqual(identity, {
    role: "captain",
    name: "ship-web-k3f9bbbb",
    workdir: join(copy, "web"),
    flagship: { name: "flagship-k3f9", destination: "flagship-k3f9.exe.xyz" },
    home: copy,
  });
  assert.equal(await Deno.readTextFile(join(copy, ".ohcommodore/.env")), setup.env);
  assert.equal((await Deno.stat(join(copy, ".ohcommodore/.env"))).mode! & 0o077, 0);
  assert.equal(await Deno.readTextFile(join(copy, ".ssh/id_ed25519")), setup.key!.privateKey);
  assert.equal((await Deno.stat(join(copy, ".ssh/id_ed25519"))).mode! & 0o077, 0);
  for (const gone of [".ohcommodore/tasks", ".ohcommodore/outbox", ".ohcommodore/run"]) {
    await assert.rejects(Deno.stat(join(copy, gone)), Deno.errors.NotFound, gone);
  }
  for (const gone of [".ohcommodore/ssh", ".claude/projects", ".claude-standin"]) {
    await assert.rejects(Deno.stat(join(copy, gone)), Deno.errors.NotFound, gone);
  }
  assert.match(await Deno.readTextFile(join(copy, ".ohcommodore/init.log")), /is a copy of/);
  // Kept: what makes a copy warm.
  assert.ok((await Deno.stat(join(copy, ".cache/tool/warm"))).isFile);
  assert.ok((await Deno.stat(join(copy, ".claude/settings.json"))).isFile);
  assert.ok((await Deno.stat(join(copy, "web/build.log"))).isFile, "ignored files stay");
  // The checkout: origin's main, clean, no branch of the source's.
  const git = (args: string) => sh(`git -C ${copy}/web ${args}`);
  assert.equal(await git("status --porcelain"), "");
  assert.equal(await git("branch --format='%(refname:short)'"), "main");
  await assert.rejects(Deno.stat(join(copy, "web/scratch.txt")));
  // The scheduler answers as the copy, from an inbox of its own.
  const status = await runProcess(
    join(copy, ".local/bin/ohcommodore"),
    ["inbox", "list", "--json"],
    {
      env,
      clearEnv: true,
      timeoutMs: 60_000,
    },
  );
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout), []);
  const report = JSON.parse(
    await Deno.readTextFile(join(copy, ".local/ship/data.duckdb.report.json")),
  );
  assert.equal(report.address, "captain@ship-web-k3f9bbbb");

  // The source's home is as it was.
  assert.equal((await readIdentity(source)).name, "ship-web-k3f9aaaa");
  for (const kept of [".ohcommodore/tasks/t1.json", ".local/ship/data.duckdb", ".ssh/id_ed25519"]) {
    assert.ok((await Deno.stat(join(source, kept))).isFile, kept);
  }
  assert.equal(await sh(`git -C ${source}/web branch --show-current`), "source-work");
});

Deno.test("every path a copy forgets is in its home, and says what it is", () => {
  for (const forgotten of COPY_FORGETS) {
    assert.ok(forgotten.path("/home/exedev").startsWith("/home/exedev/"), forgotten.what);
    assert.ok(forgotten.what.length > 0);
  }
});
