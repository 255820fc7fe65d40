/**
 * `ohcommodore inbox …`: deliver, list and handle inbox messages.
 *
 * @module
 */

import { fleetResolver } from "../fleet/resolver.ts";
import { Argument, Command, Option } from "./deps.ts";
import { parseDuration } from "../duration.ts";
import { errorToData } from "../errors.ts";
import { Inbox } from "../inbox/inbox.ts";
import { isFinished, type Message, MESSAGE_STATUSES, parseStatus } from "../inbox/message.ts";
import { receiveDelivery } from "../inbox/protocol.ts";
import { ensureScheduler, startSchedulerService } from "../inbox/scheduler_service.ts";
import type { OutputChunk } from "../inbox/server_protocol.ts";
import { socketPathOf } from "../inbox/socket_path.ts";
import { selfCommand } from "../self.ts";
import { VERSION } from "../version.ts";
import { OUTPUT_CAP_BYTES } from "../inbox/run_command.ts";
import { send } from "../inbox/send.ts";
import { oneLine } from "../clip.ts";
import { AT_MOST, idArgument, wholeNumber } from "./arguments.ts";
import { completeWith } from "./completions.ts";
import { addRelayCommands } from "./relay_commands.ts";
import { age, escapeControls, formatTable, note, out, paint, printJson } from "./output.ts";

/** Builds the `inbox` command group. */
export function inboxCommand(): Command {
  const inbox = new Command("inbox")
    .description("Send shell commands to fleet members and handle this member's inbox");

  inbox.command("send")
    .description(
      "Deliver a shell command to a member's inbox; its scheduler runs it with bash.\n" +
        'Use "-" as the command to read it from stdin.',
    )
    .addArgument(completeWith(
      new Argument("<address>", "recipient, e.g. captain@ship-web or commodore@flagship"),
      "address",
    ))
    .argument("<command>", 'the command, quoted as one argument, or "-" for stdin')
    .option("-w, --wait", "wait for the command to finish, print its output, exit with its code")
    .addOption(
      new Option(
        "-f, --follow",
        "print the command's output as it is written (stderr to stderr); exit with its code",
      ).conflicts("wait"),
    )
    .option(
      "-t, --timeout <duration>",
      `how long the command may run (e.g. 90s, 10m; ${AT_MOST})`,
      "30m",
    )
    .option("--note", "send a note: text the recipient stores and shows, never runs")
    .option("--json", "print the message as JSON")
    .addHelpText(
      "after",
      `\nExamples:\n  ohcommodore inbox send captain@ship-web 'git pull && make test' --wait\n` +
        `  ohcommodore inbox send --note commodore@flagship-k3f9 'tests pass on main'\n` +
        `  ohcommodore inbox send captain@ship-web 'make test' --follow\n` +
        `  echo 'uname -a' | ohcommodore inbox send captain@ship-web - --json\n` +
        `\nExit codes: 0 delivered (with --wait or --follow: the command's own code), ` +
        `${EXIT_QUEUED} queued in a keyless ship's outbox, not delivered yet, 1 failed, 2 usage.`,
    )
    .action(async (address, command, options) => {
      const text = command === "-" ? await new Response(Deno.stdin.readable).text() : command;
      const message = await send(address, text, {
        timeoutMs: parseDuration(options.timeout),
        wait: options.wait || options.follow,
        note: options.note === true,
        resolve: await fleetResolver(),
        ...(options.follow ? { onOutput: writeChunk } : {}),
        onQueued: (reason) => note(paint("yellow", reason)),
      });
      if (options.json) printJson(message);
      if (message.status === "queued") {
        // Not delivered yet, and a script must be able to tell: its own exit code.
        if (!options.json) out(message.id);
        note(
          `Queued ${message.id} for ${message.recipient} in this ship's outbox; not delivered ` +
            `yet: the flagship takes it when its channel is back ("ohcommodore inbox outbox")`,
        );
        Deno.exitCode = EXIT_QUEUED;
        return;
      }
      if (options.follow) return followedTo(message);
      if (!options.wait) {
        if (!options.json) out(message.id);
        note(
          message.status === "held"
            ? `Delivered ${message.id} to ${message.recipient}, where it is held until a ` +
              `person there runs "ohcommodore inbox approve ${message.id}"`
            : `Delivered ${message.id} to ${message.recipient}`,
        );
        return;
      }
      if (!options.json) printOutcome(message);
      Deno.exitCode = message.exitCode ?? 1;
    });

  inbox.command("list")
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

  inbox.command("show")
    .description("Show one message with its output (any unique id prefix works)")
    .addArgument(idArgument("message"))
    .option("--json", "print JSON")
    .action(async (id, options) => {
      const message = await (await Inbox.open()).get(id);
      if (options.json) return printJson(message);
      printMessage(message);
    });

  inbox.command("identity")
    .description("Print this member's inbox address")
    .option("--json", "print role, name, address and database as JSON")
    .action(async (options) => {
      const inbox = await Inbox.open();
      if (!options.json) return out(inbox.address);
      printJson({ ...inbox.identity, address: inbox.address, database: inbox.database });
    });

  inbox.command("read")
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

  inbox.command("done")
    .description("Mark a message done")
    .addArgument(idArgument("message"))
    .option("--json", "print JSON")
    .action(async (id, options) => {
      report(await (await Inbox.open()).markDone(id), "Marked done", options.json);
    });

  inbox.command("error")
    .description("Mark a message failed, with a reason")
    .addArgument(idArgument("message"))
    .argument("<message>", "why it failed")
    .option("--json", "print JSON")
    .action(async (id, reason, options) => {
      report(await (await Inbox.open()).markError(id, reason), "Marked error", options.json);
    });

  inbox.command("delete")
    .description("Delete a message")
    .addArgument(idArgument("message"))
    .option("--json", "print the deleted message as JSON")
    .action(async (id, options) => {
      report(await (await Inbox.open()).delete(id), "Deleted", options.json);
    });

  inbox.command("wait")
    .description(
      "Wait for a message to finish; print its output and exit with its exit code (starts the " +
        "scheduler when none runs)",
    )
    .addArgument(idArgument("message"))
    .option(
      "-t, --timeout <duration>",
      `how long to wait (default: its timeout plus a minute; ${AT_MOST})`,
    )
    .option("--json", "print the finished message as JSON (and exit 0: its code is in it)")
    .action(async (id, options) => {
      const timeoutMs = options.timeout ? parseDuration(options.timeout) : undefined;
      const inbox = await Inbox.open();
      const waiting = await inbox.get(id);
      if (!isFinished(waiting)) await ensureScheduler(inbox, waiting);
      const message = await inbox.waitFor(waiting.id, { timeoutMs });
      // With --json the exit code is in the data; exiting with it would let a command's 255
      // pass for ssh's own failure at a remote reader (RemoteInbox).
      if (options.json) return printJson(message);
      printOutcome(message);
      Deno.exitCode = message.exitCode;
    });

  inbox.command("cancel")
    .description(
      "Cancel a message: remove it if it has not started, stop its process group if it runs",
    )
    .addArgument(idArgument("message"))
    .option("--json", "print what happened and the message as JSON")
    .action(async (id, options) => {
      const cancellation = await (await Inbox.open()).cancel(id);
      if (options.json) return printJson(cancellation);
      const said = {
        removed: "Removed (it had not started)",
        stopped: "Stopped",
        finished: "Already finished:",
      };
      note(`${said[cancellation.outcome]} ${cancellation.message.id}`);
    });

  inbox.command("next")
    .description("Wait for the next message to arrive in this inbox; print its id")
    .option("--from <address>", "only a message from this sender, e.g. captain@ship-web")
    .option("-t, --timeout <duration>", `how long to wait (${AT_MOST})`, "10m")
    .option("--json", "print the message as JSON")
    .action(async (options) => {
      const message = await (await Inbox.open()).next({
        from: options.from,
        timeoutMs: parseDuration(options.timeout),
      });
      if (options.json) return printJson(message);
      out(message.id);
    });

  inbox.command("follow")
    .description(
      "Print a message's output as it is written (what was kept first; stderr to stderr) " +
        "until it finishes; exit with its exit code",
    )
    .addArgument(idArgument("message"))
    .option("--json", 'print one JSON line per piece of output, then {"message": …}')
    .action(async (id, options) => {
      const inbox = await Inbox.open();
      const follow = async (onOutput: (chunk: OutputChunk) => void) => {
        const waiting = await inbox.get(id);
        if (!isFinished(waiting)) await ensureScheduler(inbox, waiting);
        return await inbox.follow(waiting.id, onOutput);
      };
      if (!options.json) return followedTo(await follow(writeChunk));
      // For a reader elsewhere (RemoteInbox.follow over exec): errors as data too.
      const line = (value: unknown) =>
        Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(value) + "\n"));
      try {
        line({ message: await follow(line) });
      } catch (error) {
        line({ error: errorToData(error) });
        Deno.exitCode = 1;
      }
    });

  inbox.command("sql")
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

  inbox.command("_endpoint", { hidden: true })
    .description("Start this member's inbox server when none runs; print where it listens")
    .action(async () => {
      const inbox = await Inbox.open();
      const state = await startSchedulerService(inbox, selfCommand());
      printJson({
        socket: socketPathOf(inbox.database),
        address: inbox.address,
        version: state.version ?? VERSION,
      });
    });

  addRelayCommands(inbox);

  inbox.command("_deliver", { hidden: true })
    .description("Accept one delivery: a JSON request on stdin, a JSON reply on stdout")
    .action(async () => {
      const reply = await receiveDelivery(await new Response(Deno.stdin.readable).text());
      printJson(reply);
      if (!reply.ok) Deno.exitCode = 1;
    });

  return inbox;
}

