/**
 * The package as another project sees it: imported by path from a directory outside this
 * repository, with that project's own (empty) config and no access to our import map.
 *
 * Where DuckDB's native addon comes from: a project without `nodeModulesDir` (and without a
 * package.json) uses Deno's global npm cache, which installs `@duckdb/node-bindings`' optional
 * dependency for this platform and loads its `.node` file from there; `nodeModulesDir: "auto"`
 * makes a `node_modules` in that project and loads it from there. `"manual"` finds nothing: it
 * reads only the importing project's own `node_modules` (never this repository's), so it works
 * after that project runs `deno install`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runProcess } from "../lib/process.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const INBOX = new URL("../inbox.ts", import.meta.url).href;

// The user's script: parse an address, then a delivery and a listing on a real DuckDB file; the
// root and a subpath, as a user's script would take them.
const SCRIPT = `
import { Inbox } from ${JSON.stringify(MOD)};
import { formatAddress, parseAddress } from ${JSON.stringify(INBOX)};

const [home] = Deno.args;
const address = parseAddress("captain@ship-web");
const inbox = await Inbox.open({ home, identity: { role: address.role, name: address.host } });
const sent = await inbox.deliver({ recipient: formatAddress(address), command: "echo 'it''s \\"here\\"'" });
const [listed] = await inbox.list();
console.log(JSON.stringify({ address: inbox.address, sent: sent.id, listed }));
`;

async function runOutside(config: Record<string, unknown>) {
  const project = await Deno.makeTempDir({ prefix: "ohc-package-" });
  try {
    await Deno.writeTextFile(join(project, "deno.json"), JSON.stringify(config));
    await Deno.writeTextFile(join(project, "main.ts"), SCRIPT);
    const home = join(project, "home");
    await Deno.mkdir(home);
    const result = await runProcess(Deno.execPath(), ["run", "-A", "main.ts", home], {
      cwd: project,
      timeoutMs: 120_000,
      env: { NO_COLOR: "1" },
    });
    const entries = [];
    for await (const entry of Deno.readDir(project)) entries.push(entry.name);
    return { ...result, entries };
  } finally {
    await Deno.remove(project, { recursive: true });
  }
}

function assertRoundTrip(result: { code: number; stdout: string; stderr: string }) {
  assert.equal(result.code, 0, result.stderr);
  const output = JSON.parse(result.stdout);
  assert.equal(output.address, "captain@ship-web");
  assert.equal(output.listed.id, output.sent);
  assert.equal(output.listed.status, "unread");
  assert.equal(output.listed.recipient, "captain@ship-web");
  assert.equal(output.listed.command, `echo 'it''s "here"'`);
}

Deno.test("another project imports mod.ts and inbox.ts by path and runs an inbox round trip on DuckDB", async () => {
  const result = await runOutside({});
  assertRoundTrip(result);
  assert.ok(!result.entries.includes("node_modules"), "the global npm cache served DuckDB");
});

Deno.test("another project with nodeModulesDir auto loads DuckDB from its own node_modules", async () => {
  const result = await runOutside({ nodeModulesDir: "auto" });
  assertRoundTrip(result);
  assert.ok(result.entries.includes("node_modules"));
});

Deno.test("every JSDoc example imports the package by its name or a subpath, as a user's code would", async () => {
  const root = new URL("../", import.meta.url);
  const { name, exports } = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as {
    name: string;
    exports: Record<string, string>;
  };
  const entries = Object.values(exports).map((path) => path.replace(/^\.\//, ""));
  // "@smithclay/ohcommodore", "@smithclay/ohcommodore/inbox", …: deno check --doc-only then
  // checks that each name imported is exported there.
  const specifiers = new Set(Object.keys(exports).map((key) => name + key.slice(1)));
  const files = [...entries];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (path.endsWith(".ts")) files.push(path);
    }
  };
  await walk("lib");
  // Only what an entry re-exports is the package's surface; internal modules may import freely.
  const surface = new Set<string>();
  for (const entry of entries) {
    const text = await Deno.readTextFile(new URL(entry, root));
    for (const [, file] of text.matchAll(/from "\.\/(lib\/[^"]+)"/g)) surface.add(file);
  }
  const wrong: string[] = [];
  for (const file of files.filter((file) => !file.startsWith("lib/") || surface.has(file))) {
    const text = await Deno.readTextFile(new URL(file, root));
    for (const block of text.matchAll(/@example[^\n]*\n \* ```ts\n([\s\S]*?) \* ```/g)) {
      for (const [line, from] of block[1].matchAll(/import [^;]* from "([^"]+)";/g)) {
        if (!specifiers.has(from)) wrong.push(`${file}: ${line}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the library never ends its caller's process: Deno.exit only in the CLI", async () => {
  const root = new URL("../", import.meta.url);
  const exits: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && path !== "lib/cli") await walk(path);
      else if (path.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(path, root));
        // Code, not prose: a comment or an example may name it.
        const code = text.split("\n").filter((line) => !/^\s*(\/\/|\*)/.test(line));
        if (code.some((line) => /\bDeno\.exit\(/.test(line))) exits.push(path);
      }
    }
  };
  await walk("lib");
  assert.deepEqual(exits, []);
});
