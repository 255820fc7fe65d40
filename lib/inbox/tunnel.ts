/**
 * Reaching another member's inbox server: through a unix-socket forward added to the shared ssh
 * connection of its destination (`ssh -O forward -L <here.sock>:<there.sock>`), set up once and
 * reused by every later process while that connection lives; for a sandbox on this machine, its
 * socket directly. Where the far side refuses forwards (`AllowStreamLocalForwarding no`, or a
 * provider's front that does not pass them) this says so by returning nothing, and remembers it
 * for the destination: the caller then runs the member's program over exec, as before.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { memberPaths, REMOTE_PROGRAM } from "../paths.ts";
import { transportFor } from "../transport.ts";
import { RemoteCommandError, SshError } from "../errors.ts";
import type { Ssh } from "../ssh.ts";
import { ServerConnection } from "./server_connection.ts";
import { MAX_REMOTE_REPLY_BYTES } from "./server_protocol.ts";
import { socketPathOf } from "./socket_path.ts";
import { writePrivateFile } from "../private_files.ts";
import { sleep } from "../timer.ts";
import { lastLine } from "../process.ts";

/** What a member says about its inbox server (`ohcommodore inbox _endpoint`). */
export interface Endpoint {
  /** The server's socket there. */
  socket: string;
  /** The member's address. */
  address: string;
  /** Its program's version. */
  version: string;
}

// What this machine remembers per destination, beside its shared connection's socket.
interface Memo {
  /** The server's socket there, once learnt. */
  socket?: string;
  /** When forwards were found refused (ms since the epoch): exec is used for a while. */
  refusedAt?: number;
}

// A refusal is remembered this long, then forwards are tried again (a config may change).
const REFUSAL_MEMORY_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 30_000;

/**
 * Connects to the inbox server of the member at a destination.
 *
 * @param destination An SSH destination, or a sandbox's home.
 * @param ssh The ssh client (its shared connections carry the forward).
 * @param address The member's address, for messages.
 * @param options `start: false` for a reader that must not start a stopped server (a status):
 *   then a member whose server does not run gives undefined; `maxReplyBytes`, the longest reply
 *   believed (a member may answer anything).
 * @returns A connection that has answered, or undefined when only exec reaches the member
 *   (forwards refused or not shared, or, for a sandbox, no server running yet).
 */
export async function connectToMember(
  destination: string,
  ssh: Ssh,
  address: string,
  options: { start?: boolean; maxReplyBytes?: number } = {},
): Promise<ServerConnection | undefined> {
  const start = options.start ?? true;
  const max = options.maxReplyBytes ?? MAX_REMOTE_REPLY_BYTES;
  if (destination.startsWith("/")) {
    return await answering(socketPathOf(memberPaths(destination).database), address, max);
  }
  const dir = ssh.controlDirectory();
  if (!dir) return undefined;
  const key = createHash("sha256").update(`${ssh.settings.configFile ?? ""}\0${destination}`)
    .digest("hex").slice(0, 24);
  const local = join(dir, `${key}.inbox.sock`);
  const memoPath = join(dir, `${key}.inbox.json`);
  const refused = async () => {
    const { refusedAt } = await readMemo(memoPath);
    return refusedAt !== undefined && Date.now() - refusedAt < REFUSAL_MEMORY_MS;
  };
  if (await refused()) return undefined;
  const ready = await answering(local, address, max);
  if (ready) return ready;
  // One setup at a time per destination, in this process and across processes: two at once
  // would cancel each other's forward, and the loser would take that for a refusal.
  let setup = settingUp.get(local);
  if (!setup) {
    setup = withSetupLock(join(dir, `${key}.inbox.lock`), async () => {
      if (await refused()) return false;
      const already = await answering(local, address);
      if (already) {
        already.close();
        return true; // another process set it up while this one waited
      }
      return await setUpForward(destination, ssh, local, memoPath, address, start);
    }).finally(() => settingUp.delete(local));
    settingUp.set(local, setup);
  }
  return await setup ? await answering(local, address, max) : undefined;
}

// Setups under way in this process, by local socket.
const settingUp = new Map<string, Promise<boolean>>();

async function withSetupLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  using file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  await file.lock(true); // released when the file closes, or by the kernel if this dies
  return await work();
}

