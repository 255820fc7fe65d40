/**
 * Agent tasks without a fleet: the command a task travels in (run by real bash), the checks on
 * its settings, outcomes read from inbox messages, usage limits, and the stream in words.
 */

import assert from "node:assert/strict";
import { describeGitFailure, gitErrorLines } from "../lib/agent/git_errors.ts";
import { limitOf } from "../lib/agent/limits.ts";
import { branchesFor, repositoryKey } from "../lib/agent/ship_branches.ts";
import { describeEvent } from "../lib/agent/stream.ts";
import type { TaskSpec } from "../lib/agent/task.ts";
import { checkTaskSpec } from "../lib/agent/task_check.ts";
import { taskCommand, taskOf } from "../lib/agent/task_command.ts";
import { OUTCOME_TYPE, outcomeOf } from "../lib/agent/task_outcome.ts";
import type { Message } from "../lib/inbox/message.ts";
import { tempDir } from "./helpers/temp_dir.ts";

Deno.test("a task's command hands bash the task on stdin, byte for byte", async () => {
  const prompt = `it's "quoted", $HOME, \`date\`, a\nnew line, OHC_TASK_0123 and ünïcödé ⚓\n` +
    `EOF\n'OHC_TASK_x'`;
  const spec: TaskSpec = { prompt, branch: "agent/x", maxTurns: 3 };
  const command = taskCommand(spec);
  assert.deepEqual(taskOf(command), spec);
  // What the program would read: the here-document, run by bash with the program swapped out.
  const script = command.replace(`exec "$HOME/.local/bin/ohcommodore" agent _task`, "cat");
  const bash = await new Deno.Command("bash", { args: ["-c", script], stdout: "piped" }).output();
  assert.deepEqual(JSON.parse(new TextDecoder().decode(bash.stdout)), spec);
  assert.ok(!command.split("\n")[1].includes("quoted"), "the prompt is not on the exec line");
  assert.equal(taskOf("echo hello"), undefined);
});

Deno.test("a task's settings are checked, with what to give instead", () => {
  const cases: [TaskSpec, RegExp][] = [
    [{ prompt: " " }, /Give the prompt after "--"/],
    [{ prompt: "x", branch: "-x" }, /not a branch name/],
    [{ prompt: "x", branch: "a..b" }, /not a branch name/],
    [{ prompt: "x", push: true }, /--push and --pr need --branch/],
    [{ prompt: "x", maxTurns: 1.5 }, /Invalid maxTurns "1.5": give a whole number from 1 to/],
    [{ prompt: "x", maxTurns: 2 ** 53 + 2 }, /Invalid maxTurns "9007199254740994"/],
    [{ prompt: "x", model: "so nnet" }, /is not a model name/],
    [{ prompt: "x", permissionMode: "yolo" }, /--permission-mode is one of/],
    [{ prompt: "x", resume: "../x" }, /not a Claude Code session id/],
    [{ prompt: "x", stallMs: 0 }, /stall time must be above 0/],
  ];
  for (const [spec, expected] of cases) assert.throws(() => checkTaskSpec(spec), expected);
  assert.doesNotThrow(() => checkTaskSpec({ prompt: "x", branch: "feature/a-1", push: true }));
});

Deno.test("a task's branch name is checked by git's own rules, as git check-ref-format --branch", async () => {
  const names = [
    "feature/a-1",
    "fix/ünïcode",
    "a@b",
    "a.lock.b",
    "x#1",
    "refs/heads/x",
    "a/@",
    "v1.2",
    "/lead",
    "lead/",
    "x.lock",
    "a/b.lock/c",
    "a/.hidden",
    ".x",
    "x.",
    "a..b",
    "a//b",
    "a@{b",
    "@",
    "HEAD",
    "-x",
    "a b",
    "a~b",
    "a^b",
    "a:b",
    "a?b",
    "a*b",
    "a[b",
    "a\\b",
    "a\tb",
    "a\x7fb",
  ];
  for (const branch of names) {
    const git = await new Deno.Command("git", {
      args: ["check-ref-format", "--branch", branch],
      stdout: "null",
      stderr: "null",
    }).output();
    // `--branch` reads "@" as HEAD's branch; git refuses "@" as a branch's own name.
    const takes = git.success && branch !== "@";
    const ours = (() => {
      try {
        checkTaskSpec({ prompt: "x", branch });
        return true;
      } catch (error) {
        assert.match(String(error), /is not a branch name git takes: .+; give one like agent\/fix/);
        return false;
      }
    })();
    assert.equal(ours, takes, `${JSON.stringify(branch)}: git ${takes ? "takes" : "refuses"} it`);
  }
  const long = "b".repeat(10_000);
  assert.throws(
    () => checkTaskSpec({ prompt: "x", branch: long }),
    (error: Error) =>
      error.message.length < 200 && /10000 characters, at most 200/.test(error.message),
  );
});

