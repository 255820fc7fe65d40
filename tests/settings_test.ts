import assert from "node:assert/strict";
import { vmSettings } from "../lib/fleet/config.ts";
import { formatEnvFile } from "../lib/settings.ts";
import { COMMAND_CREDENTIALS } from "../lib/member_env.ts";
import { LocalProvider } from "../lib/providers/local.ts";
import {
  listSettings,
  MEMBER_VARIABLES,
  pickSettings,
  SETTING_NAMES,
  settingNames,
} from "../lib/settings.ts";

const INIT_SH = await Deno.readTextFile(new URL("../cloudinit/init.sh", import.meta.url));
const INIT_README = await Deno.readTextFile(new URL("../cloudinit/README.md", import.meta.url));

// The words of a bash array assignment `NAME=(A B\n  C)` in init.sh.
function bashArray(name: string): string[] {
  const match = INIT_SH.match(new RegExp(`^${name}=\\(([^)]*)\\)`, "m"));
  assert.ok(match, `init.sh assigns ${name}`);
  return match[1].trim().split(/\s+/);
}

const sorted = (names: Iterable<string>) => [...names].sort();

Deno.test("init.sh reads exactly the settings a VM's .env gets and the member's own variables", () => {
  assert.deepEqual(
    sorted(bashArray("INPUTS")),
    sorted([...settingNames("inVmEnv"), ...Object.keys(MEMBER_VARIABLES)]),
  );
});

Deno.test("init.sh's secrets step exports exactly the settings for login shells", () => {
  const wanted = sorted(settingNames("inLoginShells"));
  const line = INIT_SH.match(/sed -n -E "s\/\^\(([A-Z_|]+)\)=/);
  assert.ok(line, "init.sh has the line shells run");
  assert.deepEqual(sorted(line[1].split("|")), wanted);
  const loop = INIT_SH.match(/^step_secrets\(\) \{[^]*?for name in ([A-Z_ ]+); do/m);
  assert.ok(loop, "step_secrets loops over the credentials");
  assert.deepEqual(sorted(loop[1].trim().split(/\s+/)), wanted);
});

Deno.test("cloudinit/README.md describes every variable init.sh reads", () => {
  for (const name of bashArray("INPUTS")) assert.ok(INIT_README.includes(`\`${name}\``), name);
});

Deno.test("the settings table keeps the lists the code used before it", () => {
  assert.deepEqual(settingNames("secret"), [
    "GH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_API_KEY",
  ]);
  assert.deepEqual(settingNames("forwardedToFlagship"), [
    "GH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_API_KEY",
    "DOTFILES_PATH",
    "DOTFILES_URL",
    "SKIP_STEPS",
    "OHCOMMODORE_NOTIFY",
  ]);
  assert.deepEqual(sorted(COMMAND_CREDENTIALS), [
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "GH_TOKEN",
  ]);
  assert.deepEqual(SETTING_NAMES, [
    ...settingNames("forwardedToFlagship"),
    "INIT_PATH",
    "INIT_URL",
    "OHCOMMODORE_SHIP_BIN",
  ]);
});

Deno.test("a VM's .env gets its settings in the table's order, with the provider's skipped steps", () => {
  const settings = {
    OHCOMMODORE_SHIP_BIN: "/tmp/bin",
    SKIP_STEPS: "zsh, rustup",
    DOTFILES_URL: "https://example.com/dots",
    GH_TOKEN: "ghp_x",
    INIT_PATH: "./init.sh",
    ANTHROPIC_API_KEY: "",
  };
  const local = new LocalProvider("/tmp/unused");
  const skip = [...new Set(["zsh", "rustup", ...local.skippedSteps])].join(",");
  assert.equal(
    formatEnvFile(vmSettings(settings, local)),
    `GH_TOKEN='ghp_x'\nANTHROPIC_API_KEY=''\nDOTFILES_URL='https://example.com/dots'\n` +
      `SKIP_STEPS='${skip}'\n`,
  );
  assert.deepEqual(pickSettings(settings, "secret"), { GH_TOKEN: "ghp_x" });
});

Deno.test("every setting is listed with a description", () => {
  const listed = listSettings();
  assert.deepEqual(listed.map((setting) => setting.name), SETTING_NAMES);
  for (const setting of listed) assert.ok(setting.description.length > 10, setting.name);
  assert.equal(listed.find((setting) => setting.name === "GH_TOKEN")?.secret, true);
});
