/**
 * `ohcommodore completions bash|zsh|fish`: print a shell completion script.
 *
 * @module
 */

import { Argument, Command, type CommandUnknownOpts } from "./deps.ts";
import { completeWith, COMPLETION_SHELLS, completionScript } from "./completions.ts";
import { out } from "./output.ts";

/** Builds the `completions` command; its script covers the tree the command is added to. */
export function completionsCommand(): CommandUnknownOpts {
  return new Command("completions")
    .description(
      "Print a shell completion script: commands, options, and ship names from the list " +
        'that "ohcommodore fleet status" keeps in ~/.ohcommodore/completion/ships',
    )
    .addArgument(
      completeWith(new Argument("<shell>", COMPLETION_SHELLS.join(", ")), COMPLETION_SHELLS),
    )
    .addHelpText(
      "after",
      "\nInstall:\n" +
        "  bash  add to ~/.bashrc:                 source <(ohcommodore completions bash)\n" +
        "  zsh   add to ~/.zshrc, after compinit:  source <(ohcommodore completions zsh)\n" +
        "  fish  ohcommodore completions fish > ~/.config/fish/completions/ohcommodore.fish\n" +
        'Ship names complete once "ohcommodore fleet status" has run; ship create and destroy ' +
        "keep the list up to date.",
    )
    .action((shell, _options, command) => {
      out(completionScript(command.parent ?? command, shell).replace(/\n$/, ""));
    });
}
