/**
 * The command-line parser, kept to `cli.ts` and `lib/cli/` so the library never loads it, and
 * written once with its exact version (see `../deps.ts` for why full `npm:` specifiers).
 *
 * @module
 */

// extra-typings takes commander as a peer dependency; naming it here pins the pair exactly.
// The rule wants an import map, which importers of this package do not get (see ../deps.ts).
// deno-lint-ignore no-import-prefix
import "npm:commander@15.1.0";

export {
  Argument,
  Command,
  CommanderError,
  type CommandUnknownOpts,
  Option,
} from "npm:@commander-js/extra-typings@15.1.0";
