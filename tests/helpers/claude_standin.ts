/**
 * A stand-in for `claude -p --output-format stream-json --verbose` in tests, since Claude cannot
 * run here: it reads the prompt on stdin, speaks the headless formats (an init line, assistant
 * messages with text and tool use, a result object last), makes a commit in the repository it
 * runs in, and records each call (arguments, working directory, prompt, whether credentials were
 * in its environment — never their values) in `~/.claude-standin/calls.jsonl`.
 *
 * Words in the prompt choose a run: `[fail]` (is_error), `[crash]` (exit 3 without a result),
 * `[limit]` (a usage limit that resets in 2 s, or in N s with `[limit N]`; a `--resume` after it
 * succeeds), `[stall N]`
 * (silent N seconds after the init line), `[slow]` (a line every 400 ms for 2 s), `[sleep N]`
 * (N seconds, decimals allowed, between its commit and its result: a task of N seconds, for
 * benches). Without CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY it fails as Claude Code does
 * without credentials.
 *
 * What it commits (one commit a run, files relative to the checkout):
 * - `[file NAME]` (any number): the file NAME, its content the prompt's first line.
 * - `[conflict NAME]`: the same, said for a change meant to conflict: two tasks with different
 *   first lines that both write NAME conflict when the second is rebased onto the first.
 * - A prompt containing "Verification failed" (how a verify failure is given back): `.verified`,
 *   an empty file. With a verify command `test -f .verified`, `[verify-once]` then fails
 *   verification once and passes after the fix: a run with `[verify-once]` and without
 *   "Verification failed" removes `.verified` when the checkout has it, so the first verification
 *   fails whatever the branch started from.
 * - None of these: `standin-<ms>-<session>.txt` (its own on every ship), holding the whole prompt.
 *
 * A rebase in progress in the checkout (git's rebase-merge or rebase-apply) when the prompt
 * mentions "rebase" is finished first, as an agent would when told of it: every conflicted file
 * gets both sides' lines (the conflict markers dropped; a file one side deleted gets the prompt's
 * first line), is added, and `git rebase --continue` runs, until the rebase ends. `[leave-rebase]`
 * leaves it as it is (the task must then fail, the rebase aborted).
 */

const args = Deno.args;
const prompt = await new Response(Deno.stdin.readable).text();
const home = Deno.env.get("HOME") ?? ".";
const dir = `${home}/.claude-standin`;
await Deno.mkdir(dir, { recursive: true });
const hasToken = Boolean(
  Deno.env.get("CLAUDE_CODE_OAUTH_TOKEN") || Deno.env.get("ANTHROPIC_API_KEY"),
);
await Deno.writeTextFile(
  `${dir}/calls.jsonl`,
  JSON.stringify({ args, cwd: Deno.cwd(), prompt, hasToken, at: Date.now() }) + "\n",
  { append: true },
);

// It commits where it runs: only inside its own home (a ship's repository), never elsewhere.
if (!Deno.cwd().startsWith(`${home}/`)) {
  console.error(`claude stand-in: refusing to run in ${Deno.cwd()}, outside ${home}`);
  Deno.exit(2);
}
const resumed = args.includes("--resume") ? args[args.indexOf("--resume") + 1] : undefined;
const sessionId = resumed ?? crypto.randomUUID();
const started = Date.now();
const say = (value: unknown) => console.log(JSON.stringify(value));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const result = (fields: Record<string, unknown>) =>
  say({
    type: "result",
    subtype: "success",
    is_error: false,
    duration_ms: Date.now() - started,
    num_turns: 2,
    session_id: sessionId,
    total_cost_usd: 0.0125,
    usage: { input_tokens: 100, output_tokens: 20 },
    standin_end_ms: Date.now(), // not Claude's: when the stand-in printed its result, for benches
    ...fields,
  });

