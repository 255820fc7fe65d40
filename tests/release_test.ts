import assert from "node:assert/strict";
import { smoke } from "../.ci/smoke.ts";
import { CLI_PERMISSIONS, CLI_RUN_FLAGS, selfCommand } from "../lib/self_command.ts";
import denoJson from "../deno.json" with { type: "json" };
import { join } from "node:path";
import { tempDir } from "./helpers/temp_dir.ts";

const quiet = () => {};

Deno.test("the release smoke test passes on the CLI run with its own permission list", async () => {
  // The argv the scheduler and sandbox launchers use: deno run with CLI_PERMISSIONS.
  await smoke(selfCommand(), quiet);
});

Deno.test("the release smoke test fails on a CLI that lacks a permission it needs", async () => {
  const [deno, run, ...rest] = selfCommand();
  const withoutFfi = [deno, run, ...rest.filter((flag) => flag !== "--allow-ffi")];
  await assert.rejects(smoke(withoutFfi, quiet), /Requires ffi access/);
});

Deno.test("the compile tasks and the release workflow take their permissions from lib/self_command.ts", async () => {
  const flags = "$(deno run --quiet lib/self_command.ts)";
  const workflow = await Deno.readTextFile(
    new URL("../.github/workflows/release.yml", import.meta.url),
  );
  const tasks = Object.entries(denoJson.tasks).filter(([name]) => name.startsWith("compile"));
  const text = [...tasks.map(([, task]) => task.command), workflow].join("\n");
  const compiles = text.match(/deno compile[\s\S]*?cli\.ts/g) ?? [];
  assert.ok(compiles.length >= 3, "two tasks and the workflow compile");
  for (const command of compiles) {
    assert.ok(command.includes(`deno compile ${flags}`), command);
    assert.doesNotMatch(command, /\s(-A|--allow-all)\s/);
    // Lazy dynamic imports would leave every module behind an import() out of the binary.
    assert.doesNotMatch(command, /lazy-dynamic-imports|self_command\.ts --run/);
  }
  const printed = async (args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "lib/self_command.ts", ...args],
      cwd: new URL("..", import.meta.url),
    }).output();
    assert.equal(output.code, 0);
    return new TextDecoder().decode(output.stdout).trim().split(" ");
  };
  assert.deepEqual(await printed([]), CLI_PERMISSIONS);
  assert.deepEqual(await printed(["--run"]), [...CLI_PERMISSIONS, ...CLI_RUN_FLAGS]);
  assert.match(workflow, /deno run -A \.ci\/smoke\.ts dist\/ohcommodore-/);
  assert.ok(!CLI_PERMISSIONS.includes("-A") && !CLI_PERMISSIONS.includes("--allow-all"));
});

Deno.test("deno task ok checks, and lints the docs of, every entry point in deno.json exports", () => {
  const ok = denoJson.tasks.ok.command;
  const entries = Object.values(denoJson.exports).map((path) => path.replace(/^\.\//, ""));
  const filesOf = (command: RegExp) =>
    (ok.match(command)?.[1].trim().split(/\s+/) ?? []).filter((file) => file.endsWith(".ts"));
  assert.deepEqual(filesOf(/deno doc --lint ([^&]+)/).sort(), [...entries].sort());
  assert.deepEqual(filesOf(/deno check --doc-only ([^&]+)/).sort(), [...entries].sort());
  assert.deepEqual(filesOf(/deno check (?!--)([^&]+)/).sort(), [...entries].sort());
  assert.match(ok, /deno publish --dry-run/);
});

Deno.test("deno task install puts an ohcommodore command that works where the README says", async () => {
  await using root = await tempDir("ohc-install-");
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "install"],
    cwd: new URL("..", import.meta.url),
    env: { DENO_INSTALL_ROOT: root.path },
    stdout: "null",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  await smoke([join(root.path, "bin", "ohcommodore")], quiet);
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.match(readme.split("\n## ")[0], /deno task install/, "the first lines say how to get it");
});
