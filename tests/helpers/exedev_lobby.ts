/**
 * A stand-in for the exe.dev lobby (`ssh exe.dev <command>`, design.md §4 and §11: `new`, `cp`,
 * `ls`, `rm`, `ssh-key`, `whoami`, `help`). It runs inside the
 * test process: the lobby Unix user's forced command (exedev_lobby_client.ts) forwards
 * `$SSH_ORIGINAL_COMMAND` over a unix socket, and this daemon answers with what to print and the
 * exit code. Machines (Unix users, homes, authorized_keys) are made by a {@link LobbyMachine}.
 */

/** One VM of the account. */
export interface LobbyVm {
  /** The name given to `new --name`. */
  name: string;
  /** The Unix user that stands in for it. */
  user: string;
  /** Its home directory. */
  home: string;
  /** The `--env` pairs it was created with. */
  env: Record<string, string>;
  /** Whether its authorized_keys are in place (false until the boot delay has passed). */
  booted: boolean;
}

/** One public key registered with the account. */
export interface LobbyKey {
  /** e.g. `ssh-ed25519`. */
  type: string;
  /** The base64 key blob. */
  blob: string;
  /** Whatever followed the blob; may contain spaces; may be empty. */
  comment: string;
}

/** One command the lobby received. */
export interface LobbyCall {
  /** `$SSH_ORIGINAL_COMMAND` as received. */
  command: string;
  /** Its words (empty when it could not be split). */
  argv: string[];
  /** `<type> <blob>` of the key the caller authenticated with, when known. */
  key?: string;
  /** The exit code it got. */
  code: number;
}

/** What the lobby prints and returns for one command. */
export interface LobbyReply {
  stdout: string;
  stderr: string;
  code: number;
}

/** Makes and removes the machines behind the lobby. */
export interface LobbyMachine {
  /** Creates the Unix user and home of a new VM (no keys yet). */
  createVm(name: string): Promise<{ user: string; home: string }>;
  /**
   * Creates a VM as a copy of another: a new Unix user whose home is a copy of the source's,
   * files and all (its processes are not copied). Keys are set as for a new VM.
   */
  copyVm(source: LobbyVm, name: string): Promise<{ user: string; home: string }>;
  /** Replaces the VM's authorized_keys with these public keys. */
  authorizeVm(vm: LobbyVm, keys: string[]): Promise<void>;
  /** Kills the VM's processes and removes its user and home. */
  removeVm(vm: LobbyVm): Promise<void>;
  /** Replaces the lobby user's authorized_keys so that these keys reach the lobby. */
  authorizeLobby(keys: string[]): Promise<void>;
}

/** Settings of a {@link ExeDevLobby}. */
export interface LobbyOptions {
  /** What `whoami` prints. */
  email: string;
  /** How long after `new` a VM's authorized_keys appear. Default 0. */
  bootDelayMs?: number;
  /** The `region` field. */
  region?: string;
}

/** Work a command still has to do after its turn in the queue (a `cp`'s copy). */
type Pending = () => Promise<LobbyReply>;

/** A request from the client: one JSON line. */
interface Request {
  command: string;
  /** The contents of `$SSH_USER_AUTH` (ExposeAuthInfo), or empty. */
  auth: string;
}

const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ssh-dss",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);
const VM_NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The account state and command interpreter; {@link serve} puts it on a unix socket. */
export class ExeDevLobby {
  #machine: LobbyMachine;
  #options: Required<LobbyOptions>;
  #vms = new Map<string, LobbyVm>();
  #keys: LobbyKey[] = [];
  #calls: LobbyCall[] = [];
  #refusals = new Map<string, string>();
  #holds = new Map<string, { ms: number; arrived: () => void }>();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Names of copies being made, outside the queue. */
  #copying = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();
  #listener?: Deno.Listener;
  #accepting?: Promise<void>;
  #connections = new Set<Promise<void>>();

  constructor(machine: LobbyMachine, options: LobbyOptions) {
    this.#machine = machine;
    this.#options = { bootDelayMs: 0, region: "lo1", ...options };
  }

