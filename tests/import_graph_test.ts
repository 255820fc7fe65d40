// The shape of lib/: the library never imports the CLI, and no module imports itself back
// through others (a type shared by two modules lives in a leaf both import).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runProcess } from "../lib/process.ts";

const ROOT = new URL("../", import.meta.url);
// Every entry point of the package: mod.ts, its subpaths (inbox.ts, fleet.ts, …) and cli.ts.
const ENTRY_POINTS = Object.values(
  (JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    exports: Record<string, string>;
  }).exports,
);

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

// lib/ files (relative to the repository) → the lib/ files they import, type-only imports too:
// a cycle through a type is still a cycle for whoever reads or moves the code.
async function libGraph(): Promise<Map<string, Set<string>>> {
  const graph = new Map<string, Set<string>>();
  const relative = (specifier: string) =>
    specifier.startsWith(ROOT.href) ? specifier.slice(ROOT.href.length) : null;
  for (const entry of ENTRY_POINTS) {
    const result = await runProcess(Deno.execPath(), ["info", "--json", entry], {
      cwd: fileURLToPath(ROOT),
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const modules = (JSON.parse(result.stdout) as { modules: InfoModule[] }).modules;
    for (const module of modules) {
      const from = relative(module.specifier);
      if (!from?.startsWith("lib/")) continue;
      const edges = graph.get(from) ?? new Set<string>();
      graph.set(from, edges);
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
          const to = target ? relative(target) : null;
          if (to?.startsWith("lib/")) edges.add(to);
        }
      }
    }
  }
  return graph;
}

// Every cycle found by a depth-first walk, each as the path that closes it.
function cyclesOf(graph: Map<string, Set<string>>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string) => {
    const open = path.indexOf(file);
    if (open >= 0) {
      cycles.push([...path.slice(open), file]);
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const next of [...(graph.get(file) ?? [])].sort()) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) visit(file);
  return cycles;
}

Deno.test("the cycle finder finds a cycle through three files and none in a chain", () => {
  const graph = (edges: [string, string][]) => {
    const map = new Map<string, Set<string>>();
    for (const [from, to] of edges) map.set(from, new Set([...(map.get(from) ?? []), to]));
    return map;
  };
  assert.deepEqual(cyclesOf(graph([["a", "b"], ["b", "c"], ["c", "a"]])), [["a", "b", "c", "a"]]);
  assert.deepEqual(cyclesOf(graph([["a", "b"], ["b", "c"], ["a", "c"]])), []);
});

Deno.test("no lib/ module imports itself back through others", async () => {
  const cycles = cyclesOf(await libGraph());
  assert.deepEqual(cycles.map((cycle) => cycle.join(" → ")), []);
});

/**
 * The folders of lib/ as layers, lowest first: a file imports from its own folder and from the
 * folders below it, never from one above. The small files at lib/ root (paths, ssh, errors,
 * lines, …) serve everyone; the inbox stands on them; the relay carries inbox messages for
 * keyless ships; providers make VMs; agent is what runs on a ship for a task; plans are bodies
 * of agent tasks that the flagship drives over ships it is given; the fleet drives members,
 * providers, the relay, agents and plans; views (the dashboard, the terminal's watch) read the
 * fleet as one live model; the CLI presents the library.
 */
const LAYERS = ["", "inbox", "relay", "providers", "agent", "plan", "fleet", "view", "cli"];

// The folder of a lib/ file: "" at lib/ root.
function folderOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? parts[1] : "";
}

// The imports that go up the layers, as "from → to".
function upwardImports(graph: Map<string, Set<string>>): string[] {
  const wrong: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const rank = (file: string) => LAYERS.indexOf(folderOf(file));
      assert.ok(
        rank(from) >= 0 && rank(to) >= 0,
        `${from} or ${to} is in no layer: add its folder`,
      );
      if (rank(to) > rank(from)) wrong.push(`${from} → ${to}`);
    }
  }
  return wrong.sort();
}

Deno.test("the layer check refuses an import from a higher folder, and allows one from a lower", () => {
  const graph = new Map([
    ["lib/inbox/send.ts", new Set(["lib/relay/ship_sender.ts", "lib/paths.ts"])],
    ["lib/fleet/fleet.ts", new Set(["lib/agent/task.ts", "lib/inbox/inbox.ts"])],
  ]);
  assert.deepEqual(upwardImports(graph), ["lib/inbox/send.ts → lib/relay/ship_sender.ts"]);
});

Deno.test("no lib/ folder imports from a folder above it (the CLI is the top)", async () => {
  const graph = await libGraph();
  assert.ok(graph.has("lib/fleet/fleet.ts"), "the graph covers the library");
  assert.deepEqual(upwardImports(graph), []);
});
