/**
 * A plan made of a repository's open GitHub issues, listed with `gh`: one task per issue, its
 * title and body as the prompt, so that its pull request says `Fixes #N`. `gh` runs with an
 * argument list (never a shell), a deadline and a cap on what it may print.
 *
 * @example Plan the issues labelled for a release
 * ```ts
 * import { planFromIssues } from "@smithclay/ohcommodore/plan";
 *
 * const plan = await planFromIssues("acme/web", { label: "release-2" });
 * console.log(plan.tasks.map((task) => `${task.id}: ${task.prompt.split("\n")[0]}`));
 * ```
 *
 * @module
 */

import { quote } from "../clip.ts";
import { OhcommodoreError, UsageError } from "../errors.ts";
import { formatDuration } from "../duration.ts";
import { lastLine, type ProcessResult, runProcess } from "../process.ts";
import { parseWholeNumber } from "../whole_number.ts";
import { checkPlan } from "./plan_check.ts";
import { MAX_PLAN_TASKS, type PlanFile } from "./plan_schema.ts";

/** Options for {@link planFromIssues}. */
export interface PlanFromIssuesOptions {
  /** Only issues with this label. */
  label?: string;
  /**
   * The most issues to take, from 1 to {@link MAX_PLAN_TASKS}.
   *
   * @default {50}
   */
  limit?: number;
  /**
   * The `gh` program.
   *
   * @default {"gh"}
   */
  gh?: string;
  /** Extra environment for `gh` (e.g. `GH_TOKEN`). */
  env?: Record<string, string>;
  /**
   * How long `gh` may take.
   *
   * @default {60_000}
   */
  timeoutMs?: number;
}

/** The most characters of an issue's body a prompt takes. */
export const MAX_ISSUE_BODY = 20_000;

// The form `ship create owner/repo` takes (lib/fleet/names.ts), the owner starting with a letter
// or digit as GitHub's do; "." and ".." are no repository's name (gh would put them in a URL).
const OWNER_REPO = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/(?!\.\.?$)[A-Za-z0-9_.-]+$/;
// What gh may print: 200 issues of GitHub's largest bodies (65,536 characters) fit.
const MAX_OUTPUT = 8 * 1024 * 1024;
const PLAN_FILE = `write a plan file and run "ohcommodore plan run <file>"`;

/**
 * Builds a plan from a repository's open issues, oldest first: task `issue-<N>` for issue N,
 * whose prompt is its title and body (the body cut at {@link MAX_ISSUE_BODY} characters).
 *
 * @example Plan every open issue of a repository
 * ```ts
 * import { planFromIssues } from "@smithclay/ohcommodore/plan";
 *
 * const plan = await planFromIssues("acme/web", { limit: 10 });
 * console.log(plan.tasks[0].issue); // e.g. 12
 * ```
 *
 * @param repo The repository, `owner/name`.
 * @param options A label to pick issues by, how many, and how to run `gh`.
 * @returns The plan: its tasks only, the settings left to the caller.
 * @throws {UsageError} For a bad repository, label or limit, when `gh` is not installed, or when
 *   there is no open issue (with that label).
 * @throws {OhcommodoreError} When `gh` fails (e.g. not signed in), or answers something else.
 */
export async function planFromIssues(
  repo: string,
  options: PlanFromIssuesOptions = {},
): Promise<PlanFile> {
  if (!OWNER_REPO.test(repo)) {
    throw new UsageError(`${quote(repo)} is not a repository; give owner/name, e.g. denoland/std`);
  }
  const { label } = options;
  // deno-lint-ignore no-control-regex -- a control character is what is refused
  if (label !== undefined && (label.trim() === "" || /[\x00-\x1f\x7f]/.test(label))) {
    throw new UsageError(`${quote(label)} is not a label; give a label's name, e.g. bug`);
  }
  const limit = parseWholeNumber(options.limit ?? 50, "limit", { max: MAX_PLAN_TASKS });
  const issues = await listIssues(repo, limit, options);
  if (issues.length === 0) {
    throw new UsageError(
      `${repo} has no open issues${label === undefined ? "" : ` labelled ${quote(label)}`}`,
      { next: label === undefined ? PLAN_FILE : `give another label, or ${PLAN_FILE}` },
    );
  }
  const tasks = issues.sort((a, b) => a.number - b.number).map((issue) => ({
    id: `issue-${issue.number}`,
    prompt: promptOf(issue, repo),
    issue: issue.number,
  }));
  return checkPlan({ tasks }, `the open issues of ${repo}`);
}

