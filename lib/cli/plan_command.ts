/**
 * `ohcommodore plan …`: hand a body of work to the flagship, follow it, read it, cancel it; and
 * the hidden `_call` that runs on the flagship where forwards are refused.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "./deps.ts";
import { quote } from "../clip.ts";
import { InterruptedError, UsageError } from "../errors.ts";
import { Fleet } from "../fleet/fleet.ts";
import { connectToMember } from "../inbox/tunnel.ts";
import { identityAddress, readIdentity } from "../identity.ts";
import { homeDir } from "../paths.ts";
import { Ssh } from "../ssh.ts";
import { errorToData } from "../error_data.ts";
import { MAX_ATTEMPTS } from "../plan/plan_schema.ts";
import { planFromIssues } from "../plan/from_issues.ts";
import { checkBudget, type PlanRunOptions } from "../plan/plan_options.ts";
import type { PlanEvent, PlanSummary } from "../plan/plan_types.ts";
import type { Plan } from "../plan/plans.ts";
import { wholeNumber } from "./arguments.ts";
import { shipsOption } from "./completions.ts";
import { listenForInterruption } from "./interrupt.ts";
import { escapeControls, formatTable, note, out, printJson } from "./output.ts";

/** Builds the `plan` command group. */
export function planCommand(): Command {
  const plan = new Command("plan")
    .description(
      "Hand a plan — tasks with dependencies — to the flagship, which dispatches them to idle " +
        "ships, verifies, retries and integrates them within a budget",
    );
  plan.addCommand(runCommand());
  plan.addCommand(statusCommand());
  plan.addCommand(followCommand());
  plan.addCommand(listCommand());
  plan.addCommand(cancelCommand());
  plan.addCommand(hiddenCallCommand(), { hidden: true });
  return plan;
}

function runCommand(): CommandUnknownOpts {
  return new Command("run")
    .description(
      "Hand a plan file (YAML or JSON) to the flagship and print its id; the flagship drives it " +
        "whether or not this laptop stays",
    )
    .argument("[file]", "the plan file")
    .option(
      "--from-issues <owner/repo>",
      "build the plan from the repository's open GitHub issues with gh (a task per issue)",
    )
    .option("--label <label>", "with --from-issues: only issues with this label")
    .addOption(shipsOption("these ships: names or unique prefixes, comma-separated"))
    .addOption(new Option("--all", "every ship (the default)").conflicts("ships"))
    .option("--budget <usd>", "stop starting work once the plan has cost this many US dollars")
    .option(
      "--max-attempts <n>",
      `agent runs per task, verification retries included (1-${MAX_ATTEMPTS}; default 2)`,
      wholeNumber("--max-attempts", { max: MAX_ATTEMPTS }),
    )
    .option(
      "--integrate <branch>",
      "bring each verified task onto this branch (made from the default branch when missing; " +
        "default plan-<id>)",
    )
    .addOption(
      new Option("--pr <mode>", "pull requests: one per task, one for the plan, or none")
        .choices(["each", "one", "none"]),
    )
    .option("-w, --wait", "show progress until the plan ends; exit 1 unless every task is done")
    .option("--json", "print the plan's id, or with --wait its status at the end, as JSON")
    .addHelpText(
      "after",
      `\nA plan file:\n` +
        `  verify: deno task test      # run in the checkout; only a passing task is done\n` +
        `  maxAttempts: 2\n  budgetUsd: 25\n  tasks:\n` +
        `    - id: parser\n      prompt: Add a parser for the new config format\n` +
        `    - id: cli\n      prompt: Use the parser in the CLI\n      needs: [parser]\n` +
        `\nExamples:\n  ohcommodore plan run release.yaml --budget 25 --integrate release --wait\n` +
        `  ohcommodore plan run --from-issues acme/web --label ready --pr each`,
    )
    .action(async (file: string | undefined, options) => {
      if (!file === !options.fromIssues) {
        throw new UsageError(
          file
            ? `Give a plan file or --from-issues, not both`
            : `Give a plan file, or --from-issues <owner/repo> to make one from GitHub issues`,
          { next: `see "ohcommodore plan run --help" for the file's shape` },
        );
      }
      if (options.label !== undefined && !options.fromIssues) {
        throw new UsageError(`The --label option goes with --from-issues <owner/repo>`);
      }
      const ships = options.ships?.split(",").map((name: string) => name.trim()).filter(Boolean);
      if (ships?.length === 0) {
        throw new UsageError(`--ships ${quote(options.ships)} names no ship: give names`);
      }
      const settings: PlanRunOptions = {
        ...(ships ? { ships } : {}),
        ...(options.budget !== undefined ? { budgetUsd: parseBudget(options.budget) } : {}),
        ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
        ...(options.integrate !== undefined ? { integrate: options.integrate } : {}),
        ...(options.pr !== undefined ? { pr: options.pr as PlanRunOptions["pr"] } : {}),
      };
      const planFile = file
        ? await (await import("../plan/plan_file.ts")).readPlanFile(file)
        : await planFromIssues(options.fromIssues!, { label: options.label });
      await using fleet = await Fleet.open();
      const plan = await fleet.plans.run(planFile, settings);
      if (!options.wait) {
        if (options.json) return printJson({ id: plan.id });
        out(plan.id);
        note(`Follow it with "ohcommodore plan follow ${plan.id}"`);
        return;
      }
      note(`plan ${plan.id}`);
      const summary = await followTelling(plan, options.json ? () => {} : printEvent);
      if (options.json) printJson(summary);
      else printSummary(summary);
      if (summary.tasks.some((task) => task.status !== "done")) Deno.exitCode = 1;
    });
}