function message(fields: Partial<Message>): Message {
  return {
    id: "a1b2c3d4e5f60718",
    createdAt: "2026-12-01T10:00:00.000Z",
    status: "done",
    sender: "local@laptop",
    recipient: "captain@ship-web-a1b2c3d4",
    command: taskCommand({ prompt: "fix it\nplease", branch: "fix" }),
    exitCode: 0,
    result: null,
    stderr: null,
    error: null,
    startedAt: "2026-12-01T10:00:01.000Z",
    finishedAt: "2026-12-01T10:00:09.000Z",
    timeoutSec: 1800,
    ...fields,
  } as Message;
}

Deno.test("an outcome comes from the task's last line, or from how its message ended", () => {
  const printed = { status: "done", costUsd: 0.5, sessionId: "s-1", commits: [] };
  const done = outcomeOf(
    "ship-web-a1b2c3d4",
    message({
      result: `{"type":"result"}\n${JSON.stringify({ type: OUTCOME_TYPE, outcome: printed })}\n`,
    }),
  );
  assert.equal(done.status, "done");
  assert.equal(done.costUsd, 0.5);
  assert.equal(done.prompt, "fix it");
  assert.equal(done.branch, "fix");
  const timedOut = outcomeOf(
    "s",
    message({ status: "error", exitCode: 124, error: "timed out after 30m" }),
  );
  assert.equal(timedOut.status, "timeout");
  const cancelled = outcomeOf("s", message({ status: "error", exitCode: 143, error: "cancelled" }));
  assert.equal(cancelled.status, "cancelled");
  assert.equal(outcomeOf("s", message({ status: "running", exitCode: null })).status, "running");
  assert.equal(
    outcomeOf("s", message({ status: "running", exitCode: null }), true).status,
    "stalled",
  );
  assert.equal(outcomeOf("s", message({ status: "unread", exitCode: null })).status, "queued");
  const silent = outcomeOf("s", message({ status: "error", exitCode: 1, stderr: "boom\n" }));
  assert.equal(silent.status, "error");
  assert.equal(silent.error, "boom");
});

Deno.test("usage limits are told apart, with the reset when Claude names the moment", () => {
  const epoch = limitOf({
    result: { is_error: true, result: "Claude AI usage limit reached|1762952400" },
    stderr: "",
  });
  assert.equal(epoch?.resetAt, new Date(1762952400 * 1000).toISOString());
  const sentence = limitOf({
    result: {
      is_error: true,
      result: "Claude usage limit reached. Your limit will reset at 5pm (Europe/Warsaw).",
    },
    stderr: "",
  });
  assert.equal(sentence?.resetAt, null);
  assert.match(sentence?.message ?? "", /reset at 5pm/);
  assert.ok(limitOf({ result: null, stderr: 'Error: 429 {"type":"rate_limit_error"}' }));
  assert.equal(limitOf({ result: { result: "All tests pass" }, stderr: "" }), undefined);
  assert.equal(
    limitOf({
      result: { result: "Fixed the 'rate limit exceeded' error" },
      stderr: "",
      exitCode: 0,
    }),
    undefined,
    "a run that succeeded is not limited, whatever it says",
  );
});

Deno.test("the stream in words: what the agent says and which tools it uses", () => {
  assert.equal(
    describeEvent(
      JSON.stringify({ type: "system", subtype: "init", session_id: "s1", model: "m" }),
    ),
    "session s1 (m)",
  );
  assert.equal(
    describeEvent(JSON.stringify({
      type: "assistant",
      message: {
        content: [{ type: "text", text: "Looking\nmore" }, {
          type: "tool_use",
          name: "Edit",
          input: { file_path: "src/a.ts" },
        }],
      },
    })),
    "says: Looking…; uses Edit: src/a.ts",
  );
  assert.equal(
    describeEvent(JSON.stringify({ type: "user", message: { content: [] } })),
    undefined,
  );
  assert.equal(describeEvent(JSON.stringify({ type: OUTCOME_TYPE, outcome: {} })), undefined);
  assert.equal(
    describeEvent(
      JSON.stringify({ type: "result", subtype: "success", num_turns: 3, total_cost_usd: 0.1 }),
    ),
    "result: success, 3 turn(s), $0.1000",
  );
  assert.equal(describeEvent("plain text"), "plain text");
});