// The command's own output on our stdout and stderr, as if it had run here: exact, as ssh
// would print it (colours included); only our own note is escaped.
function printOutcome(message: Message): void {
  if (message.result) Deno.stdout.writeSync(new TextEncoder().encode(message.result));
  if (message.stderr) Deno.stderr.writeSync(new TextEncoder().encode(message.stderr));
  noteFailure(message);
}

// Why it failed, when it did: our own note, escaped.
function noteFailure(message: Message): void {
  if (message.status === "error") {
    note(paint("yellow", escapeControls(`${message.id}: ${message.error}`)));
  }
}

// A followed command's output, exactly as written, to our stdout or stderr.
function writeChunk(chunk: OutputChunk): void {
  const bytes = new TextEncoder().encode(chunk.text);
  (chunk.stream === "stdout" ? Deno.stdout : Deno.stderr).writeSync(bytes);
}

// After following: the output is out already; say how it ended, exit with its code.
/**
 * The exit code of `inbox send` for a message that waits in a keyless ship's outbox: sysexits'
 * EX_TEMPFAIL, which mail programs also give for a message deferred to a later delivery.
 */
export const EXIT_QUEUED = 75;

function followedTo(message: Message): void {
  noteFailure(message);
  Deno.exitCode = message.exitCode ?? 1;
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

function indent(text: string): string {
  return escapeControls(text).replace(/\n$/, "").split("\n").map((line) => `  ${line}`)
    .join("\n");
}
