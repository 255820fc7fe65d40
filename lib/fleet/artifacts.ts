/**
 * What gets installed on a new member: the executable and the setup script, chosen from the
 * person's settings as the original tool did.
 *
 * @module
 */

import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SandboxTransport, type Transport } from "../transport.ts";
import { OhcommodoreError, UsageError } from "../errors.ts";
import { memberPaths } from "../paths.ts";
import { lastLine, runProcess } from "../process.ts";
import { CLI_PERMISSIONS, selfCommand } from "../self_command.ts";
import type { Settings } from "../settings.ts";
import { shellQuote } from "../ssh.ts";

const TARGETS: Record<string, string> = {
  "Linux x86_64": "x86_64-unknown-linux-gnu",
  "Linux aarch64": "aarch64-unknown-linux-gnu",
  "Darwin x86_64": "x86_64-apple-darwin",
  "Darwin arm64": "aarch64-apple-darwin",
};

/**
 * The executable `OHCOMMODORE_SHIP_BIN` names, if it is set.
 *
 * @param settings The person's settings.
 * @returns Its bytes, or undefined when unset.
 * @throws {UsageError} When it cannot be read.
 */
export async function shipBinOf(settings: Settings): Promise<Uint8Array | undefined> {
  const path = settings.OHCOMMODORE_SHIP_BIN;
  return path ? await readProgram(path, "OHCOMMODORE_SHIP_BIN") : undefined;
}

/**
 * A member's own installed executable, which a flagship gives its ships.
 *
 * @param home The member's home.
 * @returns Its bytes.
 */
export function installedProgram(home: string): Promise<Uint8Array> {
  return readProgram(memberPaths(home).program, "the installed program");
}

/**
 * The executable for a member created from the laptop when `OHCOMMODORE_SHIP_BIN` is not set
 * (see {@link shipBinOf}): on a sandbox, a launcher for this very program; else this compiled
 * binary when the platforms match; else `deno compile --target` of this version.
 *
 * @param transport The member (its platform is asked for when needed).
 * @returns The executable's bytes.
 */
export async function programFor(transport: Transport): Promise<Uint8Array> {
  if (transport instanceof SandboxTransport) return new TextEncoder().encode(launcher());
  const target = await remoteTarget(transport);
  const self = Deno.execPath();
  if (!/^deno(\.exe)?$/.test(basename(self)) && target === Deno.build.target) {
    return await Deno.readFile(self);
  }
  return await compileFor(target);
}

/** A shell launcher that runs this program the way it runs now (a checkout or a URL). */
function launcher(): string {
  return `#!/bin/sh\nexec ${selfCommand().map(shellQuote).join(" ")} "$@"\n`;
}

async function readProgram(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read ${what} "${path}": ${(error as Error).message}`);
  }
}

async function remoteTarget(transport: Transport): Promise<string> {
  const result = await transport.run(["uname", "-sm"], { timeoutMs: 60_000 });
  const target = TARGETS[result.stdout.trim()];
  if (!target) {
    throw new OhcommodoreError(
      `${transport.destination} runs "${result.stdout.trim()}", which ohcommodore has no build ` +
        `for: set OHCOMMODORE_SHIP_BIN to an ohcommodore executable that runs there`,
    );
  }
  return target;
}

async function compileFor(target: string): Promise<Uint8Array> {
  const cli = new URL("../../cli.ts", import.meta.url);
  const dir = await Deno.makeTempDir({ prefix: "ohcommodore-build-" });
  try {
    const output = join(dir, "ohcommodore");
    const init = new URL("../../cloudinit/init.sh", import.meta.url);
    const result = await runProcess(Deno.execPath(), [
      "compile",
      ...CLI_PERMISSIONS,
      "--quiet",
      "--target",
      target,
      "--include",
      init.protocol === "file:" ? fileURLToPath(init) : init.href,
      "--output",
      output,
      cli.protocol === "file:" ? fileURLToPath(cli) : cli.href,
    ], { timeoutMs: 600_000 });
    if (result.code !== 0) {
      throw new OhcommodoreError(
        `Cannot build the program for ${target} with "deno compile" ` +
          `(${lastLine(result.stderr)}): set OHCOMMODORE_SHIP_BIN to a ` +
          `ohcommodore executable for that platform (see the release page)`,
      );
    }
    return await Deno.readFile(output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The setup script: `INIT_PATH` (a file), else `INIT_URL`, else the bundled `cloudinit/init.sh`.
 *
 * @param settings The person's settings.
 * @returns The script text.
 */
export async function initScriptText(settings: Settings): Promise<string> {
  if (settings.INIT_PATH) {
    try {
      return await Deno.readTextFile(settings.INIT_PATH);
    } catch (error) {
      throw new UsageError(
        `Cannot read INIT_PATH "${settings.INIT_PATH}": ${(error as Error).message}`,
      );
    }
  }
  const url = settings.INIT_URL ?? new URL("../../cloudinit/init.sh", import.meta.url).href;
  if (url.startsWith("file:")) return await Deno.readTextFile(new URL(url));
  const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok) {
    throw new UsageError(`Cannot download the setup script ${url}: HTTP ${response.status}`);
  }
  return await response.text();
}
