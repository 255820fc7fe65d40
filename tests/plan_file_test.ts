import assert from "node:assert/strict";
import { join } from "node:path";
import { UsageError } from "../lib/errors.ts";
import { errorFromData, errorToData } from "../lib/error_data.ts";
import {
  checkPlan,
  dependencyOrder,
  parsePlan,
  type PlanFile,
  PlanFileError,
  readPlanFile,
} from "../lib/plan/plan_file.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const GOOD_YAML = `
# The release's work.
verify: deno task test
maxAttempts: 3
budgetUsd: 25.5
model: sonnet
maxTurns: 40
permissionMode: acceptEdits
timeout: 30m
stall: 90
integrate: plan/release
pr: one
tasks:
  - id: parser
    prompt: |
      Add a parser for the new config format.
      Keep "quotes", $HOME and \`backticks\` as they are.
  - id: cli
    prompt: Use the parser in the CLI
    needs: [parser]
    verify: deno task test:cli
  - id: docs
    prompt: Document the format
    needs: [parser, cli]
    issue: 12
`;

const GOOD_JSON = JSON.stringify(
  {
    verify: "deno task test",
    maxAttempts: 3,
    budgetUsd: 25.5,
    model: "sonnet",
    maxTurns: 40,
    permissionMode: "acceptEdits",
    timeout: "30m",
    stall: 90,
    integrate: "plan/release",
    pr: "one",
    tasks: [
      {
        id: "parser",
        prompt: 'Add a parser for the new config format.\nKeep "quotes", $HOME and `backticks` ' +
          "as they are.\n",
      },
      {
        id: "cli",
        prompt: "Use the parser in the CLI",
        needs: ["parser"],
        verify: "deno task test:cli",
      },
      { id: "docs", prompt: "Document the format", needs: ["parser", "cli"], issue: 12 },
    ],
  },
  null,
  2,
);

const EXPECTED: PlanFile = {
  verify: "deno task test",
  maxAttempts: 3,
  budgetUsd: 25.5,
  model: "sonnet",
  maxTurns: 40,
  permissionMode: "acceptEdits",
  timeoutMs: 30 * 60_000,
  stallMs: 90_000,
  integrate: "plan/release",
  pr: "one",
  tasks: [
    {
      id: "parser",
      prompt: 'Add a parser for the new config format.\nKeep "quotes", $HOME and `backticks` ' +
        "as they are.\n",
    },
    {
      id: "cli",
      prompt: "Use the parser in the CLI",
      needs: ["parser"],
      verify: "deno task test:cli",
    },
    { id: "docs", prompt: "Document the format", needs: ["parser", "cli"], issue: 12 },
  ],
};

// One task, for plans whose problem is elsewhere.
const ONE_TASK = "tasks:\n  - id: a\n    prompt: Do a\n";

// Asserts that parsing the text fails with a PlanFileError that exits 2 and whose message names
// the file, the key and the fix.
function assertBadPlan(text: string, key: string, ...says: (string | RegExp)[]): PlanFileError {
  let caught: unknown;
  try {
    parsePlan(text, "plan.yaml");
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof PlanFileError, `expected a PlanFileError, got ${caught}`);
  assert.ok(caught instanceof UsageError);
  assert.equal(caught.exitCode, 2);
  assert.equal(caught.source, "plan.yaml");
  assert.equal(caught.key, key);
  const prefix = key ? `plan.yaml: ${key}: ` : "plan.yaml: ";
  assert.ok(caught.message.startsWith(prefix), caught.message);
  assert.doesNotMatch(caught.message, /\n/);
  for (const said of says) {
    if (typeof said === "string") assert.ok(caught.message.includes(said), caught.message);
    else assert.match(caught.message, said);
  }
  return caught;
}

Deno.test("a good YAML plan and the same plan as JSON give equal, checked plans", () => {
  const fromYaml = parsePlan(GOOD_YAML, "plan.yaml");
  const fromJson = parsePlan(GOOD_JSON, "plan.json");
  assert.deepEqual(fromYaml, EXPECTED);
  assert.deepEqual(fromJson, EXPECTED);
});

Deno.test("durations are read as 30m, 90s, 1h30m or a number of seconds", () => {
  for (
    const [given, ms] of [
      ["30m", 1_800_000],
      ["90s", 90_000],
      ["1h30m", 5_400_000],
      [
        "45",
        45_000,
      ],
      [45, 45_000],
      [1.5, 1_500],
    ] as const
  ) {
    const plan = parsePlan(`timeout: ${JSON.stringify(given)}\nstall: ${given}\n${ONE_TASK}`, "p");
    assert.equal(plan.timeoutMs, ms);
    assert.equal(plan.stallMs, ms);
  }
});

