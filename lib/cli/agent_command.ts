/**
 * `ohcommodore agent …`: give prompts to Claude Code on ships, follow them, read and total what
 * they did; and the hidden `_task`, `_tasks`, `_integrate` and `_pr` that run on the ship.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "./deps.ts";
import { oneLine, quote } from "../clip.ts";
import { parseDuration } from "../duration.ts";
import { InterruptedError, UsageError } from "../errors.ts";
import { Fleet } from "../fleet/fleet.ts";
import type { AgentRunOptions, AgentTask } from "../fleet/agents.ts";
import { describeEvent } from "../agent/stream.ts";
import type { TaskOutcome, TaskSpec, TaskUsage } from "../agent/task.ts";
import { checkTaskSpec, MAX_TURNS } from "../agent/task_check.ts";
import { ownTasks } from "../agent/ship_tasks.ts";
import { idArgument, timeoutOption, wholeNumber } from "./arguments.ts";
import { shipsOption } from "./completions.ts";
import { listenForInterruption } from "./interrupt.ts";
import { SHIP_SIDE_COMMANDS } from "./ship_side_commands.ts";
import { costText, readableResult, statusText } from "./limit_text.ts";
import { age, escapeControls, formatTable, note, out, paint, printJson } from "./output.ts";

const maxTurns = wholeNumber("--max-turns", { max: MAX_TURNS });

/** Builds the `agent` command group. */
export function agentCommand(): Command {
  const agent = new Command("agent")
    .description("Give prompts to Claude Code on ships, follow them, and read what they did");

  agent.addCommand(runCommand());
  agent.addCommand(resumeCommand());
  agent.addCommand(followCommand());
  agent.addCommand(listCommand());
  agent.addCommand(showCommand());
  agent.addCommand(cancelCommand());
  agent.addCommand(hiddenTaskCommand(), { hidden: true });
  agent.addCommand(hiddenTasksCommand(), { hidden: true });
  agent.addCommand(hiddenIntegrateCommand(), { hidden: true });
  agent.addCommand(hiddenPrCommand(), { hidden: true });

  return agent;
}

// The settings of `run` and `resume` that shape the task.
function taskSettings(options: Record<string, unknown>): Omit<TaskSpec, "prompt"> {
  return {
    ...(options.branch ? { branch: String(options.branch) } : {}),
    ...(options.push ? { push: true } : {}),
    ...(options.pr ? { pr: true } : {}),
    ...(options.maxTurns ? { maxTurns: Number(options.maxTurns) } : {}),
    ...(options.model ? { model: String(options.model) } : {}),
    ...(options.permissionMode ? { permissionMode: String(options.permissionMode) } : {}),
    ...(options.retryOnLimit ? { retryOnLimit: true } : {}),
    ...(options.stall ? { stallMs: parseDuration(String(options.stall)) } : {}),
    ...(options.verify !== undefined ? { verify: String(options.verify) } : {}),
  };
}

// Waits for tasks, saying each one's id as it starts. Ctrl-C stops the waiting, not the tasks:
// it says that they carry on and how to follow them (exit 130; with --json, as the error's data).
async function waitTelling<T>(
  wait: (onStart: (task: AgentTask) => void) => Promise<T>,
): Promise<T> {
  const started: AgentTask[] = [];
  const onStart = (task: AgentTask) => {
    started.push(task);
    note(`${task.ship.name}: started ${task.id}`);
  };
  using interruption = listenForInterruption(`see "ohcommodore agent list"`, {
    announce: false,
  });
  const stopped = new Promise<never>((_, reject) =>
    interruption.signal.addEventListener("abort", () => {
      const why = (interruption.signal.reason as Error).message;
      reject(
        Object.assign(new InterruptedError(carryOn(why, started)), {
          tasks: started.map((task) => ({ ship: task.ship.name, id: task.id })),
        }),
      );
    }, { once: true })
  );
  return await Promise.race([wait(onStart), stopped]);
}

// What goes on after the waiting stopped, and how to follow it.
function carryOn(why: string, started: AgentTask[]): string {
  const stoppedWaiting = `Stopped waiting (${why})`;
  if (!started.length) {
    return `${stoppedWaiting} before any task had started; a task being sent may still ` +
      `start: see "ohcommodore agent list"`;
  }
  const tasks = started.map((task) => `${task.id} on ${task.ship.name}`).join(", ");
  return `${stoppedWaiting}; the task(s) carry on: ${tasks}; follow one with ` +
    `"ohcommodore agent follow ${started[0].id}", see them all with "ohcommodore agent list"`;
}

function printStarted(tasks: AgentTask[], json?: boolean): void {
  if (json) return printJson(tasks.map((task) => ({ ship: task.ship.name, id: task.id })));
  for (const task of tasks) out(`${task.id}  ${task.ship.name}`);
  note(`Follow one with: ohcommodore agent follow ${tasks[0]?.id ?? "<id>"}`);
}

