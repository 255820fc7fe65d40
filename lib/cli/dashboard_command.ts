/**
 * `ohcommodore dashboard`: serve a live page of the fleet from this machine (the laptop or the
 * flagship) until Ctrl-C. The server (`lib/view/dashboard.ts`, with the page) loads only when the
 * command runs, so `--help` and completion stay quick.
 *
 * @module
 */

import { join } from "node:path";
import { Command, type CommandUnknownOpts } from "./deps.ts";
import { Fleet } from "../fleet/fleet.ts";
import { wholeNumber } from "./arguments.ts";
import { listenForInterruption } from "./interrupt.ts";
import { note, out, paint } from "./output.ts";

/**
 * Builds `dashboard`.
 *
 * @example Add it to the program
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { dashboardCommand } from "./dashboard_command.ts";
 *
 * new Command("ohcommodore").addCommand(dashboardCommand());
 * ```
 *
 * @returns The command.
 */
export function dashboardCommand(): CommandUnknownOpts {
  return new Command("dashboard")
    .description(
      "Serve a live page of the fleet from this machine: ships, tasks and transcripts, plans, " +
        "held messages, costs; start, cancel and approve from it (until Ctrl-C)",
    )
    .option(
      "--port <n>",
      "listen on this port (default: a free one)",
      wholeNumber("--port", { min: 0, max: 65_535 }),
    )
    .option(
      "--host <address>",
      "listen on this address instead of 127.0.0.1 (other machines may then reach it)",
    )
    .option("--no-open", "print the address without opening a browser")
    .option("--json", 'print {"url": "…"} as the first line')
    .action(async (options) => {
      const { Dashboard, isLoopback } = await import("../view/dashboard.ts");
      const host = options.host ?? "127.0.0.1";
      await using fleet = await Fleet.open();
      using interruption = listenForInterruption(`nothing to clean up`, { announce: false });
      await using dashboard = await Dashboard.start(fleet, { host, port: options.port ?? 0 });
      if (!isLoopback(host)) {
        note(paint(
          "yellow",
          `warning: the dashboard listens on ${host}: other machines can reach it, and it speaks ` +
            `plain http (its token and your fleet's data cross the network unencrypted); ` +
            `prefer the default and an ssh tunnel (ssh -L <port>:127.0.0.1:<port> <this machine>)`,
        ));
      }
      if (options.json) out(JSON.stringify({ url: dashboard.url }));
      else out(dashboard.url);
      note(`The fleet's dashboard is at the address above; Ctrl-C stops it`);
      await using _opened = options.open ? await openBrowser(dashboard.url) : undefined;
      await Promise.race([
        dashboard.finished,
        new Promise((resolve) => interruption.signal.addEventListener("abort", resolve)),
      ]);
    });
}

// Opens the page in the person's browser. The URL holds the token, and a command line is seen
// by every user of the machine (ps), so the browser is given a private file that sends it on
// (as Jupyter does); the file goes when the dashboard stops.
async function openBrowser(url: string): Promise<AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "ohcommodore-dashboard-" }); // 0700
  const page = join(dir, "open.html");
  const remove = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
  const escaped = url.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  await Deno.writeTextFile(
    page,
    `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${escaped}">` +
      `<p><a href="${escaped}">Open the ohcommodore dashboard</a></p>\n`,
    { mode: 0o600 },
  );
  const opener = Deno.build.os === "darwin"
    ? ["open", page]
    : Deno.build.os === "windows"
    ? ["cmd", "/c", "start", "", page]
    : ["xdg-open", page];
  try {
    const child = new Deno.Command(opener[0], {
      args: opener.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.status.then((status) => {
      if (!status.success) note(`Could not open a browser (${opener[0]}): open the address above`);
    });
    child.unref();
  } catch {
    note(`Could not open a browser (no ${opener[0]}): open the address above`);
  }
  return remove;
}