Deno.test("settings a plan leaves out stay undefined, for the driver's defaults", () => {
  const plan = parsePlan(ONE_TASK, "plan.yaml");
  assert.deepEqual(plan, { tasks: [{ id: "a", prompt: "Do a" }] });
  assert.deepEqual(Object.keys(plan), ["tasks"]);
  assert.deepEqual(Object.keys(plan.tasks[0]), ["id", "prompt"]);
});

Deno.test("a prompt is kept exactly as written, shell characters and all", () => {
  const prompt = "rm -rf / ; $(reboot) `id` 'quoted' \"double\" \\ done\n\ttabbed  ";
  const plan = checkPlan({ tasks: [{ id: "a", prompt }] });
  assert.equal(plan.tasks[0].prompt, prompt);
});

Deno.test("checkPlan takes a plan value with milliseconds, and what parsePlan returns", () => {
  const parsed = parsePlan(GOOD_YAML, "plan.yaml");
  assert.deepEqual(checkPlan(parsed), parsed);
  const plan = checkPlan({ timeoutMs: 60_000, stallMs: 5_000, tasks: [{ id: "a", prompt: "x" }] });
  assert.equal(plan.timeoutMs, 60_000);
  assert.equal(plan.stallMs, 5_000);
});

Deno.test("checkPlan returns a copy: changing the value afterwards changes nothing checked", () => {
  const needs = ["a"];
  const value = { tasks: [{ id: "a", prompt: "x" }, { id: "b", prompt: "y", needs }] };
  const plan = checkPlan(value);
  needs.push("zz");
  value.tasks[0].id = "NOT VALID";
  assert.deepEqual(plan.tasks, [{ id: "a", prompt: "x" }, { id: "b", prompt: "y", needs: ["a"] }]);
});

Deno.test("checkPlan refuses the file's durations and names the plan in its errors", () => {
  assert.throws(
    () => checkPlan({ timeout: "30m", tasks: [{ id: "a", prompt: "x" }] }),
    (error) =>
      error instanceof PlanFileError && error.key === "timeout" &&
      error.message.startsWith(
        'plan: timeout: "timeout" is not a key of a plan: did you mean ' +
          '"timeoutMs"?',
      ),
  );
  assert.throws(
    () => checkPlan({ timeoutMs: "30m", tasks: [{ id: "a", prompt: "x" }] }, "my plan"),
    (error) =>
      error instanceof PlanFileError && error.key === "timeoutMs" &&
      error.message.startsWith('my plan: timeoutMs: invalid timeoutMs "30m": give milliseconds'),
  );
});

Deno.test("text that is not YAML or JSON is refused with its line", () => {
  assertBadPlan(
    "verify: x\ntasks: [\n  - id: a\n",
    "",
    /^plan\.yaml: line \d+, column \d+: /,
    "not YAML or JSON",
    "fix the file there",
  );
  assertBadPlan('{"tasks": [}', "", "line 1, column", "not YAML or JSON");
  assertBadPlan(
    "verify: a\nverify: b\n" + ONE_TASK,
    "",
    "line 2, column 1",
    "map keys must be unique",
  );
  assertBadPlan(
    `${ONE_TASK}---\n${ONE_TASK}`,
    "",
    "line 4",
    "more than one document; keep one plan per file",
  );
  assertBadPlan("verify: *nothing\n" + ONE_TASK, "", "not YAML or JSON", "fix the file");
});

Deno.test("a plan that is not a mapping, or is empty, is refused", () => {
  assertBadPlan("- a\n- b\n", "", "a list is not the plan", "give a mapping of keys");
  assertBadPlan("just text", "", '"just text" is not the plan', "give a mapping of keys");
  assertBadPlan("", "", "the plan is empty", "give at least its tasks");
  assertBadPlan("# only a comment\n", "", "the plan is empty");
});