say({ type: "system", subtype: "init", session_id: sessionId, model: "standin", cwd: Deno.cwd() });
if (!hasToken) {
  result({ subtype: "success", is_error: true, result: "Invalid API key · Please run /login" });
  Deno.exit(1);
}
if (prompt.includes("[crash]")) Deno.exit(3);
const limitMark = `${dir}/limited`;
const limit = prompt.match(/\[limit(?: (\d+))?\]/);
if (limit && !(resumed && await exists(limitMark))) {
  await Deno.writeTextFile(limitMark, sessionId);
  const reset = Math.ceil(Date.now() / 1000) + Number(limit[1] ?? 2);
  result({
    is_error: true,
    result: `Claude AI usage limit reached|${reset}`,
    total_cost_usd: 0.001,
  });
  Deno.exit(1);
}
const stall = prompt.match(/\[stall (\d+)\]/);
if (stall) await sleep(Number(stall[1]) * 1000);
if (prompt.includes("[slow]")) {
  for (let i = 1; i <= 5; i++) {
    say({ type: "assistant", message: { content: [{ type: "text", text: `step ${i} of 5` }] } });
    await sleep(400);
  }
}
const firstLine = prompt.trim().split("\n")[0];
say({
  type: "assistant",
  message: { content: [{ type: "text", text: `Working on: ${firstLine}` }] },
});
if (prompt.includes("[fail]")) {
  result({ subtype: "error_during_execution", is_error: true, result: "the stand-in failed" });
  Deno.exit(1);
}
const git = async (...argv: string[]) => {
  const { code, stdout } = await new Deno.Command("git", {
    args: ["-c", "user.name=Stand-in", "-c", "user.email=standin@example.test", ...argv],
    env: { GIT_EDITOR: "true" },
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout) };
};
if (/rebase/i.test(prompt) && !prompt.includes("[leave-rebase]")) await finishRebase();
const files = [...prompt.matchAll(/\[(?:file|conflict) ([^\]\s]+)\]/g)].map((match) => match[1]);
if (prompt.includes("Verification failed")) files.push(".verified");
const removeVerified = prompt.includes("[verify-once]") &&
  !prompt.includes("Verification failed") && await exists(".verified");
// Its own name on each ship and run: two ships committing at once make two commits.
if (!files.length && !removeVerified) {
  files.push(`standin-${Date.now()}-${sessionId.slice(0, 8)}.txt`);
}
say({
  type: "assistant",
  message: {
    content: [{
      type: "tool_use",
      name: "Bash",
      input: { command: `git commit ${files.join(" ")}` },
    }],
  },
});
for (const file of files) {
  const content = file === ".verified"
    ? ""
    : file.startsWith("standin-")
    ? prompt
    : `${firstLine}\n`;
  await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${file}`), { recursive: true });
  await Deno.writeTextFile(file, content);
  await git("add", "--", file);
}
if (removeVerified) await git("rm", "-q", "--", ".verified");
await git("commit", "-q", "-m", `Stand-in: ${firstLine.slice(0, 50)}`);
const sleepFor = prompt.match(/\[sleep (\d+(?:\.\d+)?)\]/);
if (sleepFor) await sleep(Number(sleepFor[1]) * 1000);
say({ type: "user", message: { content: [{ type: "tool_result", content: "committed" }] } });
result({ result: `Done: ${firstLine}` });

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

// Resolves a rebase's conflicts with both sides' lines and continues it, until it ends.
async function finishRebase(): Promise<void> {
  for (let step = 0; step < 100 && await rebasing(); step++) {
    const conflicted = (await git("diff", "--name-only", "--diff-filter=U")).stdout
      .split("\n").filter(Boolean);
    for (const file of conflicted) {
      const text = await Deno.readTextFile(file).catch(() => undefined);
      await Deno.writeTextFile(file, text === undefined ? `${firstLine}\n` : bothSides(text));
      await git("add", "--", file);
    }
    say({
      type: "assistant",
      message: {
        content: [{
          type: "tool_use",
          name: "Bash",
          input: { command: `git add ${conflicted.join(" ")} && git rebase --continue` },
        }],
      },
    });
    if ((await git("rebase", "--continue")).code !== 0 && !conflicted.length) {
      // Stopped for nothing it can resolve (an empty commit, say): skip that commit.
      await git("rebase", "--skip");
    }
  }
}

async function rebasing(): Promise<boolean> {
  for (const name of ["rebase-merge", "rebase-apply"]) {
    const path = (await git("rev-parse", "--git-path", name)).stdout.trim();
    if (path && await exists(path)) return true;
  }
  return false;
}

// A conflicted file's text with both sides kept: ours, then theirs; the base (diff3) dropped.
function bothSides(text: string): string {
  const kept: string[] = [];
  let section: "both" | "ours" | "base" | "theirs" = "both";
  for (const line of text.split("\n")) {
    if (line.startsWith("<<<<<<< ")) section = "ours";
    else if (line.startsWith("||||||| ") && section === "ours") section = "base";
    else if (line === "=======" && section !== "both") section = "theirs";
    else if (line.startsWith(">>>>>>> ") && section === "theirs") section = "both";
    else if (section !== "base") kept.push(line);
  }
  return kept.join("\n");
}