// Adds the forward (learning the server's socket there when not known yet); false when only
// exec reaches the member.
async function setUpForward(
  destination: string,
  ssh: Ssh,
  local: string,
  memoPath: string,
  address: string,
  start: boolean,
): Promise<boolean> {
  // Learning the socket runs the member's program (which also starts its server when none
  // runs, unless told not to); it is done once and remembered.
  const memo = await readMemo(memoPath);
  let socket = memo.socket;
  let learnt = false;
  let tries = 0;
  for (;;) {
    if (!socket) {
      const endpoint = await learnEndpoint(destination, ssh, start).catch(async (error) => {
        if (error instanceof SshError) throw error;
        // A member whose program does not say (an older one): exec it is, for a while.
        await writeMemo(memoPath, { refusedAt: Date.now() });
        return undefined;
      });
      if (!endpoint) return false;
      socket = endpoint.socket;
      learnt = true;
    }
    await ssh.ensureMaster(destination, STEP_TIMEOUT_MS);
    await ssh.forwardSocket(destination, local, socket);
    const connection = await answering(local, address);
    if (connection) {
      connection.close();
      if (socket !== memo.socket) await writeMemo(memoPath, { socket });
      return true;
    }
    await ssh.cancelForward(destination, local, socket);
    // A reader that must not start a server: none answers, and that is its answer.
    if (!start) {
      if (learnt && socket !== memo.socket) await writeMemo(memoPath, { socket });
      return false;
    }
    // The remembered socket may be stale, or its server stopped: ask the member.
    if (!learnt) {
      socket = undefined;
      continue;
    }
    // The member's server answers (it just said where), yet nothing passed the forward: once
    // more after a pause (a server restarting), then it is refused.
    if (++tries < 2) {
      await sleep(500);
      continue;
    }
    await writeMemo(memoPath, { socket, refusedAt: Date.now() });
    return false;
  }
}

/**
 * For a failed {@link connectToMember}: an unreachable member is thrown again (exec would fail
 * the same way, after the same retries); any other trouble with the forward means exec.
 *
 * @param error What it threw.
 * @returns Undefined: use exec.
 * @throws {SshError} When the member cannot be reached at all.
 */
export function unlessUnreachable(error: unknown): undefined {
  if (error instanceof SshError && error.beforeCommand) throw error;
  return undefined;
}

/**
 * Asks the member at a destination where its inbox server listens, starting the server when
 * none runs (unless `start` is false), over exec.
 *
 * @param destination The SSH destination.
 * @param ssh The ssh client.
 * @param start Whether to start the server when none runs.
 * @returns Where it listens.
 */
async function learnEndpoint(destination: string, ssh: Ssh, start: boolean): Promise<Endpoint> {
  const result = await transportFor(destination, ssh).run(
    [REMOTE_PROGRAM, "inbox", "_endpoint", ...(start ? [] : ["--no-start"])],
    { timeoutMs: STEP_TIMEOUT_MS, retry: "idempotent" },
  );
  try {
    const endpoint = JSON.parse(result.stdout) as Endpoint;
    if (typeof endpoint?.socket === "string" && endpoint.socket.startsWith("/")) return endpoint;
  } catch {
    // said below
  }
  const tail = lastLine(result.stderr);
  throw new RemoteCommandError(
    destination,
    result.code,
    tail,
    `"${destination}" did not say where its inbox server listens (exit ${result.code}): ${tail}`,
  );
}

// Connected and answering hello (a forward whose far end refuses closes at once).
async function answering(
  path: string,
  address: string,
  maxReplyBytes = MAX_REMOTE_REPLY_BYTES,
): Promise<ServerConnection | undefined> {
  const connection = await ServerConnection.connect(path, address, maxReplyBytes);
  if (!connection) return undefined;
  try {
    await connection.call("hello", {}, { timeoutMs: 10_000 });
    return connection;
  } catch {
    connection.close();
    return undefined;
  }
}

async function readMemo(path: string): Promise<Memo> {
  try {
    const memo = JSON.parse(await Deno.readTextFile(path));
    return typeof memo === "object" && memo !== null ? memo : {};
  } catch {
    return {};
  }
}

async function writeMemo(path: string, memo: Memo): Promise<void> {
  await writePrivateFile(path, JSON.stringify(memo));
}
