/**
 * A stand-in for `claude -p --output-format stream-json --verbose` in tests, since Claude cannot
 * run here: it reads the prompt on stdin, speaks the headless formats (an init line, assistant
 * messages with text and tool use, a result object last), makes a commit in the repository it
 * runs in, and records each call (arguments, working directory, prompt, whether credentials were
 * in its environment — never their values) in `~/.claude-standin/calls.jsonl`.
 *
 * Words in the prompt choose a run: `[fail]` (is_error), `[crash]` (exit 3 without a result),
 * `[limit]` (a usage limit that resets in 2 s; a `--resume` after it succeeds), `[stall N]`
 * (silent N seconds after the init line), `[slow]` (a line every 400 ms for 2 s). Without
 * CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY it fails as Claude Code does without credentials.
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
if (prompt.includes("[limit]") && !(resumed && await exists(limitMark))) {
  await Deno.writeTextFile(limitMark, sessionId);
  const reset = Math.ceil(Date.now() / 1000) + 2;
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
const file = `standin-${Date.now()}.txt`;
say({
  type: "assistant",
  message: {
    content: [{ type: "tool_use", name: "Bash", input: { command: `git commit ${file}` } }],
  },
});
await Deno.writeTextFile(file, prompt);
const git = (...argv: string[]) =>
  new Deno.Command("git", {
    args: ["-c", "user.name=Stand-in", "-c", "user.email=standin@example.test", ...argv],
    stdout: "null",
    stderr: "null",
  }).output();
await git("add", file);
await git("commit", "-q", "-m", `Stand-in: ${firstLine.slice(0, 50)}`);
say({ type: "user", message: { content: [{ type: "tool_result", content: "committed" }] } });
result({ result: `Done: ${firstLine}` });

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
