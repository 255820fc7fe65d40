/**
 * A keyless ship's outbox: the messages it sent that the flagship has not taken yet, one file
 * each in `~/.ohcommodore/outbox/`, written aside and renamed so that a file there is always
 * whole. A message is in the outbox before the sender hears "sent", and leaves it only once
 * the flagship took it (delivered, or refused with a reason, kept in `outbox/refused/`): a
 * crash or a dropped channel loses nothing, and the recipient's id check stores it once however
 * often it is handed over.
 *
 * @module
 */

import { basename, join } from "node:path";
import type { MessageKind } from "../inbox/message.ts";
import { parseMessageId } from "../inbox/message.ts";
import { memberPaths } from "../paths.ts";
import { writePrivateFile } from "../private_files.ts";

/** A message waiting in the outbox. */
export interface OutboxEntry {
  /** Its id, chosen by the ship. */
  id: string;
  /** Who it is for, e.g. `captain@ship-api-k3f9a1b2`. */
  recipient: string;
  /** The command, or the note's text. */
  command: string;
  /** How long the command may run. */
  timeoutMs: number;
  /** `note` for a note. */
  kind?: MessageKind;
  /** When it was queued (ISO 8601). */
  queuedAt: string;
}

/** A message the flagship refused, and why. */
export interface RefusedEntry extends OutboxEntry {
  /** The flagship's reason, naming the rule. */
  error: string;
  /** When it was refused (ISO 8601). */
  refusedAt: string;
}

/** How many entries one look at the outbox hands over, at most. */
export const OUTBOX_BATCH = 100;

/**
 * How many bytes of commands one look hands over, at most (but always one entry): the flagship
 * reads a collection whole, so it is kept well below what the flagship believes.
 */
export const OUTBOX_BATCH_BYTES = 8 * 1024 * 1024;

/** The outbox of the member at a home. */
export class Outbox {
  /** Its directory. */
  readonly dir: string;

  /**
   * The outbox of a member.
   *
   * @param home The member's home; defaults to `$HOME`.
   */
  constructor(home?: string) {
    this.dir = join(memberPaths(home).configDir, "outbox");
  }

  /**
   * Puts a message in the outbox, durably: once this returns, it survives a crash.
   *
   * @param entry The message.
   */
  async put(entry: OutboxEntry): Promise<void> {
    await this.#write(join(this.dir, `${parseMessageId(entry.id)}.json`), entry);
  }

  /**
   * The messages waiting, oldest first.
   *
   * @param limit How many at most.
   * @param maxBytes How many bytes of commands at most (the first entry comes whatever its size).
   * @returns The entries.
   */
  async pending(limit = OUTBOX_BATCH, maxBytes = Infinity): Promise<OutboxEntry[]> {
    const batch: OutboxEntry[] = [];
    let bytes = 0;
    for (const entry of await this.#read(this.dir)) {
      bytes += new TextEncoder().encode(entry.command).length;
      if (batch.length === limit || (batch.length > 0 && bytes > maxBytes)) break;
      batch.push(entry);
    }
    return batch;
  }

  /**
   * The messages the flagship refused, oldest first.
   *
   * @returns The entries, with the reasons.
   */
  async refused(): Promise<RefusedEntry[]> {
    return await this.#read(join(this.dir, "refused")) as RefusedEntry[];
  }

  /**
   * The files found in the outbox that held no message, set aside so that they stop nothing.
   *
   * @returns Their paths, by name.
   */
  async unreadable(): Promise<string[]> {
    const dir = join(this.dir, UNREADABLE);
    return (await jsonFiles(dir)).map((name) => join(dir, name));
  }

  /**
   * Takes a message out: the flagship has it.
   *
   * @param id Its id.
   */
  async remove(id: string): Promise<void> {
    await Deno.remove(join(this.dir, `${parseMessageId(id)}.json`)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  /**
   * Moves a message to `refused/` with the flagship's reason.
   *
   * @param id Its id.
   * @param error Why it was refused.
   */
  async refuse(id: string, error: string): Promise<void> {
    const path = join(this.dir, `${parseMessageId(id)}.json`);
    const entry = await readEntry(path);
    if (entry === undefined) return; // taken meanwhile
    if (entry === "unreadable") return await this.#setAside(path);
    const refused: RefusedEntry = { ...entry, error, refusedAt: new Date().toISOString() };
    await this.#write(join(this.dir, "refused", `${entry.id}.json`), refused);
    await this.remove(id);
  }

  async #write(path: string, value: unknown): Promise<void> {
    // On disk before it counts as sent.
    await writePrivateFile(path, JSON.stringify(value) + "\n", { sync: true });
  }

  async #read(dir: string): Promise<OutboxEntry[]> {
    const entries: OutboxEntry[] = [];
    for (const name of await jsonFiles(dir)) {
      const path = join(dir, name);
      const entry = await readEntry(path);
      if (entry === "unreadable") await this.#setAside(path);
      else if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt) || a.id.localeCompare(b.id));
  }

  // A file that is no message (a partial hand edit, say) must not stop the messages behind it:
  // it moves to unreadable/, where `inbox outbox` shows it, and is never handed over.
  async #setAside(path: string): Promise<void> {
    const aside = join(this.dir, UNREADABLE);
    await Deno.mkdir(aside, { recursive: true, mode: 0o700 });
    await Deno.rename(path, join(aside, basename(path))).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

// Where entries that could not be read as messages are set aside, below the outbox.
const UNREADABLE = "unreadable";

async function jsonFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const item of Deno.readDir(dir)) {
      if (item.isFile && /^[0-9a-z-]{1,64}\.json$/.test(item.name)) names.push(item.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

// The entry in a file; undefined when it is gone, "unreadable" when it holds no message.
async function readEntry(path: string): Promise<OutboxEntry | "unreadable" | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const entry = JSON.parse(text);
    return isEntry(entry) ? entry : "unreadable";
  } catch {
    return "unreadable";
  }
}

function isEntry(value: unknown): value is OutboxEntry {
  const entry = value as Partial<OutboxEntry> | null;
  return typeof entry === "object" && entry !== null && typeof entry.id === "string" &&
    typeof entry.recipient === "string" && typeof entry.command === "string" &&
    typeof entry.timeoutMs === "number" && typeof entry.queuedAt === "string";
}
