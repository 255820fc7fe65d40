/**
 * `ohcommodore inbox …`: deliver, list and handle inbox messages.
 *
 * @module
 */

import { fleetRouter } from "../fleet/router.ts";
import { Argument, Command, type CommandUnknownOpts, Option } from "./deps.ts";
import { errorToData } from "../error_data.ts";
import { Inbox } from "../inbox/inbox.ts";
import { isFinished, type Message } from "../inbox/message.ts";
import { receiveDelivery } from "../inbox/exec_delivery.ts";
import {
  ensureScheduler,
  schedulerState,
  startSchedulerService,
} from "../inbox/scheduler_service.ts";
import type { OutputChunk } from "../inbox/server_protocol.ts";
import { socketPathOf } from "../inbox/socket_path.ts";
import { selfCommand } from "../self_command.ts";
import { VERSION } from "../version.ts";
import { send } from "../inbox/send.ts";
import { idArgument, timeoutOption } from "./arguments.ts";
import { completeWith } from "./completions.ts";
import { addRelayCommands } from "./relay_commands.ts";
import {
  deleteCommand,
  doneCommand,
  errorCommand,
  identityCommand,
  listCommand,
  readCommand,
  showCommand,
  sqlCommand,
} from "./inbox_reads.ts";
import { escapeControls, note, out, paint, printJson } from "./output.ts";

/** Builds the `inbox` command group. */
export function inboxCommand(): Command {
  const inbox = new Command("inbox")
    .description("Send shell commands to fleet members and handle this member's inbox");

  inbox.addCommand(sendCommand());
  inbox.addCommand(listCommand());
  inbox.addCommand(showCommand());
  inbox.addCommand(identityCommand());
  inbox.addCommand(readCommand());
  inbox.addCommand(doneCommand());
  inbox.addCommand(errorCommand());
  inbox.addCommand(deleteCommand());
  inbox.addCommand(waitCommand());
  inbox.addCommand(cancelCommand());
  inbox.addCommand(nextCommand());
  inbox.addCommand(followCommand());
  inbox.addCommand(sqlCommand());
  inbox.addCommand(hiddenEndpointCommand(), { hidden: true });

  addRelayCommands(inbox);

  inbox.addCommand(hiddenDeliverCommand(), { hidden: true });

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

// `inbox send`.
function sendCommand(): CommandUnknownOpts {
  return new Command("send")
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
    .addOption(timeoutOption("how long the command may run (e.g. 90s, 10m)", "30m"))
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
        timeoutMs: options.timeout,
        wait: options.wait || options.follow,
        note: options.note === true,
        route: await fleetRouter(),
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
}

// `inbox wait`.
function waitCommand(): CommandUnknownOpts {
  return new Command("wait")
    .description(
      "Wait for a message to finish; print its output and exit with its exit code (starts the " +
        "scheduler when none runs)",
    )
    .addArgument(idArgument("message"))
    .addOption(timeoutOption("how long to wait (default: its timeout plus a minute)"))
    .option("--json", "print the finished message as JSON (and exit 0: its code is in it)")
    .action(async (id, options) => {
      const inbox = await Inbox.open();
      const waiting = await inbox.get(id);
      if (!isFinished(waiting)) await ensureScheduler(inbox, waiting);
      const message = await inbox.waitFor(waiting.id, { timeoutMs: options.timeout });
      // With --json the exit code is in the data; exiting with it would let a command's 255
      // pass for ssh's own failure at a remote reader (RemoteInbox).
      if (options.json) return printJson(message);
      printOutcome(message);
      Deno.exitCode = message.exitCode;
    });
}

// `inbox cancel`.
function cancelCommand(): CommandUnknownOpts {
  return new Command("cancel")
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
}

// `inbox next`.
function nextCommand(): CommandUnknownOpts {
  return new Command("next")
    .description("Wait for the next message to arrive in this inbox; print its id")
    .option("--from <address>", "only a message from this sender, e.g. captain@ship-web")
    .addOption(timeoutOption("how long to wait", "10m"))
    .option("--json", "print the message as JSON")
    .action(async (options) => {
      const message = await (await Inbox.open()).next({
        from: options.from,
        timeoutMs: options.timeout,
      });
      if (options.json) return printJson(message);
      out(message.id);
    });
}

// `inbox follow`.
function followCommand(): CommandUnknownOpts {
  return new Command("follow")
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
}

// `inbox _endpoint`.
function hiddenEndpointCommand(): CommandUnknownOpts {
  return new Command("_endpoint")
    .description("Start this member's inbox server when none runs; print where it listens")
    .option("--no-start", "say where it listens without starting it (for readers of status)")
    .action(async (options) => {
      const inbox = await Inbox.open();
      const state = options.start
        ? await startSchedulerService(inbox, selfCommand())
        : await schedulerState(inbox);
      printJson({
        socket: socketPathOf(inbox.database),
        address: inbox.address,
        version: state.version ?? VERSION,
      });
    });
}

// `inbox _deliver`.
function hiddenDeliverCommand(): CommandUnknownOpts {
  return new Command("_deliver")
    .description("Accept one delivery: a JSON request on stdin, a JSON reply on stdout")
    .action(async () => {
      const reply = await receiveDelivery(await new Response(Deno.stdin.readable).text());
      printJson(reply);
      if (!reply.ok) Deno.exitCode = 1;
    });
}
