/**
 * The flagship's record of its ships: the `fleet` table, in a DuckDB file of its own beside the
 * inbox (whose file the scheduler holds open). A ship is recorded (`provisioning`) as soon as its
 * VM exists, so a crash mid-create leaves a trace that `fleet sink` finds. The `kept_tasks` table
 * beside it holds the agent tasks of ships that were destroyed, as each ship told them just
 * before it went, so what they did and cost outlives them.
 *
 * @module
 */

import type { TaskOutcome } from "../agent/task.ts";
import type { DuckDBConnection } from "../duckdb.ts";
import { quote } from "../clip.ts";
import { AmbiguousNameError, NotFoundError, UsageError } from "../errors.ts";
import { identityAddress, readIdentity } from "../identity.ts";
import { memberPaths } from "../paths.ts";
import { withDatabase } from "../inbox/database.ts";
import { Inbox } from "../inbox/inbox.ts";
import { sameRepository } from "./names.ts";

/** A ship as the flagship knows it. */
export interface ShipRecord {
  /** The VM name, e.g. `ship-web-k3f9a1b2`. */
  name: string;
  /** Its repository (`owner/repo` or a git URL), or null. */
  repo: string | null;
  /** How to reach it. */
  destination: string;
  /** The ship's own public key, registered with the provider; empty for a keyless ship. */
  publicKey: string;
  /**
   * Whether the ship was made `--trusted`: it holds a key of its own that reaches the other
   * members (and, on exe.dev, the account). A keyless ship reaches the fleet only through its
   * channel to the flagship. Ships of the local provider are always trusted: they are sandboxes
   * of the same user.
   */
  trusted: boolean;
  /** `provisioning` while being created, then `ready`. */
  status: string;
  /** When it was recorded (ISO). */
  createdAt: string;
  /** The ship it was copied from (`ship create --from`, or its repository's template), or null. */
  copiedFrom?: string | null;
  /**
   * Whether it is its repository's template: `ship create <repo>` copies it (see
   * `ship template`). At most one ship of a repository is.
   */
  template?: boolean;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS fleet (
  name TEXT PRIMARY KEY,
  repo TEXT,
  ssh_dest TEXT NOT NULL,
  pubkey TEXT,
  status TEXT DEFAULT 'provisioning',
  created_at TIMESTAMP DEFAULT current_timestamp
)`;
// Ships recorded before keyless ships existed all had a key of their own: they are trusted.
const TRUSTED_COLUMN = `ALTER TABLE fleet ADD COLUMN IF NOT EXISTS trusted BOOLEAN`;
// A copy names its source; a repository's template is the ship its new ships are copied from.
const COPY_COLUMNS = [
  `ALTER TABLE fleet ADD COLUMN IF NOT EXISTS copied_from TEXT`,
  `ALTER TABLE fleet ADD COLUMN IF NOT EXISTS template BOOLEAN`,
];
// A destroyed ship's tasks: the status and cost in columns (for SQL), the whole outcome as JSON.
const KEPT_TASKS = `CREATE TABLE IF NOT EXISTS kept_tasks (
  ship TEXT NOT NULL,
  id TEXT NOT NULL,
  status TEXT NOT NULL,
  cost_usd DOUBLE,
  outcome TEXT NOT NULL,
  kept_at TIMESTAMP DEFAULT current_timestamp,
  PRIMARY KEY (ship, id)
)`;

/** An agent task of a destroyed ship, as the flagship kept it. */
export interface KeptTask {
  /** The ship it ran on, destroyed since. */
  ship: string;
  /** When the flagship kept it, just before the ship was destroyed (ISO). */
  keptAt: string;
  /** Its outcome as the ship told it then (a task still running then has no cost). */
  outcome: TaskOutcome;
}

/** The flagship's ship registry. Holds no open handle. */
export class Registry {
  readonly #database: string;
  readonly #identity: string;
  readonly #home?: string;

  private constructor(database: string, identity: string, home?: string) {
    this.#database = database;
    this.#identity = identity;
    this.#home = home;
  }

  /**
   * Opens the registry of the member at `home` (the flagship).
   *
   * @param home Its home directory.
   * @returns The registry.
   */
  static async open(home?: string): Promise<Registry> {
    const identity = await readIdentity(home);
    return new Registry(memberPaths(home).fleetDatabase, identityAddress(identity), home);
  }

  /** Creates the table (idempotent). */
  async ensure(): Promise<void> {
    await this.#use(() => Promise.resolve());
  }

  /** Records a new ship (never as a template: {@link setTemplate} makes one). */
  async add(record: Omit<ShipRecord, "createdAt" | "template">): Promise<void> {
    await this.#use((db) =>
      db.run(
        `INSERT INTO fleet (name, repo, ssh_dest, pubkey, status, trusted, copied_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          record.name,
          record.repo,
          record.destination,
          record.publicKey,
          record.status,
          record.trusted,
          record.copiedFrom ?? null,
        ],
      )
    );
  }

  /**
   * Makes a ship its repository's template, in place of the one before (a repository has at
   * most one, however its URL is spelled), or makes it no template.
   *
   * @param name The ship's exact name.
   * @param template False to unmark it.
   */
  async setTemplate(name: string, template: boolean): Promise<void> {
    const ships = await this.list();
    const ship = ships.find((candidate) => candidate.name === name);
    if (!ship) throw new NotFoundError(`No ship named ${quote(name)}`, { query: name });
    const others = template && ship.repo !== null
      ? ships.filter((other) =>
        other.name !== name && other.template && other.repo !== null &&
        sameRepository(other.repo, ship.repo!)
      )
      : [];
    await this.#use(async (db) => {
      await db.run("BEGIN TRANSACTION");
      try {
        for (const other of others) {
          await db.run(`UPDATE fleet SET template = false WHERE name = $1`, [other.name]);
        }
        await db.run(`UPDATE fleet SET template = $2 WHERE name = $1`, [name, template]);
        await db.run("COMMIT");
      } catch (error) {
        await db.run("ROLLBACK").catch(() => {});
        throw error;
      }
    });
  }

  /** Changes a ship's status. */
  async setStatus(name: string, status: string): Promise<void> {
    await this.#use((db) => db.run(`UPDATE fleet SET status = $2 WHERE name = $1`, [name, status]));
  }

  /** Forgets a ship. */
  async remove(name: string): Promise<void> {
    await this.#use((db) => db.run(`DELETE FROM fleet WHERE name = $1`, [name]));
  }

  /** Every recorded ship, oldest first. */
  async list(): Promise<ShipRecord[]> {
    // A long-lived reader (the flagship's scheduler, answering fleet calls) opens the file again
    // only when it changed since its last read; its signature is taken before the read, so a
    // write during the read is seen the next time.
    const signature = await fileSignature(this.#database);
    const kept = listed.get(this.#database);
    if (signature && kept?.signature === signature) return structuredClone(kept.ships);
    const ships = await this.#list();
    if (signature) listed.set(this.#database, { signature, ships: structuredClone(ships) });
    return ships;
  }

  async #list(): Promise<ShipRecord[]> {
    return await this.#use(async (db) => {
      const reader = await db.runAndReadAll(
        `SELECT name, repo, ssh_dest, pubkey, status, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ'),
           coalesce(trusted, true), copied_from, coalesce(template, false)
         FROM fleet ORDER BY created_at, name`,
      );
      return reader.getRows().map((
        [name, repo, destination, publicKey, status, createdAt, trusted, copiedFrom, template],
      ) => ({
        name: String(name),
        repo: repo === null ? null : String(repo),
        destination: String(destination),
        publicKey: String(publicKey ?? ""),
        trusted: trusted === true,
        status: String(status),
        createdAt: String(createdAt),
        copiedFrom: copiedFrom === null ? null : String(copiedFrom),
        template: template === true,
      }));
    }, true);
  }

  /**
   * Keeps a ship's agent tasks, before the ship is destroyed; a task kept before is replaced.
   *
   * @param ship The ship's name.
   * @param tasks Its tasks' outcomes, as it told them.
   */
  async keepTasks(ship: string, tasks: readonly TaskOutcome[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.#use(async (db) => {
      await db.run("BEGIN TRANSACTION");
      try {
        for (const task of tasks) {
          await db.run(
            `INSERT OR REPLACE INTO kept_tasks (ship, id, status, cost_usd, outcome)
             VALUES ($1, $2, $3, $4, $5)`,
            [ship, task.id, task.status, task.costUsd, JSON.stringify(keptOutcome(ship, task))],
          );
        }
        await db.run("COMMIT");
      } catch (error) {
        await db.run("ROLLBACK").catch(() => {});
        throw error;
      }
    });
  }

  /**
   * The agent tasks of destroyed ships, oldest kept first.
   *
   * @returns The tasks.
   */
  async keptTasks(): Promise<KeptTask[]> {
    return await this.#use(async (db) => {
      const reader = await db.runAndReadAll(
        `SELECT ship, strftime(kept_at, '%Y-%m-%dT%H:%M:%SZ'), outcome
         FROM kept_tasks ORDER BY kept_at, ship, id`,
      );
      return reader.getRows().map(([ship, keptAt, outcome]) => ({
        ship: String(ship),
        keptAt: String(keptAt),
        outcome: { ...JSON.parse(String(outcome)), ship: String(ship) },
      }));
    });
  }

  /**
   * The ship whose name is, or uniquely starts with, `prefix`.
   *
   * @param prefix A name or the start of one.
   * @returns The ship.
   * @throws {NotFoundError} When none matches.
   * @throws {AmbiguousNameError} When several match.
   */
  async find(prefix: string): Promise<ShipRecord> {
    return matchByPrefix(await this.list(), prefix);
  }

  async #use<T>(work: (db: DuckDBConnection) => Promise<T>, reads = false): Promise<T> {
    // A change made here: the list kept is read again.
    if (!reads) listed.delete(this.#database);
    const fresh = !(await Deno.stat(this.#database).then(() => true, () => false));
    // Rows an older version kept in the inbox's file come along when this file is first made.
    const older = fresh ? await this.#olderRows() : [];
    const access = {
      path: this.#database,
      identity: this.#identity,
      schema: [SCHEMA, TRUSTED_COLUMN, ...COPY_COLUMNS, KEPT_TASKS],
    };
    return await withDatabase(access, async (db) => {
      for (const row of older) {
        await db.run(
          `INSERT INTO fleet (name, repo, ssh_dest, pubkey, status, created_at)
           VALUES ($1, $2, $3, $4, $5, $6::TIMESTAMP) ON CONFLICT DO NOTHING`,
          row.map((value) => value === null ? null : String(value)),
        );
      }
      return await work(db);
    });
  }

  async #olderRows(): Promise<unknown[][]> {
    const inbox = await Inbox.open({ home: this.#home });
    const tables = await inbox.query(
      "SELECT count(*) FROM information_schema.tables WHERE table_name = 'fleet'",
    );
    if (Number(tables.rows[0]?.[0]) === 0) return [];
    const result = await inbox.query(
      "SELECT name, repo, ssh_dest, pubkey, status, created_at::TEXT FROM fleet",
    );
    return result.rows;
  }
}

// The last list read from each registry file, with the file's signature then.
const listed = new Map<string, { signature: string; ships: ShipRecord[] }>();

// What changes when DuckDB writes the file or its WAL: their times and sizes; undefined when the
// file is missing (made at the next read).
async function fileSignature(path: string): Promise<string | undefined> {
  const of = (info: Deno.FileInfo | null) => info ? `${info.mtime?.getTime()}:${info.size}` : "-";
  const [file, wal] = await Promise.all([
    Deno.stat(path).catch(() => null),
    Deno.stat(`${path}.wal`).catch(() => null),
  ]);
  return file ? `${of(file)}|${of(wal)}` : undefined;
}

/**
 * Picks the ship whose name equals `prefix`, else the only one starting with it.
 *
 * @param ships The candidates.
 * @param prefix A name or the start of one.
 * @returns The ship.
 */
export function matchByPrefix<T extends { name: string }>(ships: readonly T[], prefix: string): T {
  if (prefix.trim() === "") {
    throw new UsageError(`Give a ship's name or the start of it`, {
      next: `"ohcommodore fleet status" lists them`,
    });
  }
  const exact = ships.find((ship) => ship.name === prefix);
  if (exact) return exact;
  // "web" finds "ship-web-…" too: people think of ships by their short name.
  const matches = ships.filter((ship) =>
    ship.name.startsWith(prefix) || ship.name.startsWith(`ship-${prefix}`)
  );
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    const known = ships.map((ship) => ship.name).join(", ") || "none";
    throw new NotFoundError(`No ship matches ${quote(prefix)} (ships: ${known})`, {
      query: prefix,
      next: `see "ohcommodore fleet status"`,
    });
  }
  throw new AmbiguousNameError(
    `${quote(prefix)} matches ${matches.length} ships (${
      matches.map((ship) => ship.name).join(", ")
    }): give more of the name`,
    { query: prefix, matches: matches.map((ship) => ship.name) },
  );
}

// What is kept of a destroyed ship's task: every number and name, and only the start of the
// answer (a ship's answer may be megabytes, and every "fleet costs" reads what is kept).
const KEPT_RESULT_CHARS = 4096;

function keptOutcome(ship: string, task: TaskOutcome): TaskOutcome {
  const clip = (text: string | null) =>
    text !== null && text.length > KEPT_RESULT_CHARS
      ? text.slice(0, KEPT_RESULT_CHARS) + "…"
      : text;
  return {
    ...task,
    ship,
    result: clip(task.result),
    ...(task.error ? { error: clip(task.error)! } : {}),
  };
}
