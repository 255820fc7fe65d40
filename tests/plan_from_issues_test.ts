import assert from "node:assert/strict";
import { join } from "node:path";
import { OhcommodoreError, UsageError } from "../lib/errors.ts";
import { MAX_ISSUE_BODY, planFromIssues } from "../lib/plan/from_issues.ts";
import { checkPlan } from "../lib/plan/plan_file.ts";
import { type TempDir, tempDir } from "./helpers/temp_dir.ts";

// A stand-in for `gh issue list`: records its arguments (one per line) and the environment it
// was given, then answers as GH_STANDIN_MODE says, with the issues in GH_STANDIN_ISSUES.
const GH_STANDIN = `#!/usr/bin/env bash
set -euo pipefail
here=$(dirname "$0")
printf '%s\\n' "$@" >"$here/args"
echo "GH_PROMPT_DISABLED=\${GH_PROMPT_DISABLED:-}" >"$here/env"
case "\${GH_STANDIN_MODE:-issues}" in
issues) cat "$GH_STANDIN_ISSUES" ;;
fail)
  echo "To get started with GitHub CLI, please run:  gh auth login" >&2
  echo "Alternatively, populate the GH_TOKEN environment variable." >&2
  exit 4
  ;;
garbage) echo "<html>rate limited</html>" ;;
slow) exec sleep 30 ;;
flood) exec head -c 9000000 /dev/zero ;;
esac
`;

interface Standin {
  dir: TempDir;
  gh: string;
  issuesFile: string;
  env: (mode: string) => Record<string, string>;
  args: () => Promise<string[] | null>;
}

