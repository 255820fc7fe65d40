/**
 * `ohcommodore completions`: the generated scripts run in real bash, zsh and fish, complete
 * commands, options and ship names from the cache, and never run what the cache holds.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { Command } from "../lib/cli/deps.ts";
import { completionScript, shipsOption } from "../lib/cli/completions.ts";
import { memberPaths } from "../lib/paths.ts";
import { runProcess } from "../lib/process.ts";
import { LocalMember } from "./helpers/local_member.ts";
import { Terminal } from "./helpers/terminal.ts";

const SHIPS = ["ship-web-a1b2", "ship-api-c3d4"];
// Lines a tampered cache could hold: each would run something if the script evaluated it.
const HOSTILE = ["$(touch PWNED1)", "`touch PWNED2`", "ship-x;touch PWNED3", "ship-a b", "-rf"];
const PATH = "/usr/local/bin:/usr/bin:/bin";

/** A temporary HOME with a ship names cache, and the scripts the real CLI prints. */
async function setup(): Promise<
  { member: LocalMember; scripts: Record<"bash" | "zsh" | "fish", string> }
> {
  const member = await LocalMember.create({ role: "local", name: "laptop" });
  const cache = memberPaths(member.home).shipNamesCache;
  await Deno.mkdir(join(cache, ".."), { recursive: true });
  await Deno.writeTextFile(cache, [...SHIPS, ...HOSTILE].join("\n") + "\n");
  const scripts = { bash: "", zsh: "", fish: "" };
  for (const shell of ["bash", "zsh", "fish"] as const) {
    const result = await member.cli(["completions", shell]);
    assert.equal(result.code, 0, result.stderr);
    scripts[shell] = join(member.home, `completion.${shell}`);
    await Deno.writeTextFile(scripts[shell], result.stdout);
  }
  return { member, scripts };
}

function assertNothingRan(home: string): void {
  const files = [...Deno.readDirSync(home)].map((entry) => entry.name);
  assert.deepEqual(files.filter((name) => name.startsWith("PWNED")), []);
}

/**
 * Calls the bash completion function as bash does on Tab: COMP_LINE and COMP_POINT as typed,
 * COMP_WORDS split at bash's word breaks (given here, as bash would split them).
 */
