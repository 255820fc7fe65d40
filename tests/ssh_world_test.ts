import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { SshWorld } from "./helpers/ssh_world.ts";

const PROJECT_DIR = fileURLToPath(new URL("..", import.meta.url));
// Users are machine-wide: names of their own keep these tests clear of other suites' VMs.
const A = "smoke-a";
const B = "smoke-b";
const SSH = ["ssh", "-o", "BatchMode=yes"];

Deno.test("a vm reaches another vm over ssh as that vm's user", async () => {
  await using world = await SshWorld.start({ vms: [A, B] });
  const result = await world.exec(A, [...SSH, B, "id -un; pwd"]);
  assert.equal(result.stderr, "");
  assert.equal(result.stdout, `ohc-smoke-b\n${world.vm(B).home}\n`);
  assert.equal(result.code, 0);
});

Deno.test("the launcher runs deno as the vm user with the duckdb addon", async () => {
  await using app = await fakeApp(`
    import { DuckDBInstance } from "@duckdb/node-api";
    const instance = await DuckDBInstance.create(Deno.env.get("HOME") + "/t.duckdb");
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll("SELECT 6 * 7 AS answer");
    console.log(Deno.uid(), reader.getRowObjects()[0].answer, Deno.args.join(" "));
    connection.closeSync();
    instance.closeSync();
  `);
  await using world = await SshWorld.start({ vms: [A], appDir: app.dir });
  const vm = world.vm(A);
  const result = await world.cli(A, ["one", "two words"]);
  assert.equal(result.stderr, "");
  assert.equal(result.stdout, `${vm.uid} 42 one two words\n`);
  assert.equal((await Deno.stat(`${vm.home}/t.duckdb`)).uid, vm.uid);
  // The app dir was private to root, so the world ran a readable copy.
  assert.notEqual(world.appDir, app.dir);
});

Deno.test("dispose stops sshd and the users' processes", async () => {
  await using app = await fakeApp(`setInterval(() => console.log("tick"), 50);`);
  await using world = await SshWorld.start({ vms: [A], appDir: app.dir });
  const spawned = world.spawnCli(A, []);
  // A detached process the world did not start itself.
  await world.exec(A, [...SSH, A, "setsid sleep 600 </dev/null >/dev/null 2>&1 &"]);
  await eventually(async () => (await Deno.readTextFile(spawned.logFile)).includes("tick"));
  assert.ok((await world.pids(A)).length >= 2, "the spawned CLI and sleep run");

  await world[Symbol.asyncDispose]();

  assert.equal((await spawned.child.status).signal, "SIGKILL");
  assert.deepEqual(await world.pids(A), []);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: world.port }));
  await assert.rejects(Deno.stat(world.dir));
});

/** A stand-in for the project: `source` as cli.ts, with the project's deno.json and packages. */
async function fakeApp(source: string): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "ohc-fake-app-" });
  await Deno.writeTextFile(`${dir}/cli.ts`, source);
  await Deno.copyFile(`${PROJECT_DIR}/deno.json`, `${dir}/deno.json`);
  await Deno.symlink(`${PROJECT_DIR}/node_modules`, `${dir}/node_modules`);
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