Deno.test("an unknown key is named, with the nearest known key or the list of keys", () => {
  const typo = assertBadPlan(
    "tasks:\n  - id: a\n    prompt: x\n    neds: [b]\n",
    "tasks[0].neds",
    '"neds" is not a key of a task: did you mean "needs"?',
    "id, prompt, needs, verify, issue",
  );
  assert.equal(typo.key, "tasks[0].neds");
  assertBadPlan(`maxattempts: 2\n${ONE_TASK}`, "maxattempts", 'did you mean "maxAttempts"?');
  assertBadPlan(`budget: 2\n${ONE_TASK}`, "budget", 'did you mean "budgetUsd"?');
  assertBadPlan(`timeoutMs: 2\n${ONE_TASK}`, "timeoutMs", 'did you mean "timeout"?');
  assertBadPlan("task:\n  - id: a\n    prompt: x\n", "task", 'did you mean "tasks"?');
  assertBadPlan(
    `labels: [x]\n${ONE_TASK}`,
    "labels",
    '"labels" is not a key of a plan: remove it',
    "verify, maxAttempts, budgetUsd, model, maxTurns, permissionMode, timeout, stall, " +
      "reassignAfter, integrate, pr, tasks",
  );
  assertBadPlan(`__proto__: {verify: x}\n${ONE_TASK}`, "__proto__", "is not a key of a plan");
});

Deno.test("missing or empty tasks, and more than 200, are refused", () => {
  assertBadPlan("verify: x\n", "tasks", "the plan has no tasks", "give a list of tasks");
  assertBadPlan("tasks: []\n", "tasks", "the list is empty", "give at least one task");
  assertBadPlan("tasks: parser\n", "tasks", '"parser" is not a list', "give tasks");
  const tasks = Array.from({ length: 201 }, (_, i) => ({ id: `t${i}`, prompt: "x" }));
  assertBadPlan(JSON.stringify({ tasks }), "tasks", "201 tasks, at most 200", "split it");
  assert.equal(parsePlan(JSON.stringify({ tasks: tasks.slice(0, 200) }), "p").tasks.length, 200);
});

Deno.test("a task without an id or a prompt, or that is not a mapping, is refused", () => {
  assertBadPlan("tasks:\n  - prompt: x\n", "tasks[0].id", "the task has no id", "give it one");
  assertBadPlan("tasks:\n  - id: a\n", "tasks[0].prompt", "the task has no prompt", "say what");
  assertBadPlan("tasks:\n  - id: a\n    prompt: '  '\n", "tasks[0].prompt", "the prompt is empty");
  assertBadPlan("tasks:\n  - id: a\n    prompt: [x]\n", "tasks[0].prompt", "a list is not text");
  assertBadPlan(
    `${ONE_TASK}  - Do b\n`,
    "tasks[1]",
    '"Do b" is not a task',
    "with an id and a prompt",
  );
  const huge = "x".repeat(256 * 1024 + 1);
  assertBadPlan(
    JSON.stringify({ tasks: [{ id: "a", prompt: huge }] }),
    "tasks[0].prompt",
    "at most 262144",
    "shorten it",
  );
});

Deno.test("invalid and duplicate ids are refused, saying the rule", () => {
  const rule = 'use 1 to 40 lowercase letters, digits and "-", starting with a letter or digit';
  for (const id of ["Parser", "fix_parser", "-a", "a/b", "a".repeat(41), "", "a b"]) {
    assertBadPlan(
      JSON.stringify({ tasks: [{ id, prompt: "x" }] }),
      "tasks[0].id",
      "is not a task id",
      rule,
    );
  }
  assertBadPlan(
    "tasks:\n  - id: 7\n    prompt: x\n",
    "tasks[0].id",
    "7 is a number, not text; quote it",
  );
  assertBadPlan("tasks:\n  - id: [a]\n    prompt: x\n", "tasks[0].id", "a list is not a task id");
  assert.equal(
    parsePlan(JSON.stringify({ tasks: [{ id: "a".repeat(40), prompt: "x" }] }), "p").tasks.length,
    1,
  );
  assertBadPlan(
    `${ONE_TASK}  - id: b\n    prompt: x\n  - id: a\n    prompt: y\n`,
    "tasks[2].id",
    '"a" is the id of tasks[0] too',
    "give each task its own",
  );
});

Deno.test("a need that names no task is refused with the plan's ids", () => {
  const error = assertBadPlan(
    "tasks:\n  - {id: parser, prompt: x}\n  - {id: cli, prompt: x}\n  - {id: docs, prompt: x, needs: [parserr]}\n",
    "tasks[2].needs",
  );
  assert.equal(
    error.message,
    'plan.yaml: tasks[2].needs: "parserr" names no task (tasks: parser, cli, docs); fix the id ' +
      "or remove it",
  );
});

Deno.test("needs that are not a list of strings are refused", () => {
  for (const needs of ["parser", "[1]", "{a: 1}", "[[a]]", "null"]) {
    assertBadPlan(
      `tasks:\n  - id: a\n    prompt: x\n    needs: ${needs}\n`,
      "tasks[0].needs",
      "is not a list of task ids",
      "needs: [parser]",
    );
  }
});