  /** The VMs of the account (copies). */
  vms(): LobbyVm[] {
    return [...this.#vms.values()].map((vm) => ({ ...vm, env: { ...vm.env } }));
  }

  /** The registered public keys, `<type> <blob>[ <comment>]`. */
  keys(): string[] {
    return this.#keys.map(keyLine);
  }

  /** How long after `new` a VM's authorized_keys appear, for the VMs made from now on. */
  set bootDelayMs(ms: number) {
    this.#options.bootDelayMs = ms;
  }

  /** Every command received so far (copies). */
  calls(): LobbyCall[] {
    return this.#calls.map((call) => ({ ...call, argv: [...call.argv] }));
  }

  /**
   * Makes the next command that starts with these words fail with a message: a fault a test
   * injects.
   *
   * @param verb `new`, `whoami`, `ssh-key add`, …
   * @param message What the lobby answers on stderr.
   */
  refuseNext(verb: string, message: string): void {
    this.#refusals.set(verb, message);
  }

  /**
   * Makes the next command that starts with these words take longer before it does its work,
   * so a test can catch a caller in the middle of it.
   *
   * @param verb `new`, `ssh-key add`, …
   * @param ms How much longer.
   * @returns Resolves when that command arrives (and begins its wait).
   */
  holdNext(verb: string, ms: number): Promise<void> {
    return new Promise((arrived) => this.#holds.set(verb, { ms, arrived }));
  }

  /** Registers a key without a command (the account's first key). */
  async register(publicKey: string): Promise<void> {
    const reply = await this.handle(`ssh-key add ${quote(publicKey)}`, "", false);
    if (reply.code !== 0) throw new Error(`Could not register ${publicKey}: ${reply.stderr}`);
  }

  /**
   * Runs one lobby command, one at a time.
   *
   * @param command `$SSH_ORIGINAL_COMMAND`.
   * @param auth The `$SSH_USER_AUTH` file contents, when known.
   * @param record Whether to count it in {@link calls}.
   */
  handle(command: string, auth = "", record = true): Promise<LobbyReply> {
    const key = authKey(auth);
    let argv: string[] = [];
    // One command at a time, but for the long part of a `cp`, which runs after its turn (as
    // exe.dev copies VMs side by side): its answer is then work still to do.
    const answered = this.#serial(async (): Promise<LobbyReply | Pending> => {
      try {
        argv = splitCommand(command);
        const hold = takeFirstMatch(this.#holds, argv);
        if (hold) {
          hold.arrived();
          await new Promise((resolve) => setTimeout(resolve, hold.ms));
        }
        const refusal = takeFirstMatch(this.#refusals, argv);
        return refusal === undefined ? await this.#dispatch(argv, key) : fail(refusal);
      } catch (error) {
        return fail(`${error instanceof Error ? error.message : error}`);
      }
    });
    return answered.then(async (answer) => {
      let reply: LobbyReply;
      try {
        reply = typeof answer === "function" ? await answer() : answer;
      } catch (error) {
        reply = fail(`${error instanceof Error ? error.message : error}`);
      }
      if (record) this.#calls.push({ command, argv, key, code: reply.code });
      return reply;
    });
  }

  /** Listens on a unix socket; the caller sets its owner and mode. */
  serve(path: string): void {
    const listener = Deno.listen({ transport: "unix", path });
    this.#listener = listener;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          const done = this.#answer(conn).finally(() => this.#connections.delete(done));
          this.#connections.add(done);
        }
      } catch {
        // closed
      }
    })();
  }

  /** Stops listening, cancels pending boots and waits for commands in flight. */
  async close(): Promise<void> {
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    await Promise.all([...this.#connections]);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#queue;
  }

  async #answer(conn: Deno.Conn): Promise<void> {
    try {
      const request = JSON.parse(await readLine(conn)) as Request;
      const reply = await this.handle(String(request.command ?? ""), String(request.auth ?? ""));
      await writeAll(conn, new TextEncoder().encode(JSON.stringify(reply) + "\n"));
    } catch {
      // the client went away
    } finally {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  #dispatch(
    argv: string[],
    key: string | undefined,
  ): Promise<LobbyReply | Pending> | LobbyReply | Pending {
    const [verb, ...args] = argv;
    switch (verb) {
      case "new":
        return this.#new(args);
      case "cp":
        return this.#cp(args);
      case "help":
        return this.#help(args);
      case "ls":
        return this.#ls(args);
      case "rm":
        return this.#rm(args);
      case "ssh-key":
        return this.#sshKey(args, key);
      case "whoami":
        return args.includes("--json")
          ? ok(JSON.stringify({ email: this.#options.email }) + "\n")
          : ok(`${this.#options.email}\n`);
      case undefined:
        return fail("this lobby has no interactive shell: pass a command");
      default:
        return fail(`unknown command "${verb}"`);
    }
  }

  async #new(args: string[]): Promise<LobbyReply> {
    const json = args.includes("--json");
    const error = (message: string) =>
      json ? { stdout: JSON.stringify({ error: message }) + "\n", stderr: "", code: 1 } : fail(
        message,
      );
    let name: string | undefined;
    const env: Record<string, string> = {};
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "--json" || arg === "--no-email") continue;
      let pair: string | undefined;
      if (arg.startsWith("--name=")) name = arg.slice("--name=".length);
      else if (arg === "--name") name = args[++i];
      else if (arg.startsWith("--env=")) pair = arg.slice("--env=".length);
      else if (arg === "--env") pair = args[++i] ?? "";
      else return error(`unknown argument "${arg}"`);
      if (pair === undefined) continue;
      const eq = pair.indexOf("=");
      if (eq <= 0 || !ENV_KEY.test(pair.slice(0, eq))) {
        return error(`--env wants KEY=VALUE, got "${pair}"`);
      }
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    if (name === undefined || name === "") return error("--name is required");
    const refused = this.#refusedName(name);
    if (refused) return error(refused);
    const { user, home } = await this.#machine.createVm(name);
    const vm: LobbyVm = { name, user, home, env, booted: false };
    this.#vms.set(name, vm);
    await this.#startBoot(vm);
    const info = this.#info(vm);
    if (json) return ok(JSON.stringify(info) + "\n");
    return ok(`Created ${name}\nssh ${info.ssh_dest}\n`);
  }

  // `cp <source-vm> [new-name] [--cpu N] [--memory M] [--disk D] [--copy-tags=false] [--json]`,
  // as exe.dev's CLI reference documents it: a copy of the disk, not of the processes, booting
  // like a new VM.
  #cp(args: string[]): LobbyReply | Pending {
    const json = args.includes("--json");
    const error = (message: string) =>
      json ? { stdout: JSON.stringify({ error: message }) + "\n", stderr: "", code: 1 } : fail(
        message,
      );
    const names: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "--json" || /^--copy-tags(=(true|false))?$/.test(arg)) continue;
      if (/^--(cpu|memory|disk)=/.test(arg)) continue;
      if (/^--(cpu|memory|disk)$/.test(arg)) {
        i++;
        continue;
      }
      if (arg.startsWith("-")) return error(`unknown argument "${arg}"`);
      names.push(arg);
    }
    if (names.length < 1 || names.length > 2) return error("usage: cp <source-vm> [new-name]");
    const source = this.#vms.get(names[0]);
    if (!source) return error(`VM "${names[0]}" not found`);
    const name = names[1] ?? `${source.name.slice(0, 50)}-copy-${randomLetters(6)}`;
    const refused = this.#refusedName(name);
    if (refused) return error(refused);
    // The name is taken now; the copy is made outside the lobby's turn, then joins the account.
    this.#copying.add(name);
    return async () => {
      let made: { user: string; home: string };
      try {
        made = await this.#machine.copyVm(source, name);
      } catch (reason) {
        this.#copying.delete(name);
        return error(`copying "${source.name}" failed: ${(reason as Error).message}`);
      }
      return await this.#serial(async () => {
        this.#copying.delete(name);
        const vm: LobbyVm = { name, ...made, env: { ...source.env }, booted: false };
        this.#vms.set(name, vm);
        await this.#startBoot(vm);
        const info = this.#info(vm);
        if (json) return ok(JSON.stringify(info) + "\n");
        return ok(`Copied ${source.name} to ${name}\nssh ${info.ssh_dest}\n`);
      });
    };
  }

  #help(args: string[]): LobbyReply {
    const topics: Record<string, string> = {
      cp: "Usage: cp <source-vm> [new-name] [--cpu N] [--memory M] [--disk D] " +
        "[--copy-tags=false] [--json]\n\nCopy a VM: its disk, not its processes.\n",
      new: "Usage: new [--name NAME] [--json] [--no-email] [--env KEY=VALUE]...\n",
    };
    if (args.length === 0) return ok(`Commands: ${Object.keys(topics).join(", ")}, ls, rm\n`);
    return topics[args[0]] ? ok(topics[args[0]]) : fail(`no help for "${args[0]}"`);
  }

  #refusedName(name: string): string | undefined {
    if (/-\d+$/.test(name)) {
      return `invalid VM name "${name}": it may not end in a hyphen followed by digits`;
    }
    if (!VM_NAME.test(name)) {
      return `invalid VM name "${name}": use 1-63 lowercase letters, digits and hyphens, ` +
        "starting with a letter";
    }
    if (this.#vms.has(name) || this.#copying.has(name)) {
      return `a VM named "${name}" already exists`;
    }
    return undefined;
  }

  // Keys appear at once, or after the boot delay (the VM refuses ssh until then).
  async #startBoot(vm: LobbyVm): Promise<void> {
    const name = vm.name;
    if (this.#options.bootDelayMs > 0) {
      await this.#machine.authorizeVm(vm, []);
      this.#timers.set(
        name,
        setTimeout(() => {
          this.#timers.delete(name);
          this.#serial(() => this.#boot(vm)).catch(() => {});
        }, this.#options.bootDelayMs),
      );
    } else {
      await this.#boot(vm);
    }
  }

  async #boot(vm: LobbyVm): Promise<void> {
    if (this.#vms.get(vm.name) !== vm) return; // removed meanwhile
    vm.booted = true;
    await this.#machine.authorizeVm(vm, this.keys());
  }

  #info(vm: LobbyVm) {
    const host = `${vm.name}.exe.xyz`;
    return {
      vm_name: vm.name,
      ssh_dest: `${vm.user}@${host}`,
      ssh_host: host,
      https_url: `https://${host}/`,
      status: "running",
      region: this.#options.region,
    };
  }

  #ls(args: string[]): LobbyReply {
    const json = args.includes("--json");
    const names = args.filter((arg) => arg !== "--json");
    const unknown = names.find((name) => name.startsWith("-"));
    if (unknown) return fail(`unknown argument "${unknown}"`);
    const vms = [...this.#vms.values()].filter((vm) => !names.length || names.includes(vm.name));
    if (json) return ok(JSON.stringify({ vms: vms.map((vm) => this.#info(vm)) }) + "\n");
    if (!vms.length) return ok("No VMs found.\n");
    return ok(vms.map((vm) => `${vm.name}\t${this.#info(vm).ssh_dest}\trunning\n`).join(""));
  }

  async #rm(names: string[]): Promise<LobbyReply> {
    if (!names.length) return fail("usage: rm <vm>...");
    let stdout = "";
    let stderr = "";
    for (const name of names) {
      const vm = this.#vms.get(name);
      if (!vm) {
        stderr += `VM "${name}" not found\n`;
        continue;
      }
      clearTimeout(this.#timers.get(name));
      this.#timers.delete(name);
      this.#vms.delete(name);
      await this.#machine.removeVm(vm);
      stdout += `Deleted ${name}\n`;
    }
    return { stdout, stderr, code: stderr ? 1 : 0 };
  }

  async #sshKey(args: string[], current: string | undefined): Promise<LobbyReply> {
    const [action, ...rest] = args;
    if (action === "list") {
      const extra = rest.find((arg) => arg !== "--json");
      if (extra) return fail(`unknown argument "${extra}"`);
      const keys = await Promise.all(this.#keys.map(async (key) => ({
        public_key: `${key.type} ${key.blob}`,
        comment: key.comment,
        fingerprint: await fingerprint(key),
        current: current === `${key.type} ${key.blob}`,
      })));
      if (rest.includes("--json")) return ok(JSON.stringify({ ssh_keys: keys }) + "\n");
      return ok(
        keys.map((key) => `${key.fingerprint} ${key.comment}${key.current ? " (current)" : ""}\n`)
          .join(""),
      );
    }
    if (action !== "add" && action !== "remove") {
      return fail(`usage: ssh-key add|remove "<public key>" | ssh-key list [--json]`);
    }
    const parsed = parsePublicKey(rest.join(" "));
    if (typeof parsed === "string") return fail(parsed);
    const index = this.#keys.findIndex((key) =>
      key.type === parsed.type && key.blob === parsed.blob
    );
    if (action === "add") {
      if (index >= 0) return fail("this key is already registered");
      this.#keys.push(parsed);
    } else {
      if (index < 0) return fail("no such key is registered");
      this.#keys.splice(index, 1);
    }
    const keys = this.keys();
    await this.#machine.authorizeLobby(keys);
    for (const vm of this.#vms.values()) {
      if (vm.booted) await this.#machine.authorizeVm(vm, keys);
    }
    const what = await fingerprint(parsed);
    return ok(action === "add" ? `Added SSH key ${what}\n` : `Removed SSH key ${what}\n`);
  }
}