async function standin(issues: unknown[] = []): Promise<Standin> {
  const dir = await tempDir("ohc-plan-issues-");
  const gh = join(dir.path, "gh");
  await Deno.writeTextFile(gh, GH_STANDIN, { mode: 0o755 });
  const issuesFile = join(dir.path, "issues.json");
  await Deno.writeTextFile(issuesFile, JSON.stringify(issues));
  return {
    dir,
    gh,
    issuesFile,
    env: (mode) => ({ GH_STANDIN_MODE: mode, GH_STANDIN_ISSUES: issuesFile }),
    args: async () => {
      try {
        return (await Deno.readTextFile(join(dir.path, "args"))).split("\n").slice(0, -1);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
  };
}

const ISSUES = [
  { number: 12, title: "The parser breaks on `$x`", body: "Steps:\n1. run 'it'; $(boom)\n" },
  { number: 3, title: "Document the config format", body: "" },
  { number: 40, title: "Flaky test", body: null },
];

Deno.test("planFromIssues makes a task per open issue, oldest first, with gh's arguments as a list", async () => {
  const s = await standin(ISSUES);
  await using _dir = s.dir;
  const plan = await planFromIssues("acme/web", { gh: s.gh, env: s.env("issues") });
  assert.deepEqual(plan, {
    tasks: [
      {
        id: "issue-3",
        prompt: "Document the config format\n\n(This is GitHub issue #3 of acme/web.)",
        issue: 3,
      },
      {
        id: "issue-12",
        prompt: "The parser breaks on `$x`\n\nSteps:\n1. run 'it'; $(boom)\n\n\n" +
          "(This is GitHub issue #12 of acme/web.)",
        issue: 12,
      },
      {
        id: "issue-40",
        prompt: "Flaky test\n\n(This is GitHub issue #40 of acme/web.)",
        issue: 40,
      },
    ],
  });
  assert.deepEqual(checkPlan(plan), plan);
  assert.deepEqual(await s.args(), [
    "issue",
    "list",
    "--repo=acme/web",
    "--state=open",
    "--json=number,title,body",
    "--limit=50",
  ]);
  // Told not to ask questions nobody sees.
  assert.equal(await Deno.readTextFile(join(s.dir.path, "env")), "GH_PROMPT_DISABLED=1\n");
});

Deno.test("planFromIssues passes the label and the limit, a label with a dash included", async () => {
  const s = await standin(ISSUES.slice(0, 1));
  await using _dir = s.dir;
  await planFromIssues("acme/web", {
    gh: s.gh,
    env: s.env("issues"),
    label: "good first issue",
    limit: 5,
  });
  assert.deepEqual((await s.args())?.slice(-2), ["--limit=5", "--label=good first issue"]);
  await planFromIssues("acme/web", { gh: s.gh, env: s.env("issues"), label: "-x" });
  assert.deepEqual((await s.args())?.slice(-2), ["--limit=50", "--label=-x"]);
});

Deno.test("an issue's body is cut at 20,000 characters, never inside a character", async () => {
  const body = "a".repeat(MAX_ISSUE_BODY - 2) + "😀".repeat(100);
  const s = await standin([{ number: 1, title: "Long", body }]);
  await using _dir = s.dir;
  const plan = await planFromIssues("acme/web", { gh: s.gh, env: s.env("issues") });
  const kept = plan.tasks[0].prompt.split("\n\n")[1];
  assert.ok(kept.length <= MAX_ISSUE_BODY, `${kept.length}`);
  assert.ok(kept.endsWith("a…"), kept.slice(-5));
  assert.ok(kept.startsWith("a".repeat(MAX_ISSUE_BODY - 2)));
});

Deno.test("no open issues is a usage error that says so, with the label", async () => {
  const s = await standin([]);
  await using _dir = s.dir;
  await assert.rejects(
    () => planFromIssues("acme/web", { gh: s.gh, env: s.env("issues"), label: "release-2" }),
    (error) =>
      error instanceof UsageError && error.exitCode === 2 &&
      error.message === 'acme/web has no open issues labelled "release-2"' &&
      /give another label, or write a plan file/.test(error.next ?? ""),
  );
  await assert.rejects(
    () => planFromIssues("acme/web", { gh: s.gh, env: s.env("issues") }),
    (error) => error instanceof UsageError && error.message === "acme/web has no open issues",
  );
});

Deno.test("gh not installed is a usage error that says to install it or write a plan file", async () => {
  await using dir = await tempDir("ohc-plan-issues-");
  for (const gh of [join(dir.path, "gh"), "ohc-no-such-gh-program"]) {
    await assert.rejects(
      () => planFromIssues("acme/web", { gh }),
      (error) =>
        error instanceof UsageError && error.exitCode === 2 &&
        error.message === `Cannot list the issues of acme/web: "${gh}" (GitHub's CLI) is not ` +
            "installed" &&
        /install it \(https:\/\/cli\.github\.com\), or write a plan file/.test(error.next ?? ""),
    );
  }
});

Deno.test("gh failing says its last line of stderr, e.g. that it is not signed in", async () => {
  const s = await standin();
  await using _dir = s.dir;
  await assert.rejects(
    () => planFromIssues("acme/web", { gh: s.gh, env: s.env("fail") }),
    (error) =>
      error instanceof OhcommodoreError && !(error instanceof UsageError) &&
      error.exitCode === 1 &&
      error.message === "gh could not list the issues of acme/web: Alternatively, populate the " +
          "GH_TOKEN environment variable." &&
      (error.next ?? "").includes('"gh auth status"'),
  );
});

Deno.test("gh answering something other than issues, too much, or too late is an error", async () => {
  const s = await standin([{ number: "7", title: "x" }]);
  await using _dir = s.dir;
  await assert.rejects(
    () => planFromIssues("acme/web", { gh: s.gh, env: s.env("garbage") }),
    (error) =>
      error instanceof OhcommodoreError &&
      error.message === "gh answered something other than a list of issues for acme/web: " +
          '"<html>rate limited</html>"',
  );
  await assert.rejects(
    () => planFromIssues("acme/web", { gh: s.gh, env: s.env("issues") }),
    (error) =>
      error instanceof OhcommodoreError && /other than a list of issues/.test(error.message),
  );
  await assert.rejects(
    () => planFromIssues("acme/web", { gh: s.gh, env: s.env("flood") }),
    (error) =>
      error instanceof OhcommodoreError &&
      error.message === "gh listed more than 8388608 characters of issues of acme/web",
  );
  const started = Date.now();
  await assert.rejects(
    () => planFromIssues("acme/web", { gh: s.gh, env: s.env("slow"), timeoutMs: 300 }),
    (error) =>
      error instanceof OhcommodoreError &&
      error.message === "gh did not list the issues of acme/web within 300ms",
  );
  assert.ok(Date.now() - started < 10_000);
});

Deno.test("a bad repository, label or limit is refused before gh runs", async () => {
  const s = await standin(ISSUES);
  await using _dir = s.dir;
  const env = s.env("issues");
  for (
    const repo of [
      "acme",
      "acme/web/x",
      "../web",
      "acme/..",
      "acme/web;rm -rf",
      "-R/x",
      "",
      "acme/ web",
    ]
  ) {
    await assert.rejects(
      () => planFromIssues(repo, { gh: s.gh, env }),
      (error) =>
        error instanceof UsageError &&
        error.message.includes("is not a repository; give owner/name"),
    );
  }
  for (const label of ["", "  ", "a\nb", "bell\x07"]) {
    await assert.rejects(
      () => planFromIssues("acme/web", { gh: s.gh, env, label }),
      (error) => error instanceof UsageError && error.message.includes("is not a label"),
    );
  }
  for (const limit of [0, 201, 1.5]) {
    await assert.rejects(
      () => planFromIssues("acme/web", { gh: s.gh, env, limit }),
      (error) => error instanceof UsageError && error.message.includes("Invalid limit"),
    );
  }
  assert.equal(await s.args(), null);
});