Deno.test("a task that needs itself is refused: a → a", () => {
  assertBadPlan(
    "tasks:\n  - {id: a, prompt: x, needs: [a]}\n",
    "tasks[0].needs",
    'task "a" needs itself (a → a)',
    'remove "a" from its needs',
  );
});

Deno.test("a cycle is named with arrows, from the first task in it", () => {
  const error = assertBadPlan(
    "tasks:\n  - {id: z, prompt: x}\n  - {id: a, prompt: x, needs: [b, z]}\n  - {id: b, prompt: x, needs: [c]}\n  - {id: c, prompt: x, needs: [a]}\n",
    "tasks[1].needs",
    "a → b → c → a",
    "remove one of these needs",
  );
  assert.match(error.message, /in a cycle, a → b → c → a,/);
  assertBadPlan(
    "tasks:\n  - {id: a, prompt: x, needs: [b]}\n  - {id: b, prompt: x, needs: [a]}\n",
    "tasks[0].needs",
    "a → b → a",
  );
  // A diamond is no cycle.
  parsePlan(
    "tasks:\n  - {id: a, prompt: x}\n  - {id: b, prompt: x, needs: [a]}\n  - {id: c, prompt: x, needs: [a]}\n  - {id: d, prompt: x, needs: [b, c]}\n",
    "p",
  );
});

Deno.test("settings of the wrong type or out of range are refused, saying what to give", () => {
  assertBadPlan(
    `maxAttempts: two\n${ONE_TASK}`,
    "maxAttempts",
    '"two" is not a whole number from 1 to 20',
    "give e.g. maxAttempts: 2",
  );
  assertBadPlan(
    `maxAttempts: 21\n${ONE_TASK}`,
    "maxAttempts",
    "21 is not a whole number from 1 to 20",
  );
  assertBadPlan(`maxAttempts: 1.5\n${ONE_TASK}`, "maxAttempts", "1.5 is not a whole number");
  assertBadPlan(`maxAttempts: "2"\n${ONE_TASK}`, "maxAttempts", '"2" is not a whole number');
  assertBadPlan(
    `budgetUsd: -1\n${ONE_TASK}`,
    "budgetUsd",
    "-1 is not a budget",
    "give US dollars above 0 and at most 100000",
  );
  assertBadPlan(`budgetUsd: 0\n${ONE_TASK}`, "budgetUsd", "0 is not a budget");
  assertBadPlan(`budgetUsd: 100001\n${ONE_TASK}`, "budgetUsd", "100001 is not a budget");
  assertBadPlan(`budgetUsd: .inf\n${ONE_TASK}`, "budgetUsd", "Infinity is not a budget");
  assertBadPlan(`budgetUsd: .nan\n${ONE_TASK}`, "budgetUsd", "NaN is not a budget");
  assertBadPlan(
    `pr: all\n${ONE_TASK}`,
    "pr",
    '"all" is not a pull request mode',
    "give one of each, one, none",
  );
  assertBadPlan(`verify: ""\n${ONE_TASK}`, "verify", "is not a command", "give a shell command");
  assertBadPlan(`verify: 3\n${ONE_TASK}`, "verify", "3 is not a command");
  assertBadPlan(`verify:\n${ONE_TASK}`, "verify", "an empty value is not a command");
  assertBadPlan(
    `timeout: 10y\n${ONE_TASK}`,
    "timeout",
    'invalid duration "10y"',
    "use forms like 30s",
  );
  assertBadPlan(`timeout: 8d\n${ONE_TASK}`, "timeout", "at most 7d");
  assertBadPlan(`stall: 0\n${ONE_TASK}`, "stall", "greater than zero");
  assertBadPlan(
    `stall: true\n${ONE_TASK}`,
    "stall",
    "true is not a duration",
    "give e.g. stall: 30m",
  );
  assertBadPlan(`model: "a b"\n${ONE_TASK}`, "model", '"a b" is not a model name', "e.g. sonnet");
  assertBadPlan(`model: 4\n${ONE_TASK}`, "model", "4 is not text", "model: sonnet");
  assertBadPlan(`maxTurns: 0\n${ONE_TASK}`, "maxTurns", "0 is not a whole number from 1 to 10000");
  assertBadPlan(`permissionMode: yolo\n${ONE_TASK}`, "permissionMode", "acceptEdits", '"yolo"');
  assertBadPlan(
    `integrate: "a..b"\n${ONE_TASK}`,
    "integrate",
    "is not a branch name git takes",
    'it has ".."',
  );
  assertBadPlan(`integrate: [main]\n${ONE_TASK}`, "integrate", "a list is not text");
  assertBadPlan(
    `tasks:\n  - {id: a, prompt: x, issue: -3}\n`,
    "tasks[0].issue",
    "-3 is not a whole number",
    "give e.g. issue: 2",
  );
  assertBadPlan(
    `tasks:\n  - {id: a, prompt: x, verify: [t]}\n`,
    "tasks[0].verify",
    "a list is not a command",
  );
});