/**
 * Splits a command line the way a POSIX shell splits words: whitespace separates, single quotes
 * are literal, double quotes allow backslash before `"`, `\`, `$` and backquote, a backslash
 * outside quotes escapes the next character. Nothing is expanded.
 *
 * @throws Error on an unterminated quote.
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error("unterminated single quote");
      word += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      inWord = true;
      for (i++;; i++) {
        if (i >= line.length) throw new Error("unterminated double quote");
        const d = line[i];
        if (d === '"') break;
        if (d === "\\" && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1])) {
          if (line[i + 1] !== "\n") word += line[i + 1];
          i++;
        } else {
          word += d;
        }
      }
    } else if (c === "\\") {
      inWord = true;
      if (i + 1 < line.length) {
        i++;
        if (line[i] !== "\n") word += line[i];
      }
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * Parses `<type> <base64> [comment...]`, checking that the blob is base64 and names its type.
 *
 * @returns The key, or a message saying what is wrong.
 */
export function parsePublicKey(text: string): LobbyKey | string {
  const [type, blob, ...comment] = text.trim().split(/\s+/);
  if (!type || !blob) return "expected a public key: <type> <base64> [comment]";
  if (!KEY_TYPES.has(type)) return `unsupported key type "${type}"`;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(blob), (char) => char.charCodeAt(0));
  } catch {
    return "the key is not valid base64";
  }
  const length = bytes.length >= 4 ? new DataView(bytes.buffer).getUint32(0) : 0;
  const named = new TextDecoder().decode(bytes.subarray(4, 4 + length));
  if (named !== type) return `the key blob is not a ${type} key`;
  return { type, blob, comment: comment.join(" ") };
}