function printOutcomes(outcomes: TaskOutcome[], json?: boolean): void {
  Deno.exitCode = outcomes.every((outcome) => outcome.status === "done") ? 0 : 1;
  if (json) return printJson(outcomes);
  out(formatTable(
    ["SHIP", "ID", "STATUS", "COST", "TURNS", "COMMITS", "PR / WHY"],
    outcomes.map((outcome) =>
      [
        outcome.ship,
        outcome.id || "-",
        statusText(outcome),
        costText(outcome),
        outcome.numTurns === null ? "-" : String(outcome.numTurns),
        String(outcome.commits.length),
        outcome.pr ?? oneLine(outcome.error ?? outcome.prError ?? "", 60),
      ].map((cell) => escapeControls(cell, { inline: true }))
    ),
  ));
}

// Every attempt's tokens.
function tokensText(usage: TaskUsage): string {
  return `Tokens: ${usage.inputTokens} input, ${usage.outputTokens} output, ` +
    `${usage.cacheCreationInputTokens} cache write, ${usage.cacheReadInputTokens} cache read`;
}

// `agent run`.
function runCommand(): CommandUnknownOpts {
  return new Command("run")
    .description(
      "Run headless Claude Code in each chosen ship's repository as an inbox task (the prompt " +
        "travels on stdin, never on a command line)",
    )
    .addOption(shipsOption("these ships: names or unique prefixes, comma-separated"))
    .addOption(new Option("--all", "every ship").conflicts("ships"))
    .option(
      "--branch <name>",
      "work on this branch: origin's when it has it, else made from the default branch " +
        "(ships of one repository that push get <name>-<ship> each)",
    )
    .option("--push", "push the branch to origin when the run ends (needs --branch)")
    .option("--pr", "open a pull request with gh and record its URL (pushes; needs --branch)")
    .option("--max-turns <n>", `Claude Code's --max-turns (1-${MAX_TURNS})`, maxTurns)
    .option("--model <model>", "Claude Code's --model, e.g. sonnet")
    .option(
      "--permission-mode <mode>",
      "Claude Code's --permission-mode (default: skip permissions)",
    )
    .addOption(timeoutOption("how long each task may run", "30m"))
    .option("--stall <duration>", "flag a task stalled after this long without output", "10m")
    .option("--retry-on-limit", "after a usage limit with a stated reset, resume then")
    .option(
      "--verify <command>",
      "run this in the checkout after the agent; only a passing run is done, pushed or opened " +
        "as a PR",
    )
    .option("-w, --wait", "wait for every task and print a summary; exit 1 unless all are done")
    .option("--json", "print the task ids, or with --wait one outcome per ship, as JSON")
    .argument("<prompt...>", 'the prompt, after "--"')
    .addHelpText(
      "after",
      `\nExamples:\n  ohcommodore agent run --all --wait -- "make the tests pass"\n` +
        `  ohcommodore agent run --ships web,api --branch deps --push --pr -- "update deps"\n` +
        `  ohcommodore agent run --all --branch fix --push --verify "deno task test" -- "fix it"`,
    )
    .action(async (words: string[], options) => {
      const prompt = words.join(" ");
      if (!options.ships && !options.all) {
        throw new UsageError(`Say which ships: --ships <a,b> or --all`);
      }
      const ships = options.ships?.split(",").map((name: string) => name.trim()).filter(Boolean);
      if (ships?.length === 0) {
        throw new UsageError(
          `--ships ${quote(options.ships)} names no ship: give names, comma-separated`,
        );
      }
      const settings: AgentRunOptions = {
        ...(ships ? { ships } : {}),
        ...taskSettings(options),
        timeoutMs: options.timeout,
      };
      checkTaskSpec({ prompt, ...settings });
      await using fleet = await Fleet.open();
      if (!options.wait) {
        const tasks = await fleet.agents.start(prompt, settings);
        return printStarted(tasks, options.json);
      }
      const outcomes = await waitTelling((onStart) =>
        fleet.agents.run(prompt, {
          ...settings,
          onStart,
          onOutcome: (outcome) => note(`${outcome.ship}: ${outcome.status}`),
        })
      );
      printOutcomes(outcomes, options.json);
    });
}

// `agent resume`.
function resumeCommand(): CommandUnknownOpts {
  return new Command("resume")
    .description("Continue a ship's last Claude Code session with a new prompt")
    .argument("<ship>", "the ship (name or unique prefix)")
    .argument("<prompt...>", 'the prompt, after "--"')
    .option("--push", "push the session's branch to origin when the run ends")
    .option("--pr", "open a pull request for the session's branch with gh (pushes it too)")
    .option("--max-turns <n>", `Claude Code's --max-turns (1-${MAX_TURNS})`, maxTurns)
    .option("--model <model>", "Claude Code's --model")
    .addOption(timeoutOption("how long the task may run", "30m"))
    .option("-w, --wait", "wait for it and print its outcome; exit 1 unless done")
    .option("--json", "print the task id, or with --wait its outcome, as JSON")
    .action(async (ship: string, words: string[], options) => {
      const prompt = words.join(" ");
      const settings = { ...taskSettings(options), timeoutMs: options.timeout };
      // --push and --pr take the last task's branch: the ship knows whether it has one.
      const { push: _push, pr: _pr, ...rest } = settings;
      checkTaskSpec({ prompt, ...rest });
      await using fleet = await Fleet.open();
      const task = await fleet.agents.resume(ship, prompt, settings);
      if (!options.wait) return printStarted([task], options.json);
      const outcome = await waitTelling((onStart) => {
        onStart(task);
        return task.wait();
      });
      printOutcomes([outcome], options.json);
    });
}

