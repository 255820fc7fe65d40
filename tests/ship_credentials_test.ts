/**
 * Ships made after `init` get the fleet's credentials: the flagship's own `.env` (where init put
 * GH_TOKEN and the Claude token), unless the caller gives its own; a ship that would still be
 * made without one is made with a warning that names what is missing and where to set it. On
 * exe.dev (the fixture lobby) and on the local provider, each through the real CLI and through
 * the library (`Fleet.init({ settings })`, `Fleet.local({ settings })`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { runProcess } from "../lib/process.ts";
import { CLI_PERMISSIONS } from "../lib/self_command.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { LocalMember } from "./helpers/local_member.ts";
import { sshWorldUnavailable } from "./helpers/sshd_world.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const ignore = sshWorldUnavailable() !== undefined;
const SKIP_STEPS = "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell";
const GH_TOKEN = "ghp_fleetCredentialProbe123";
const CLAUDE = "sk-ant-oat01-fleetCredentialProbe456";
const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function envOf(
  home: string,
): Promise<{ values: Record<string, string | undefined>; mode: number }> {
  const file = join(home, ".ohcommodore/.env");
  const info = await Deno.stat(file);
  return { values: parseEnv(await Deno.readTextFile(file)), mode: (info.mode ?? 0) & 0o777 };
}

// Files under `dir` that others may read and that hold `secret`.
async function readableHolders(dir: string, secret: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && entry.name !== ".cache" && entry.name !== ".git") {
      found.push(...await readableHolders(path, secret));
    } else if (entry.isFile) {
      const info = await Deno.stat(path);
      if (info.size > 4 * 1024 * 1024 || ((info.mode ?? 0) & 0o004) === 0) continue;
      if ((await Deno.readTextFile(path).catch(() => "")).includes(secret)) found.push(path);
    }
  }
  return found;
}

Deno.test({
  name: "ship create from a shell without tokens gives the ship the flagship's credentials",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const init = await world.cli(["init"], {
      env: { SKIP_STEPS, GH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN: CLAUDE },
    });
    assert.equal(init.code, 0, init.stderr);
    const flagship = world.lobbyVms()[0].name;

    await t.step("the ship's private .env holds both, and nothing warns", async () => {
      const made = await world.cli(["ship", "create", "plain"], { env: { SKIP_STEPS } });
      assert.equal(made.code, 0, made.stderr);
      assert.doesNotMatch(made.stderr, /warning/);
      const ship = made.stdout.trim();
      const { values, mode } = await envOf(world.vmHome(ship));
      assert.equal(values.GH_TOKEN, GH_TOKEN);
      assert.equal(values.CLAUDE_CODE_OAUTH_TOKEN, CLAUDE);
      assert.equal(mode, 0o600);
    });

    await t.step("a token the caller exports wins over the flagship's", async () => {
      const made = await world.cli(["ship", "create", "own"], {
        env: { SKIP_STEPS, GH_TOKEN: "ghp_callerOwnToken789" },
      });
      assert.equal(made.code, 0, made.stderr);
      const { values } = await envOf(world.vmHome(made.stdout.trim()));
      assert.equal(values.GH_TOKEN, "ghp_callerOwnToken789");
      assert.equal(values.CLAUDE_CODE_OAUTH_TOKEN, CLAUDE, "the rest still from the flagship");
    });

    await t.step(
      "without a Claude credential anywhere the ship is made with a warning",
      async () => {
        const flagshipEnv = join(world.vmHome(flagship), ".ohcommodore/.env");
        const text = await Deno.readTextFile(flagshipEnv);
        await Deno.writeTextFile(flagshipEnv, text.replace(/^CLAUDE_CODE_OAUTH_TOKEN=.*\n/m, ""));
        const made = await world.cli(["ship", "create", "bare", "--json"], { env: { SKIP_STEPS } });
        assert.equal(made.code, 0, made.stderr);
        const [ship] = JSON.parse(made.stdout);
        const warnings = made.stderr.split("\n").filter((line) => line.startsWith("warning:"));
        assert.equal(warnings.length, 1, made.stderr);
        assert.match(
          warnings[0],
          new RegExp(
            `^warning: ${ship.name}: No Claude credential \\(CLAUDE_CODE_OAUTH_TOKEN or ` +
              `ANTHROPIC_API_KEY\\): its agent tasks end "Invalid API key"; export ` +
              `CLAUDE_CODE_OAUTH_TOKEN where you run "ohcommodore ship create"`,
          ),
        );
        assert.doesNotMatch(warnings[0], /GitHub/, "the GitHub token is there");
        assert.equal((await envOf(world.vmHome(ship.name))).values.GH_TOKEN, GH_TOKEN);
        await Deno.writeTextFile(flagshipEnv, text);
      },
    );

    await t.step("no token on a command line or in a file others can read", async () => {
      for (const call of world.lobbyCalls()) {
        const argv = call.argv.join(" ");
        assert.ok(!argv.includes(GH_TOKEN) && !argv.includes(CLAUDE), argv);
      }
      for (const vm of world.lobbyVms()) {
        for (const secret of [GH_TOKEN, CLAUDE]) {
          assert.deepEqual(await readableHolders(vm.home, secret), [], vm.name);
        }
      }
    });
  },
});

Deno.test({
  name: "Fleet.init({ settings }) gives its settings to the ships it makes later",
  ignore,
  sanitizeResources: false,
  async fn() {
    await using world = await FleetWorld.start();
    // The tokens are the script's settings alone: the laptop's environment has none.
    const settings = {
      GH_TOKEN,
      CLAUDE_CODE_OAUTH_TOKEN: CLAUDE,
      SKIP_STEPS,
      OHCOMMODORE_SHIP_BIN: world.shipBin,
    };
    const made = await world.laptopScript(
      `import { Fleet } from "@smithclay/ohcommodore";\n` +
        `const warnings = [];\n` +
        `const onProgress = (p) => { if (p.step === "warning") warnings.push(p.message); };\n` +
        `await using fleet = await Fleet.init({ settings: ${JSON.stringify(settings)} });\n` +
        `const [ship] = await fleet.createShips("later", { onProgress });\n` +
        `console.log(JSON.stringify({ name: ship.name, warnings }));\n`,
      { timeoutMs: 180_000 },
    );
    assert.equal(made.code, 0, made.stderr);
    const { name, warnings } = JSON.parse(made.stdout);
    assert.deepEqual(warnings, []);
    const { values, mode } = await envOf(world.vmHome(name));
    assert.equal(values.GH_TOKEN, GH_TOKEN);
    assert.equal(values.CLAUDE_CODE_OAUTH_TOKEN, CLAUDE);
    assert.equal(mode, 0o600);
    for (const call of world.lobbyCalls()) {
      const argv = call.argv.join(" ");
      assert.ok(!argv.includes(GH_TOKEN) && !argv.includes(CLAUDE), argv);
    }
  },
});

Deno.test("a local fleet made with tokens gives them to a ship created later without them", async () => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  // The test's own environment must not give the ship what the flagship should.
  const none = { GH_TOKEN: "", CLAUDE_CODE_OAUTH_TOKEN: "", ANTHROPIC_API_KEY: "" };
  const init = await laptop.cli(["init", "--provider", "local", "--json"], {
    env: { ...none, GH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN: CLAUDE },
  });
  assert.equal(init.code, 0, init.stderr);
  try {
    const made = await laptop.cli(["ship", "create", "plain", "--json"], { env: none });
    assert.equal(made.code, 0, made.stderr);
    assert.doesNotMatch(made.stderr, /warning/);
    const [ship] = JSON.parse(made.stdout);
    const sandbox = join(laptop.home, ".ohcommodore", "sandboxes", ship.name);
    const { values, mode } = await envOf(sandbox);
    assert.equal(values.GH_TOKEN, GH_TOKEN);
    assert.equal(values.CLAUDE_CODE_OAUTH_TOKEN, CLAUDE);
    assert.equal(mode, 0o600);
  } finally {
    const sunk = await laptop.cli(["fleet", "sink", "--scuttle", "--force"], { env: none });
    assert.equal(sunk.code, 0, sunk.stderr);
  }
});

// A library script on the local provider, in a shell where no token is set.
async function localScript(source: string) {
  await using tmp = await tempDir("ohc-credentials-");
  const script = join(tmp.path, "script.ts");
  const mod = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
  await Deno.writeTextFile(script, `import { Fleet } from ${mod};\n${source}`);
  const config = join(ROOT, "deno.json");
  const args = ["run", ...CLI_PERMISSIONS, "--config", config, script];
  const result = await runProcess(Deno.execPath(), args, {
    cwd: tmp.path, // no ./.env here
    timeoutMs: 180_000,
    env: { TMPDIR: tmp.path, GH_TOKEN: "", CLAUDE_CODE_OAUTH_TOKEN: "", ANTHROPIC_API_KEY: "" },
  });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

const SHIP_ENV_AND_WARNINGS = `
const warnings = [];
const onProgress = (p) => { if (p.step === "warning") warnings.push(p.message); };
const [made] = await fleet.createShips("scratch", { onProgress });
const env = await Deno.readTextFile(\`\${fleet.facts.localRoot}/\${made.name}/.ohcommodore/.env\`);
console.log(JSON.stringify({ env, warnings }));
`;

Deno.test("Fleet.local({ settings }) gives its settings to the ships it makes", async () => {
  const { env, warnings } = await localScript(
    `await using fleet = await Fleet.local({ settings: ` +
      `{ GH_TOKEN: ${JSON.stringify(GH_TOKEN)}, CLAUDE_CODE_OAUTH_TOKEN: ${
        JSON.stringify(CLAUDE)
      } } });\n${SHIP_ENV_AND_WARNINGS}`,
  );
  const values = parseEnv(env);
  assert.equal(values.GH_TOKEN, GH_TOKEN);
  assert.equal(values.CLAUDE_CODE_OAUTH_TOKEN, CLAUDE);
  assert.deepEqual(warnings, []);
});

Deno.test("a local ship made without any credential is made with a warning naming both", async () => {
  const { env, warnings } = await localScript(
    `await using fleet = await Fleet.local();\n${SHIP_ENV_AND_WARNINGS}`,
  );
  assert.doesNotMatch(env, /GH_TOKEN|CLAUDE_CODE_OAUTH_TOKEN/);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^No GitHub credential \(GH_TOKEN\): it cannot clone/);
  assert.match(
    warnings[0],
    /; no Claude credential \(CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY\)/,
  );
  assert.match(warnings[0], /export GH_TOKEN and CLAUDE_CODE_OAUTH_TOKEN where you run/);
  assert.match(warnings[0], /or put them in the flagship's ~\/\.ohcommodore\/\.env/);
});