/** `SHA256:<base64 without padding>` of the key blob, as ssh-keygen -l prints it. */
export async function fingerprint(key: LobbyKey): Promise<string> {
  const bytes = Uint8Array.from(atob(key.blob), (char) => char.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `SHA256:${btoa(String.fromCharCode(...digest)).replace(/=+$/, "")}`;
}

function keyLine(key: LobbyKey): string {
  return [key.type, key.blob, key.comment].filter(Boolean).join(" ");
}

/** `<type> <blob>` of the public key in an ExposeAuthInfo file, if any. */
function authKey(auth: string): string | undefined {
  for (const line of auth.split("\n")) {
    const [method, type, blob] = line.trim().split(/\s+/);
    if (method === "publickey" && type && blob) return `${type} ${blob}`;
  }
  return undefined;
}

function randomLetters(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((byte) => "abcdefghijklmnopqrstuvwxyz"[byte % 26]).join("");
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function ok(stdout: string): LobbyReply {
  return { stdout, stderr: "", code: 0 };
}

function fail(message: string): LobbyReply {
  return { stdout: "", stderr: `${message}\n`, code: 1 };
}

async function readLine(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    const chunk = buffer.slice(0, n);
    chunks.push(chunk);
    if (chunk.includes(10)) break;
  }
  const text = new TextDecoder().decode(concat(chunks));
  return text.split("\n")[0];
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

/** Removes and returns the entry whose key (words) the command starts with. */
function takeFirstMatch<T>(entries: Map<string, T>, argv: string[]): T | undefined {
  for (const [words, value] of entries) {
    if (words.split(" ").every((word, i) => argv[i] === word)) {
      entries.delete(words);
      return value;
    }
  }
  return undefined;
}
