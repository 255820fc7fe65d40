/**
 * One run of headless Claude Code for a task: the prompt on stdin, its stream-json passed
 * through as it comes (so `agent follow` sees it live), the session and the time it last spoke
 * kept in the task's state, and the task flagged `stalled` while it is silent.
 *
 * @module
 */

import { OhcommodoreError } from "../errors.ts";
import { readLines } from "../lines.ts";
import { DEFAULT_STALL_MS, type TaskSpec } from "./task.ts";
import { shipPath } from "./task_git.ts";
import { passThrough } from "./task_output.ts";
import { type TaskState, writeTaskState } from "./task_state.ts";

/** What Claude Code's stream says that the outcome needs. */
export interface RunRecord {
  /** Claude Code's exit code. */
  exitCode: number;
  /** Its session, once it said. */
  sessionId: string | null;
  /** The stream's `result` object, when it printed one. */
  result: Record<string, unknown> | null;
  /** What it wrote to stderr. */
  stderr: string;
}

// A stream-json line carries a tool's whole result (a file read, say): room for a big one.
const MAX_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Runs Claude Code once, passing its output through line by line, and keeps the task's state
 * on disk (its session, when it last spoke, stalled or running).
 *
 * @param spec The task (or its resumption).
 * @param workdir The checkout.
 * @param prompt What Claude Code reads on stdin; given as a promise, it is written once it
 *   resolves (Claude Code starts meanwhile; its agent, which is what commits, works only from it).
 * @param state The task's state, updated as the stream goes.
 * @param home The ship user's home, for tests.
 * @param onStall Called once when it has been silent for the task's stall time.
 * @returns What the run said that the outcome needs.
 * @throws {OhcommodoreError} When claude is not installed.
 */
export async function runClaude(
  spec: TaskSpec,
  workdir: string,
  prompt: string | Promise<string>,
  state: TaskState,
  home: string | undefined,
  onStall: () => Promise<void> = () => Promise.resolve(),
): Promise<RunRecord> {
  const args = ["-p", "--output-format", "stream-json", "--verbose"];
  if (spec.maxTurns !== undefined) args.push("--max-turns", String(spec.maxTurns));
  if (spec.model) args.push("--model", spec.model);
  if (spec.resume) args.push("--resume", spec.resume);
  args.push(
    ...(spec.permissionMode
      ? ["--permission-mode", spec.permissionMode]
      : ["--dangerously-skip-permissions"]),
  );
  // Where init.sh and people put programs for this user.
  const path = shipPath(home);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("claude", {
      args,
      cwd: workdir,
      env: { PATH: path },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new OhcommodoreError(
        `claude is not installed on this ship (not on PATH: ${path}): install Claude Code ` +
          `there, or put it in ~/.local/bin`,
      );
    }
    throw error;
  }
  const writer = child.stdin.getWriter();
  Promise.resolve(prompt).then((text) => writer.write(new TextEncoder().encode(text)))
    .then(() => writer.close()).catch(() => writer.abort().catch(() => {}));
  const stderr = new Response(child.stderr).text();
  const stallMs = spec.stallMs ?? DEFAULT_STALL_MS;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  const armStall = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => {
      stalled = true;
      onStall().catch(() => {});
    }, stallMs);
  };
  armStall();
  let result: Record<string, unknown> | null = null;
  let lastWrite = 0;
  try {
    for await (const line of readLines(child.stdout, MAX_LINE_CHARS, { keepLast: true })) {
      armStall();
      await passThrough(line);
      let event: Record<string, unknown> | null = null;
      try {
        event = JSON.parse(line);
      } catch {
        // not JSON: passed through all the same
      }
      if (typeof event?.session_id === "string") state.sessionId = event.session_id;
      if (event?.type === "result") result = event;
      // The state on disk says when it last spoke, at most once a second.
      if (stalled || Date.now() - lastWrite > 1000) {
        stalled = false;
        state.status = "running";
        state.lastOutputAt = new Date().toISOString();
        lastWrite = Date.now();
        await writeTaskState(state, home).catch(() => {});
      }
    }
  } catch (error) {
    // Our stdout gone, say: Claude Code does not run on unseen.
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    throw error;
  } finally {
    clearTimeout(stallTimer);
  }
  const status = await child.status;
  return { exitCode: status.code, sessionId: state.sessionId, result, stderr: await stderr };
}