interface Issue {
  number: number;
  title: string;
  body: string;
}

async function listIssues(
  repo: string,
  limit: number,
  options: PlanFromIssuesOptions,
): Promise<Issue[]> {
  const gh = options.gh ?? "gh";
  // `--flag=value`: a label that starts with "-" is still the label.
  const args = ["issue", "list", `--repo=${repo}`, "--state=open", "--json=number,title,body"];
  args.push(`--limit=${limit}`);
  if (options.label !== undefined) args.push(`--label=${options.label}`);
  const timeoutMs = options.timeoutMs ?? 60_000;
  let result: ProcessResult;
  try {
    result = await runProcess(gh, args, {
      timeoutMs,
      // gh must not stop to ask a question nobody sees.
      env: { GH_PROMPT_DISABLED: "1", ...options.env },
      maxOutput: MAX_OUTPUT,
    });
  } catch (error) {
    // Only starting it can fail here: runProcess is given no signal to throw.
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `Cannot list the issues of ${repo}: "${gh}" (GitHub's CLI) is not installed`,
        { cause: error, next: `install it (https://cli.github.com), or ${PLAN_FILE}` },
      );
    }
    throw new OhcommodoreError(`Cannot run "${gh}": ${String(error)}`, { cause: error });
  }
  if (result.timedOut) {
    throw new OhcommodoreError(
      `gh did not list the issues of ${repo} within ${formatDuration(timeoutMs)}`,
      { next: `try again, or ${PLAN_FILE}` },
    );
  }
  if (result.stdout.length > MAX_OUTPUT) {
    throw new OhcommodoreError(
      `gh listed more than ${MAX_OUTPUT} characters of issues of ${repo}`,
      { next: `give a smaller limit or a label, or ${PLAN_FILE}` },
    );
  }
  if (result.code !== 0) {
    const said = lastLine(result.stderr) || `exit ${result.code}`;
    throw new OhcommodoreError(`gh could not list the issues of ${repo}: ${said}`, {
      next: `see "gh auth status" and "gh issue list --repo ${repo}", or ${PLAN_FILE}`,
    });
  }
  return issuesOf(result.stdout, repo);
}

// gh's answer, checked: a list of issues with a number and a title.
function issuesOf(stdout: string, repo: string): Issue[] {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    // said below
  }
  const isIssue = (item: Record<string, unknown> | null) =>
    Number.isSafeInteger(item?.number) && (item?.number as number) > 0 &&
    typeof item?.title === "string";
  if (!Array.isArray(value) || !value.every(isIssue)) {
    throw new OhcommodoreError(
      `gh answered something other than a list of issues for ${repo}: ` +
        quote(stdout.trim() || "nothing"),
    );
  }
  return value.map((item) => ({
    number: item.number,
    title: item.title,
    body: typeof item.body === "string" ? item.body : "",
  }));
}

// The title, the body and where they come from; an issue without a body is its title alone.
function promptOf(issue: Issue, repo: string): string {
  const source = `(This is GitHub issue #${issue.number} of ${repo}.)`;
  return [issue.title, clipped(issue.body), source].filter((part) => part.trim() !== "")
    .join("\n\n");
}

// An issue's body as far as a prompt takes it, "…" marking the cut, never splitting a character.
function clipped(body: string): string {
  if (body.length <= MAX_ISSUE_BODY) return body;
  return `${body.slice(0, MAX_ISSUE_BODY - 1).replace(/[\uD800-\uDBFF]$/, "")}…`;
}
