/**
 * The `inbox` commands that read and mark this member's own messages: list, show, identity,
 * read, done, error, delete and sql. (`inbox_command.ts` holds the group and the commands that
 * send and wait.)
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "./deps.ts";
import { oneLine } from "../clip.ts";
import { Inbox } from "../inbox/inbox.ts";
import { type Message, MESSAGE_STATUSES, parseStatus } from "../inbox/message.ts";
import { OUTPUT_CAP_BYTES } from "../inbox/run_command.ts";
import { idArgument, wholeNumber } from "./arguments.ts";
import { age, escapeControls, formatTable, note, out, printJson } from "./output.ts";

// `inbox list`.
export function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .description("List messages in this member's inbox, newest first")
    .addOption(new Option("-s, --status <status>", "only this status").choices(MESSAGE_STATUSES))
    .option("-n, --limit <count>", "at most this many", wholeNumber("count"))
    .option("--json", "print JSON")
    .action(async (options) => {
      const status = options.status ? parseStatus(options.status) : undefined;
      const messages = await (await Inbox.open()).list({ status, limit: options.limit });
      if (options.json) return printJson(messages);
      if (messages.length === 0) return note(status ? `No ${status} messages` : "No messages");
      out(formatTable(
        ["ID", "STATUS", "CREATED", "SENDER", "EXIT", "COMMAND"],
        messages.map((m) =>
          [
            m.id,
            m.status,
            age(m.createdAt),
            m.sender ?? "-",
            m.exitCode === null ? "-" : String(m.exitCode),
            oneLine(m.command, 60),
          ].map((cell) => escapeControls(cell, { inline: true }))
        ),
      ));
    });
}

// `inbox show`.
export function showCommand(): CommandUnknownOpts {
  return new Command("show")
    .description("Show one message with its output (any unique id prefix works)")
    .addArgument(idArgument("message"))
    .option("--json", "print JSON")
    .action(async (id, options) => {
      const message = await (await Inbox.open()).get(id);
      if (options.json) return printJson(message);
      printMessage(message);
    });
}

// `inbox identity`.
export function identityCommand(): CommandUnknownOpts {
  return new Command("identity")
    .description("Print this member's inbox address")
    .option("--json", "print role, name, address and database as JSON")
    .action(async (options) => {
      const inbox = await Inbox.open();
      if (!options.json) return out(inbox.address);
      printJson({ ...inbox.identity, address: inbox.address, database: inbox.database });
    });
}

// `inbox read`.
export function readCommand(): CommandUnknownOpts {
  return new Command("read")
    .description(
      "Take a message by hand: mark it pending (the scheduler skips it), print its command",
    )
    .addArgument(idArgument("message"))
    .option("--json", "print JSON")
    .action(async (id, options) => {
      const message = await (await Inbox.open()).markRead(id);
      if (options.json) return printJson(message);
      out(message.command);
    });
}

// `inbox done`.
export function doneCommand(): CommandUnknownOpts {
  return new Command("done")
    .description("Mark a message done")
    .addArgument(idArgument("message"))
    .option("--json", "print JSON")
    .action(async (id, options) => {
      report(await (await Inbox.open()).markDone(id), "Marked done", options.json);
    });
}

// `inbox error`.
export function errorCommand(): CommandUnknownOpts {
  return new Command("error")
    .description("Mark a message failed, with a reason")
    .addArgument(idArgument("message"))
    .argument("<message>", "why it failed")
    .option("--json", "print JSON")
    .action(async (id, reason, options) => {
      report(await (await Inbox.open()).markError(id, reason), "Marked error", options.json);
    });
}

// `inbox delete`.
export function deleteCommand(): CommandUnknownOpts {
  return new Command("delete")
    .description("Delete a message")
    .addArgument(idArgument("message"))
    .option("--json", "print the deleted message as JSON")
    .action(async (id, options) => {
      report(await (await Inbox.open()).delete(id), "Deleted", options.json);
    });
}

// `inbox sql`.
export function sqlCommand(): CommandUnknownOpts {
  return new Command("sql")
    .description(
      "Run one read-only SQL query on this member's inbox (tables inbox and config); the " +
        "scheduler answers it while it holds the database",
    )
    .argument("<query>", 'e.g. "SELECT status, count(*) FROM inbox GROUP BY 1"')
    .option("--json", "print {columns, rows, truncated} as JSON")
    .action(async (sql, options) => {
      const result = await (await Inbox.open()).query(sql);
      if (options.json) return printJson(result);
      const cell = (value: unknown) =>
        escapeControls(
          value === null ? "NULL" : typeof value === "string" ? value : JSON.stringify(value),
          { inline: true },
        );
      out(formatTable(result.columns, result.rows.map((row) => row.map(cell))));
      if (result.truncated) note(`Only the first ${result.rows.length} rows are shown`);
    });
}

function report(message: Message, what: string, json?: boolean): void {
  if (json) return printJson(message);
  note(`${what} ${message.id}`);
}

function printMessage(m: Message): void {
  const rows: [string, string][] = [
    ["id", m.id],
    ["status", m.status],
    ["from", m.sender ?? "-"],
    ["to", m.recipient],
    ["created", m.createdAt],
    ["started", m.startedAt ?? "-"],
    ["finished", m.finishedAt ?? "-"],
    ["timeout", `${m.timeoutSec}s`],
    ["exit code", m.exitCode === null ? "-" : String(m.exitCode)],
    ["error", m.error ?? "-"],
  ];
  // For a person: what a sender or a command wrote is shown, not obeyed by the terminal.
  for (const [key, value] of rows) {
    out(`${key.padEnd(10)} ${escapeControls(value, { inline: true })}`);
  }
  out(`command\n${indent(m.command)}`);
  if (m.result) out(`stdout (last ${OUTPUT_CAP_BYTES / 1024} KiB kept)\n${indent(m.result)}`);
  if (m.stderr) out(`stderr (last ${OUTPUT_CAP_BYTES / 1024} KiB kept)\n${indent(m.stderr)}`);
}

/** Text indented by two spaces, controls escaped: a command or output shown to a person. */
function indent(text: string): string {
  return escapeControls(text).replace(/\n$/, "").split("\n").map((line) => `  ${line}`)
    .join("\n");
}
