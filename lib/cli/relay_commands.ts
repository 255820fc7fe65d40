/**
 * The inbox commands of keyless ships and their flagship: `inbox approve` (a held command from a
 * ship runs), `inbox outbox` (what a ship sent that the flagship has not taken yet, and what it
 * refused), and the hidden `_channel` and `_outbox` that the flagship runs on a ship.
 *
 * @module
 */

import { basename } from "node:path";
import { Command, type CommandUnknownOpts } from "./deps.ts";
import { Inbox } from "../inbox/inbox.ts";
import { ensureScheduler } from "../inbox/scheduler_service.ts";
import { Outbox } from "../relay/outbox.ts";
import { prepareChannel, settleOutbox, takeOutbox } from "../relay/ship_side.ts";
import { UsageError } from "../errors.ts";
import { oneLine, quote } from "../clip.ts";
import { idArgument, wholeNumber } from "./arguments.ts";
import { age, escapeControls, formatTable, note, out, printJson } from "./output.ts";

// The relay's policy lets a flagship collect at most hourly (pollIntervalSec).
const MAX_POLL_SEC = 3600;

/**
 * Adds the relay's commands to the `inbox` group.
 *
 * @param inbox The group.
 */
export function addRelayCommands(inbox: Command): void {
  inbox.addCommand(approveCommand());
  inbox.addCommand(outboxCommand());
  inbox.addCommand(hiddenChannelCommand(), { hidden: true });
  inbox.addCommand(hiddenOutboxCommand(), { hidden: true });
}

// `inbox approve`.
function approveCommand(): CommandUnknownOpts {
  return new Command("approve")
    .description(
      "Let a held command run: one a keyless ship sent the flagship, which waits for a person",
    )
    .addArgument(idArgument("message"))
    .option("--json", "print the message as JSON")
    .action(async (id, options) => {
      const inbox = await Inbox.open();
      const message = await inbox.approve(id);
      await ensureScheduler(inbox, message);
      if (options.json) return printJson(message);
      // What was approved, in the person's view: the sender and the command.
      note(escapeControls(
        `Approved ${message.id} from ${message.sender ?? "?"}: ${oneLine(message.command, 100)}; ` +
          `it runs in its turn`,
        { inline: true },
      ));
    });
}

// `inbox outbox`.
function outboxCommand(): CommandUnknownOpts {
  return new Command("outbox")
    .description(
      "On a keyless ship: messages sent that the flagship has not taken yet, and those it refused",
    )
    .option("--json", 'print {"pending": [...], "refused": [...], "unreadable": [...]} as JSON')
    .action(async (options) => {
      const outbox = new Outbox();
      // Pending first: reading it sets unreadable files aside.
      const pending = await outbox.pending(Infinity);
      const [refused, unreadable] = await Promise.all([outbox.refused(), outbox.unreadable()]);
      if (options.json) return printJson({ pending, refused, unreadable });
      if (!pending.length && !refused.length && !unreadable.length) {
        return note("The outbox is empty");
      }
      const rows = [
        ...pending.map((entry) => [entry.id, "waiting", age(entry.queuedAt), entry.recipient, ""]),
        ...refused.map((entry) => [
          entry.id,
          "refused",
          age(entry.refusedAt),
          entry.recipient,
          entry.error,
        ]),
        ...unreadable.map((path) => [
          basename(path, ".json"),
          "unreadable",
          "",
          "",
          "not a message, so never sent: set aside in outbox/unreadable/",
        ]),
      ];
      out(formatTable(
        ["ID", "STATE", "SINCE", "TO", "WHY"],
        rows.map((row) => row.map((cell) => escapeControls(oneLine(cell, 80), { inline: true }))),
      ));
    });
}

// `inbox _channel`.
function hiddenChannelCommand(): CommandUnknownOpts {
  return new Command("_channel")
    .description("Ready the socket path of the flagship's channel; print it as JSON")
    .action(async () => printJson(await prepareChannel()));
}

// `inbox _outbox`.
function hiddenOutboxCommand(): CommandUnknownOpts {
  return new Command("_outbox")
    .description("Print the outbox as JSON (recording the channel's mode), or --settle it")
    .option("--mode <mode>", "how the channel runs: forward or poll")
    .option(
      "--poll-sec <seconds>",
      "how often the flagship collects",
      wholeNumber("--poll-sec", { max: MAX_POLL_SEC }),
    )
    .option("--settle", 'read [{"id", "refused"?}] on stdin: remove or set aside each')
    .action(async (options) => {
      if (options.settle) {
        const count = await settleOutbox(await new Response(Deno.stdin.readable).text());
        return printJson({ settled: count });
      }
      if (options.mode === undefined) return printJson(await takeOutbox(undefined));
      if (options.mode !== "forward" && options.mode !== "poll") {
        throw new UsageError(`--mode is "forward" or "poll", not ${quote(options.mode)}`);
      }
      if (options.pollSec === undefined) throw new UsageError(`--mode needs --poll-sec <seconds>`);
      printJson(await takeOutbox({ mode: options.mode, pollSec: options.pollSec }));
    });
}