// `agent follow`.
function followCommand(): CommandUnknownOpts {
  return new Command("follow")
    .description(
      "Show a task's progress as it happens: what the agent says and which tools it uses",
    )
    .addArgument(idArgument("task"))
    .option("--json", "pass Claude Code's stream-json through, one object a line")
    .action(async (id: string, options) => {
      await using fleet = await Fleet.open();
      const task = await fleet.agents.task(id);
      const outcome = await task.follow((line) => {
        if (options.json) return out(line);
        const text = describeEvent(line);
        if (text) out(escapeControls(text, { inline: true }));
      });
      if (!options.json) printOutcomes([outcome], false);
      else Deno.exitCode = outcome.status === "done" ? 0 : 1;
    });
}

// `agent list`.
function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .description("Every task of the fleet: ship, status, running time, cost")
    .option("--json", "print the outcomes as JSON")
    .action(async (options) => {
      await using fleet = await Fleet.open();
      const { tasks, unreachable } = await fleet.agents.list();
      // What a ship said (an ssh error carries its stderr) is shown, not obeyed.
      for (const ship of unreachable) {
        note(paint("yellow", escapeControls(`${ship.ship}: ${ship.error}`, { inline: true })));
      }
      if (options.json) return printJson(tasks);
      if (!tasks.length) return note(`No tasks yet: start one with "ohcommodore agent run"`);
      out(formatTable(
        ["ID", "SHIP", "STATUS", "STARTED", "COST", "PROMPT"],
        tasks.map((task) =>
          [
            task.id,
            task.ship,
            statusText(task),
            age(task.startedAt ?? null),
            costText(task),
            oneLine(task.prompt ?? "", 50),
          ].map((cell) => escapeControls(cell, { inline: true }))
        ),
      ));
    });
}

// `agent show`.
function showCommand(): CommandUnknownOpts {
  return new Command("show")
    .description("One task's outcome: status, answer, cost, commits, pull request")
    .addArgument(idArgument("task"))
    .option("--json", "print the outcome as JSON")
    .action(async (id: string, options) => {
      await using fleet = await Fleet.open();
      const outcome = await fleet.agents.show(id);
      if (options.json) return printJson(outcome);
      printOutcomes([outcome], false);
      // Why, whole (git's error lines, say): the table shows the start of it.
      for (const why of [outcome.error, outcome.prError]) {
        if (why && oneLine(why, 60) !== why) out(escapeControls(why));
      }
      if (outcome.usage) out(tokensText(outcome.usage));
      // The agent's words, perhaps an injected prompt's: shown, never obeyed by the terminal.
      if (outcome.result) out(escapeControls(readableResult(outcome.result)));
    });
}

// `agent cancel`.
function cancelCommand(): CommandUnknownOpts {
  return new Command("cancel")
    .description("Stop a task (or remove it, when it has not started)")
    .addArgument(idArgument("task"))
    .option("--json", 'print {"id", "ship", "outcome"} as JSON')
    .action(async (id: string, options) => {
      await using fleet = await Fleet.open();
      const task = await fleet.agents.task(id);
      const outcome = await task.cancel();
      if (options.json) return printJson({ id: task.id, ship: task.ship.name, outcome });
      note(`${task.id} on ${task.ship.name}: ${outcome}`);
    });
}

// `agent _task`.
function hiddenTaskCommand(): CommandUnknownOpts {
  return new Command("_task")
    .description("Run one task here: its JSON on stdin (the inbox's scheduler runs this)")
    .action(async () => {
      Deno.exitCode = await SHIP_SIDE_COMMANDS._task();
    });
}

// `agent _integrate`.
function hiddenIntegrateCommand(): CommandUnknownOpts {
  return new Command("_integrate")
    .description(
      "Bring a task's branch onto an integration branch here: its JSON on stdin (the inbox's " +
        "scheduler runs this)",
    )
    .action(async () => {
      Deno.exitCode = await SHIP_SIDE_COMMANDS._integrate();
    });
}

// `agent _pr`.
function hiddenPrCommand(): CommandUnknownOpts {
  return new Command("_pr")
    .description("Open a pull request here with gh: its JSON on stdin")
    .action(async () => {
      Deno.exitCode = await SHIP_SIDE_COMMANDS._pr();
    });
}

// `agent _tasks`.
function hiddenTasksCommand(): CommandUnknownOpts {
  return new Command("_tasks")
    .description("Print this member's tasks and their outcomes as JSON")
    .action(async () => printJson(await ownTasks()));
}