async function bashComplete(
  script: string,
  home: string,
  line: string,
  words: string[],
): Promise<string[]> {
  const driver = 'source "$1"; COMP_LINE=$2; COMP_POINT=${#2}; shift 2; COMP_WORDS=("$@"); ' +
    'COMP_CWORD=$(($# - 1)); _ohcommodore; printf "%s\\n" "${COMPREPLY[@]}"';
  const result = await runProcess(
    "bash",
    ["--norc", "--noprofile", "-c", driver, "bash", script, line, ...words],
    { env: { HOME: home, PATH }, cwd: home, timeoutMs: 10_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  return result.stdout.split("\n").filter(Boolean).sort();
}

Deno.test("completions: bash completes commands, options, choices and ship names", async () => {
  const { member, scripts } = await setup();
  await using _ = member;
  const complete = (line: string, ...words: string[]) =>
    bashComplete(scripts.bash, member.home, line, words);

  assert.deepEqual(await complete("ohcommodore fl", "ohcommodore", "fl"), ["fleet"]);
  assert.deepEqual(
    await complete("ohcommodore fleet s", "ohcommodore", "fleet", "s"),
    ["sink", "status"],
  );
  // The root's options come after subcommands too, and do not end the command path.
  assert.deepEqual(
    await complete("ohcommodore -v ship create --c", "ohcommodore", "-v", "ship", "create", "--c"),
    ["--count"],
  );
  assert.deepEqual(
    await complete(
      "ohcommodore inbox list --status r",
      "ohcommodore",
      "inbox",
      "list",
      "--status",
      "r",
    ),
    ["running"],
  );
  assert.deepEqual(
    await complete("ohcommodore completions ", "ohcommodore", "completions", ""),
    ["bash", "fish", "zsh"],
  );
  assert.deepEqual(
    await complete("ohcommodore ship ssh ", "ohcommodore", "ship", "ssh", ""),
    [...SHIPS].sort(),
    "only the VM names of the cache",
  );
  assert.deepEqual(
    await complete("ohcommodore ship destroy ship-w", "ohcommodore", "ship", "destroy", "ship-w"),
    ["ship-web-a1b2"],
  );
  // An option's value is not a positional: the ship name still comes after it.
  assert.deepEqual(
    await complete(
      "ohcommodore ship destroy --json ship-a",
      "ohcommodore",
      "ship",
      "destroy",
      "--json",
      "ship-a",
    ),
    ["ship-api-c3d4"],
  );
  assert.deepEqual(
    await complete("ohcommodore inbox send ca", "ohcommodore", "inbox", "send", "ca"),
    SHIPS.map((ship) => `captain@${ship}`).sort(),
  );
  assertNothingRan(member.home);
});

Deno.test("completions: bash completes captain@<ship> and --status= on a real Tab", async () => {
  const { member, scripts } = await setup();
  await using _ = member;
  await using terminal = await Terminal.start(
    ["bash", "--norc", "--noprofile"],
    { HOME: member.home, PATH, PS1: "$ " },
    // There, so a hostile name's relative `touch PWNED…` would land where it is looked for.
    { cwd: member.home },
  );
  await terminal.type(`source ${scripts.bash}; clear\n`);
  await terminal.waitFor(/^\$ $/m);
  // Bash splits the word at "@" and "="; the script must still complete the whole of it.
  // The "#" typed after Tab shows the space that ends a unique completion.
  await terminal.type("ohcommodore inbox send captain@ship-a");
  await terminal.press("Tab");
  await terminal.type("#");
  await terminal.waitFor(/^\$ ohcommodore inbox send captain@ship-api-c3d4 #/m);
  await terminal.press("C-u");
  await terminal.type("ohcommodore inbox list --status=ru");
  await terminal.press("Tab");
  await terminal.type("#");
  await terminal.waitFor(/^\$ ohcommodore inbox list --status=running #/m);
  assertNothingRan(member.home);
});

Deno.test("completions: bash completes the last name of a --ships list", async () => {
  await using member = await LocalMember.create({ role: "local", name: "laptop" });
  const cache = memberPaths(member.home).shipNamesCache;
  await Deno.mkdir(join(cache, ".."), { recursive: true });
  await Deno.writeTextFile(cache, SHIPS.join("\n"));
  // `fleet exec` will carry this option; a tree of our own stands in for it.
  const root = new Command("ohcommodore");
  root.command("fleet").command("exec").addOption(shipsOption("only these ships"));
  const script = join(member.home, "completion.bash");
  await Deno.writeTextFile(script, completionScript(root, "bash"));
  const complete = (line: string, ...words: string[]) =>
    bashComplete(script, member.home, line, ["ohcommodore", "fleet", "exec", ...words]);
  assert.deepEqual(
    await complete(
      "ohcommodore fleet exec --ships ship-web-a1b2,ship-a",
      "--ships",
      "ship-web-a1b2,ship-a",
    ),
    ["ship-web-a1b2,ship-api-c3d4"],
  );
  assert.deepEqual(
    await complete("ohcommodore fleet exec --ships=ship-w", "--ships", "=", "ship-w"),
    ["ship-web-a1b2"],
  );
});

Deno.test("completions: zsh parses the script and completes on a real Tab", async () => {
  const { member, scripts } = await setup();
  await using _ = member;
  const parsed = await runProcess("zsh", ["-n", scripts.zsh], { timeoutMs: 10_000 });
  assert.equal(parsed.code, 0, parsed.stderr);
  await using terminal = await Terminal.start(
    ["zsh", "-f"],
    { HOME: member.home, PATH, PS1: "%% " },
    { cwd: member.home },
  );
  await terminal.type(`autoload -Uz compinit && compinit -u && source ${scripts.zsh} && clear\n`);
  await terminal.waitFor(/^% $/m);
  const tab = async (typed: string, expected: RegExp) => {
    await terminal.type(typed);
    await terminal.press("Tab");
    await terminal.waitFor(expected);
    await terminal.press("C-u");
  };
  await tab("ohcommodore fl", /^% ohcommodore fleet $/m);
  await tab("ohcommodore ship create --co", /^% ohcommodore ship create --count $/m);
  await tab("ohcommodore ship ssh ship-w", /^% ohcommodore ship ssh ship-web-a1b2 $/m);
  await tab(
    "ohcommodore inbox send captain@ship-a",
    /^% ohcommodore inbox send captain@ship-api-c3d4 $/m,
  );
  // Both names share "ship-": zsh inserts that much, and lists exactly the VM names.
  await terminal.type("ohcommodore ship destroy ");
  await terminal.press("Tab");
  await terminal.press("Tab");
  const screen = await terminal.waitFor(/ship-api-c3d4/);
  assert.doesNotMatch(screen, /PWNED|ship-x|ship-a b|-rf/);
  assertNothingRan(member.home);
});

Deno.test("completions: fish completes commands, options and ship names", async () => {
  const { member, scripts } = await setup();
  await using _ = member;
  const complete = async (line: string) => {
    const result = await runProcess(
      "fish",
      ["--no-config", "-c", "source $argv[1]; complete --do-complete $argv[2]", scripts.fish, line],
      { env: { HOME: member.home, PATH }, cwd: member.home, timeoutMs: 10_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.split("\n").filter(Boolean).map((row) => row.split("\t")[0]).sort();
  };
  assert.deepEqual(await complete("ohcommodore sh"), ["ship"]);
  assert.deepEqual(await complete("ohcommodore ship create --c"), ["--count"]);
  assert.deepEqual(await complete("ohcommodore ship ssh "), [...SHIPS].sort());
  assert.deepEqual(
    await complete("ohcommodore inbox send "),
    SHIPS.map((ship) => `captain@${ship}`).sort(),
  );
  assert.deepEqual(await complete("ohcommodore inbox list --status=ru"), ["--status=running"]);
  assertNothingRan(member.home);
});

Deno.test("completions: an unknown shell is a usage error naming the valid ones", async () => {
  await using member = await LocalMember.create({ role: "local", name: "laptop" });
  const result = await member.cli(["completions", "ksh"]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /Unknown shell "ksh": choose one of bash, zsh, fish/);
});

Deno.test("completions --help says how to install each script", async () => {
  const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
  const result = await runProcess(
    Deno.execPath(),
    ["run", "-A", "--quiet", cli, "completions", "--help"],
    { timeoutMs: 60_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /source <\(ohcommodore completions bash\)/);
  assert.match(result.stdout, /source <\(ohcommodore completions zsh\)/);
  assert.match(result.stdout, /ohcommodore completions fish > ~\/\.config\/fish\/completions/);
});
