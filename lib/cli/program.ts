/**
 * The command tree of the CLI, in one place: `cli.ts` runs it, shell completion is generated
 * from it.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "./deps.ts";
import { agentCommand } from "./agent_command.ts";
import { completionsCommand } from "./completions_command.ts";
import { dashboardCommand } from "./dashboard_command.ts";
import { fleetCommand } from "./fleet_command.ts";
import { inboxCommand } from "./inbox_command.ts";
import { initCommand } from "./init_command.ts";
import { setupCommand, setupCopyCommand, statusCommand } from "./member_command.ts";
import { shipCommand } from "./ship_command.ts";
import { planCommand } from "./plan_command.ts";
import { paint } from "./output.ts";
import { foregroundSchedulerCommand, schedulerCommand } from "./scheduler_command.ts";
import { VERSION } from "../version.ts";

/**
 * Builds the command tree (shell completion is generated from it).
 *
 * @returns The root command.
 */
export function program(): Command {
  const root = new Command("ohcommodore")
    .description("Manage and coordinate a fleet of Claude Code–enabled VMs over SSH")
    .version(VERSION, "-V, --version")
    .option("-v, --verbose", "show the cause chain of errors")
    .showSuggestionAfterError()
    .configureOutput({ outputError: (text, write) => write(paint("red", text)) });
  root.addCommand(initCommand());
  root.addCommand(shipCommand());
  root.addCommand(fleetCommand());
  root.addCommand(inboxCommand());
  root.addCommand(agentCommand());
  root.addCommand(planCommand());
  root.addCommand(schedulerCommand());
  root.addCommand(completionsCommand());
  root.addCommand(dashboardCommand());
  root.addCommand(foregroundSchedulerCommand(), { hidden: true });
  root.addCommand(setupCommand(), { hidden: true });
  root.addCommand(setupCopyCommand(), { hidden: true });
  root.addCommand(statusCommand(), { hidden: true });
  // Usage errors anywhere in the tree throw instead of exiting, so main() picks the exit code.
  const subcommands = root.commands.flatMap((group) => group.commands);
  for (const command of [root, ...root.commands, ...subcommands]) {
    command.exitOverride();
    explainConflicts(command);
  }
  return root;
}

// Options declared with .conflicts() and given together: commander names both; we say it as a
// sentence that also says what to do (any other message of commander's is left as it is).
function explainConflicts(command: CommandUnknownOpts): void {
  const error = command.error.bind(command);
  command.error = (message, options) =>
    error(
      options?.code === "commander.conflictingOption"
        ? message.replace(/^error: option (.+)$/, "error: Option $1: give one or the other")
        : message,
      options,
    );
}