Deno.test("a long or many-lined value is quoted short, keeping the message on one line", () => {
  const error = assertBadPlan(
    JSON.stringify({ pr: "x".repeat(500) + "\nmore", tasks: [{ id: "a", prompt: "x" }] }),
    "pr",
  );
  assert.ok(error.message.length < 200, error.message);
  assertBadPlan(JSON.stringify({ ["a\nb"]: 1, tasks: [] }), "a…", "is not a key of a plan");
});

Deno.test("a plan file's error comes back as itself from data", () => {
  const error = assertBadPlan(`pr: all\n${ONE_TASK}`, "pr");
  const back = errorFromData(JSON.parse(JSON.stringify(errorToData(error))));
  assert.ok(back instanceof PlanFileError);
  assert.equal(back.exitCode, 2);
  assert.equal(back.message, error.message);
  assert.equal((back as PlanFileError).source, "plan.yaml");
  assert.equal((back as PlanFileError).key, "pr");
});

Deno.test("readPlanFile reads YAML and JSON files, and names a file it cannot read", async () => {
  await using dir = await tempDir("ohc-plan-file-");
  await Deno.writeTextFile(join(dir.path, "plan.yaml"), GOOD_YAML);
  await Deno.writeTextFile(join(dir.path, "plan.json"), GOOD_JSON);
  assert.deepEqual(await readPlanFile(join(dir.path, "plan.yaml")), EXPECTED);
  assert.deepEqual(await readPlanFile(join(dir.path, "plan.json")), EXPECTED);

  const missing = join(dir.path, "nothing.yaml");
  await assert.rejects(
    () => readPlanFile(missing),
    (error) =>
      error instanceof PlanFileError && error.exitCode === 2 && error.source === missing &&
      error.message === `${missing}: cannot read the plan: there is no such file; check the path`,
  );
  await assert.rejects(
    () => readPlanFile(dir.path),
    (error) =>
      error instanceof PlanFileError &&
      error.message === `${dir.path}: it is not a file; give the path of a plan file`,
  );
  await Deno.writeTextFile(
    join(dir.path, "bad.yaml"),
    "tasks:\n  - {id: a, prompt: x, neds: [b]}\n",
  );
  await assert.rejects(
    () => readPlanFile(join(dir.path, "bad.yaml")),
    (error) =>
      error instanceof PlanFileError &&
      error.message.startsWith(`${join(dir.path, "bad.yaml")}: tasks[0].neds: "neds" is not`),
  );
});

Deno.test("dependencyOrder puts each task after what it needs, else keeps the plan's order", () => {
  const plan = parsePlan(
    "tasks:\n" +
      "  - {id: docs, prompt: x, needs: [cli, parser]}\n" +
      "  - {id: cli, prompt: x, needs: [parser]}\n" +
      "  - {id: lint, prompt: x}\n" +
      "  - {id: parser, prompt: x, needs: [lexer]}\n" +
      "  - {id: lexer, prompt: x}\n",
    "p",
  );
  const order = dependencyOrder(plan.tasks).map((task) => task.id);
  assert.deepEqual(order, ["lexer", "parser", "cli", "docs", "lint"]);
  for (const task of plan.tasks) {
    for (const need of task.needs ?? []) assert.ok(order.indexOf(need) < order.indexOf(task.id));
  }
  // Same tasks, none lost or doubled; the input is left as it was.
  assert.deepEqual([...order].sort(), plan.tasks.map((task) => task.id).sort());
  assert.equal(plan.tasks[0].id, "docs");
  assert.deepEqual(dependencyOrder([]), []);
});

Deno.test("dependencyOrder ends on a cycle it is given, placing every task once", () => {
  const order = dependencyOrder([
    { id: "a", prompt: "x", needs: ["b"] },
    { id: "b", prompt: "x", needs: ["a", "gone"] },
  ]);
  assert.deepEqual(order.map((task) => task.id).sort(), ["a", "b"]);
});