function statusCommand(): CommandUnknownOpts {
  return new Command("status")
    .description("Show a plan: its status, cost and tokens, and each task's")
    .argument("<id>", "the plan's id or a unique prefix")
    .option("--json", "print it as JSON")
    .action(async (id: string, options) => {
      await using fleet = await Fleet.open();
      const summary = await fleet.plans.get(id).status();
      if (options.json) return printJson(summary);
      printSummary(summary);
    });
}

function followCommand(): CommandUnknownOpts {
  return new Command("follow")
    .description(
      "Print a plan's events from its start, then as they happen, until it ends (Ctrl-C stops " +
        "following, not the plan); exit 1 unless every task is done",
    )
    .argument("<id>", "the plan's id or a unique prefix")
    .option("--json", "print one event per line as JSON")
    .action(async (id: string, options) => {
      await using fleet = await Fleet.open();
      const summary = await followTelling(
        fleet.plans.get(id),
        options.json ? (event) => out(JSON.stringify(event)) : printEvent,
      );
      if (!options.json) note(`${summary.id}: ${summary.status}`);
      if (summary.tasks.some((task) => task.status !== "done")) Deno.exitCode = 1;
    });
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .description("List the flagship's plans, newest first")
    .option("--json", "print them as JSON")
    .action(async (options) => {
      await using fleet = await Fleet.open();
      const plans = await fleet.plans.list();
      if (options.json) return printJson(plans);
      if (plans.length === 0) return note(`No plans yet: start one with "ohcommodore plan run"`);
      out(formatTable(
        ["ID", "STATUS", "TASKS", "COST", "BRANCH", "CREATED"],
        plans.map((plan) => [
          plan.id,
          plan.status,
          `${plan.tasksDone}/${plan.tasks} done`,
          usd(plan.costUsd, plan.budgetUsd),
          escapeControls(plan.integrate),
          plan.createdAt,
        ]),
      ));
    });
}

function cancelCommand(): CommandUnknownOpts {
  return new Command("cancel")
    .description("Cancel a plan: its running tasks are stopped and nothing more starts")
    .argument("<id>", "the plan's id or a unique prefix")
    .option("--json", "print the plan as it ends, as JSON")
    .action(async (id: string, options) => {
      await using fleet = await Fleet.open();
      const summary = await fleet.plans.get(id).cancel();
      if (options.json) return printJson(summary);
      note(`${summary.id}: ${summary.status}`);
    });
}

// On the flagship, for a client whose forwards are refused: one call on stdin, its events and
// its answer as JSON lines on stdout.
function hiddenCallCommand(): CommandUnknownOpts {
  return new Command("_call")
    .description("Answer one plan call (JSON on stdin) through this flagship's scheduler")
    .action(async () => {
      const say = (value: unknown) => out(JSON.stringify(value));
      try {
        const { call } = JSON.parse(await new Response(Deno.stdin.readable).text());
        const home = homeDir();
        const address = identityAddress(await readIdentity(home));
        const server = await connectToMember(home, new Ssh(), address);
        if (!server) {
          throw new UsageError(`The flagship's scheduler is not running, and it drives plans`, {
            next: `start it with "ohcommodore scheduler start" on the flagship`,
          });
        }
        try {
          const result = await server.call("plan", { call }, {
            onEvent: (event) => say({ event }),
            timeoutMs: 30 * 24 * 3_600_000,
          });
          say({ result });
        } finally {
          server.close();
        }
      } catch (error) {
        const data = errorToData(error);
        say({ error: data });
        Deno.exitCode = data.exitCode || 1;
      }
    });
}

// Follows a plan, printing each event; Ctrl-C stops following and says the plan goes on.
async function followTelling(
  plan: Plan,
  onEvent: (event: PlanEvent) => void,
): Promise<PlanSummary> {
  using interruption = listenForInterruption(`see "ohcommodore plan status ${plan.id}"`, {
    announce: false,
  });
  try {
    return await plan.follow(onEvent, { signal: interruption.signal });
  } catch (error) {
    if (!interruption.signal.aborted) throw error;
    throw new InterruptedError(
      `Stopped following plan ${plan.id}; the flagship carries on with it`,
      { next: `follow it again with "ohcommodore plan follow ${plan.id}"` },
    );
  }
}

function printEvent(event: PlanEvent): void {
  const who = [event.task, event.ship].filter(Boolean).join(" on ");
  note(
    escapeControls(`${event.at.slice(11, 19)} ${event.type}${who ? ` ${who}` : ""}: ${event.text}`),
  );
}

function printSummary(summary: PlanSummary): void {
  out(escapeControls(
    `plan ${summary.id}: ${summary.status}, ${usd(summary.costUsd, summary.budgetUsd)}, ` +
      `${summary.tokens.inputTokens + summary.tokens.outputTokens} tokens, onto ` +
      `${summary.integrate}${summary.pr ? `, ${summary.pr}` : ""}`,
  ));
  if (summary.note) out(escapeControls(summary.note));
  out(formatTable(
    ["TASK", "STATUS", "SHIP", "ATTEMPTS", "COST", "NEEDS", "PR"],
    summary.tasks.map((task) => [
      task.id,
      task.status,
      task.ship ?? "-",
      String(task.attempts),
      usd(task.costUsd, null),
      task.needs.join(",") || "-",
      escapeControls(task.pr ?? "-"),
    ]),
  ));
}

function usd(cost: number, budget: number | null): string {
  return `$${cost.toFixed(4)}${budget === null ? "" : ` of $${budget}`}`;
}

function parseBudget(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (Number.isNaN(value)) {
    throw new UsageError(
      `The budget (--budget) is in US dollars, e.g. 25 or 2.50, not ${quote(text)}`,
    );
  }
  return checkBudget(value);
}