Deno.test("git's errors are kept whole: what was rejected, which file blocked the switch", async () => {
  await using dir = await tempDir("ohc-git-errors-");
  const git = async (cwd: string, ...args: string[]) => {
    const output = await new Deno.Command("git", {
      args: ["-c", "user.name=T", "-c", "user.email=t@example.test", ...args],
      cwd,
      stdout: "null",
      stderr: "piped",
    }).output();
    return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
  };
  const origin = `${dir.path}/origin.git`;
  await git(dir.path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", origin);
  for (const name of ["a", "b"]) await git(dir.path, "clone", "-q", origin, name);
  const a = `${dir.path}/a`;
  const b = `${dir.path}/b`;
  await Deno.writeTextFile(`${a}/notes.txt`, "a\n");
  await git(a, "add", "notes.txt");
  await git(a, "commit", "-q", "-m", "a");
  await git(a, "push", "-q", "origin", "HEAD:main");
  await git(b, "commit", "-q", "--allow-empty", "-m", "b");
  // b's push loses: origin has a's commit, which b lacks.
  const push = await git(b, "push", "--quiet", "origin", "HEAD:main");
  assert.notEqual(push.code, 0);
  assert.match(push.stderr, /hint: /, "git adds hints, which are left out");
  const pushed = describeGitFailure(push.stderr, "git push exited 1");
  assert.match(
    pushed,
    /^! \[rejected\] HEAD -> main \(fetch first\); error: failed to push some refs to /,
  );
  assert.doesNotMatch(pushed, /hint|Note about fast-forwards/);
  // An untracked file in b's way blocks the switch to a branch that has it.
  await git(b, "fetch", "-q", "origin");
  await Deno.writeTextFile(`${b}/notes.txt`, "b's own\n");
  const blocked = await git(b, "switch", "--quiet", "-c", "from-a", "origin/main");
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.stderr, /Aborting\s*$/, "git's last line says only that it stopped");
  assert.deepEqual(gitErrorLines(blocked.stderr), [
    "error: The following untracked working tree files would be overwritten by checkout: notes.txt",
  ]);
  // A long list is cut; a password in a URL is not repeated; nothing of use, the fallback.
  const files = Array.from({ length: 14 }, (_, i) => `\tf${i}`).join("\n");
  assert.equal(
    gitErrorLines(
      `error: Your local changes would be overwritten by checkout:\n${files}\nAborting`,
    )[0],
    "error: Your local changes would be overwritten by checkout: f0, f1, f2, f3, f4, f5, f6, f7, " +
      "f8, f9, and 4 more",
  );
  assert.equal(
    describeGitFailure("fatal: unable to access 'https://x:ghp_secret@github.com/a/b/': 403\n", ""),
    "fatal: unable to access 'https://***@github.com/a/b/': 403",
  );
  assert.equal(describeGitFailure("hint: nothing\n", "git push exited 1"), "git push exited 1");
  assert.equal(describeGitFailure("Aborting\n", "x"), "Aborting");
});

Deno.test("ships of one repository that push one branch each get their own", () => {
  assert.equal(repositoryKey("acme/web"), "github.com/acme/web");
  for (
    const spelling of [
      "https://github.com/Acme/web.git",
      "git@github.com:acme/web",
      "ssh://git@github.com/acme/web/",
    ]
  ) {
    assert.equal(repositoryKey(spelling), "github.com/acme/web", spelling);
  }
  assert.equal(repositoryKey("file:///srv/repos/web.git"), "/srv/repos/web");
  assert.equal(repositoryKey("/srv/repos/web"), "/srv/repos/web");
  assert.equal(repositoryKey("https://git.example.test/Team/web"), "git.example.test/Team/web");
  const ships = [
    { name: "ship-web-k3f9a1b2", repo: "acme/web" },
    { name: "ship-web-k3f9c3d4", repo: "https://github.com/acme/web.git" },
    { name: "ship-api-k3f9e5f6", repo: "acme/api" },
    { name: "ship-bare-k3f90000", repo: null },
  ];
  assert.deepEqual(branchesFor(ships, { branch: "deps", push: true }), [
    "deps-ship-web-k3f9a1b2",
    "deps-ship-web-k3f9c3d4",
    "deps",
    "deps",
  ]);
  assert.deepEqual(branchesFor(ships, { branch: "deps", pr: true })[0], "deps-ship-web-k3f9a1b2");
  // Nothing pushed: one branch name is no clash, each ship keeps its own copy.
  assert.deepEqual(branchesFor(ships, { branch: "deps" }), ["deps", "deps", "deps", "deps"]);
  assert.deepEqual(branchesFor(ships, { push: false }), [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  assert.deepEqual(branchesFor(ships.slice(0, 1), { branch: "deps", push: true }), ["deps"]);
  assert.throws(
    () => branchesFor(ships, { branch: "b".repeat(190), push: true }),
    /is too long to give each ship of "acme\/web" its own .*give a shorter --branch/,
  );
});
