/**
 * Where the flagship keeps its plans: `plans.duckdb` beside the inbox, held open by the plan
 * driver in the flagship's scheduler. Four tables — plans, their tasks, the attempts sent to
 * ships (each recorded with its message id before it is sent) and the events of each plan's
 * history — and every change to them is one transaction, so a crash leaves a plan as it was
 * after its last event, never between. The records it reads and writes are `plan_records.ts`'s.
 *
 * @module
 */

import type { DuckDBConnection } from "../duckdb.ts";
import { type OpenDatabase, openDatabase } from "../inbox/database.ts";
import type {
  AttemptKind,
  AttemptRecord,
  PlanChanges,
  PlanRecord,
  TaskRecord,
} from "./plan_records.ts";
import type { PlanEvent, PlanStatus, PlanTaskStatus } from "./plan_types.ts";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS plans (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    repo TEXT NOT NULL,
    integrate TEXT NOT NULL,
    cost_usd DOUBLE NOT NULL,
    budget_usd DOUBLE,
    tokens TEXT NOT NULL,
    pr TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    spec TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS plan_tasks (
    plan TEXT NOT NULL,
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    ship TEXT,
    attempts INTEGER NOT NULL,
    cost_usd DOUBLE NOT NULL,
    tokens TEXT NOT NULL,
    branch TEXT NOT NULL,
    pr TEXT,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    state TEXT NOT NULL,
    PRIMARY KEY (plan, id)
  )`,
  `CREATE TABLE IF NOT EXISTS plan_attempts (
    message_id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    task TEXT NOT NULL,
    kind TEXT NOT NULL,
    ship TEXT NOT NULL,
    status TEXT NOT NULL,
    cost_usd DOUBLE,
    sent_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT
  )`,
  `CREATE TABLE IF NOT EXISTS plan_events (
    plan TEXT NOT NULL,
    seq INTEGER NOT NULL,
    happened_at TEXT NOT NULL,
    type TEXT NOT NULL,
    task TEXT,
    ship TEXT,
    text TEXT NOT NULL,
    PRIMARY KEY (plan, seq)
  )`,
];

/** The flagship's plans database, held open. */
export class PlanStore implements Disposable {
  readonly #database: OpenDatabase;
  readonly #db: DuckDBConnection;
  #steps: Promise<unknown> = Promise.resolve();

  private constructor(database: OpenDatabase) {
    this.#database = database;
    this.#db = database.connection;
  }

  /**
   * Opens (and creates) the plans database.
   *
   * @param path Its file.
   * @param identity The flagship's address.
   * @returns The store.
   */
  static async open(path: string, identity: string): Promise<PlanStore> {
    return new PlanStore(await openDatabase({ path, identity, schema: SCHEMA }));
  }

  /**
   * Writes changes in one transaction.
   *
   * @param changes What changed.
   */
  save(changes: PlanChanges): Promise<void> {
    return this.#step(async () => {
      await this.#db.run("BEGIN TRANSACTION");
      try {
        if (changes.plan) await this.#putPlan(changes.plan);
        for (const task of changes.tasks ?? []) await this.#putTask(task);
        for (const attempt of changes.attempts ?? []) await this.#putAttempt(attempt);
        for (const event of changes.events ?? []) {
          await this.#db.run(
            `INSERT INTO plan_events (plan, seq, happened_at, type, task, ship, text)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [event.plan, event.seq, event.at, event.type, event.task, event.ship, event.text],
          );
        }
        await this.#db.run("COMMIT");
      } catch (error) {
        await this.#db.run("ROLLBACK").catch(() => {});
        throw error;
      }
    });
  }

  /**
   * Plans, newest first.
   *
   * @param status Only plans in this status.
   * @returns The plans.
   */
  plans(status?: PlanStatus): Promise<PlanRecord[]> {
    return this.#step(async () => {
      const reader = await this.#db.runAndReadAll(
        `SELECT id, status, repo, integrate, cost_usd, budget_usd, tokens, pr, note, created_at,
           finished_at, spec
         FROM plans WHERE $1 IS NULL OR status = $1 ORDER BY created_at DESC, id`,
        [status ?? null],
      );
      return reader.getRows().map((row) => ({
        id: String(row[0]),
        status: String(row[1]) as PlanStatus,
        repo: String(row[2]),
        integrate: String(row[3]),
        costUsd: Number(row[4]),
        budgetUsd: row[5] === null ? null : Number(row[5]),
        tokens: JSON.parse(String(row[6])),
        pr: textOrNull(row[7]),
        note: textOrNull(row[8]),
        createdAt: String(row[9]),
        finishedAt: textOrNull(row[10]),
        spec: JSON.parse(String(row[11])),
      }));
    });
  }

  /**
   * A plan's tasks, in the order of its file.
   *
   * @param plan The plan's id.
   * @returns Its tasks.
   */
  tasks(plan: string): Promise<TaskRecord[]> {
    return this.#step(async () => {
      const reader = await this.#db.runAndReadAll(
        `SELECT plan, id, position, status, ship, attempts, cost_usd, tokens, branch, pr,
           started_at, finished_at, error, state
         FROM plan_tasks WHERE plan = $1 ORDER BY position`,
        [plan],
      );
      return reader.getRows().map((row) => ({
        plan: String(row[0]),
        id: String(row[1]),
        position: Number(row[2]),
        status: String(row[3]) as PlanTaskStatus,
        ship: textOrNull(row[4]),
        attempts: Number(row[5]),
        costUsd: Number(row[6]),
        tokens: JSON.parse(String(row[7])),
        branch: String(row[8]),
        pr: textOrNull(row[9]),
        startedAt: textOrNull(row[10]),
        finishedAt: textOrNull(row[11]),
        error: textOrNull(row[12]),
        memory: JSON.parse(String(row[13])),
      }));
    });
  }

  /**
   * A plan's attempts that were sent and have not been taken in.
   *
   * @param plan The plan's id.
   * @returns The attempts, oldest first.
   */
  openAttempts(plan: string): Promise<AttemptRecord[]> {
    return this.#step(async () => {
      const reader = await this.#db.runAndReadAll(
        `SELECT message_id, plan, task, kind, ship, status, cost_usd, sent_at, ended_at, outcome
         FROM plan_attempts WHERE plan = $1 AND status = 'sent' ORDER BY sent_at, message_id`,
        [plan],
      );
      return reader.getRows().map((row) => ({
        messageId: String(row[0]),
        plan: String(row[1]),
        task: String(row[2]),
        kind: String(row[3]) as AttemptKind,
        ship: String(row[4]),
        status: String(row[5]) as AttemptRecord["status"],
        costUsd: row[6] === null ? null : Number(row[6]),
        sentAt: String(row[7]),
        endedAt: textOrNull(row[8]),
        outcome: textOrNull(row[9]),
      }));
    });
  }

  /**
   * A plan's events after a place in its history.
   *
   * @param plan The plan's id.
   * @param after The last event already seen (0: from the start).
   * @returns The events, in order.
   */
  events(plan: string, after = 0): Promise<PlanEvent[]> {
    return this.#step(async () => {
      const reader = await this.#db.runAndReadAll(
        `SELECT plan, seq, happened_at, type, task, ship, text FROM plan_events
         WHERE plan = $1 AND seq > $2 ORDER BY seq`,
        [plan, after],
      );
      return reader.getRows().map((row) => ({
        plan: String(row[0]),
        seq: Number(row[1]),
        at: String(row[2]),
        type: String(row[3]) as PlanEvent["type"],
        task: textOrNull(row[4]),
        ship: textOrNull(row[5]),
        text: String(row[6]),
      }));
    });
  }

  /**
   * The last place in a plan's history.
   *
   * @param plan The plan's id.
   * @returns Its last event's seq, 0 when it has none.
   */
  lastSeq(plan: string): Promise<number> {
    return this.#step(async () => {
      const reader = await this.#db.runAndReadAll(
        `SELECT coalesce(max(seq), 0) FROM plan_events WHERE plan = $1`,
        [plan],
      );
      return Number(reader.getRows()[0][0]);
    });
  }

  /** Closes the database. */
  [Symbol.dispose](): void {
    this.#database[Symbol.dispose]();
  }

  // One statement group at a time on the one connection: transactions must not interleave.
  #step<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#steps.catch(() => {}).then(work);
    this.#steps = next;
    return next;
  }

  async #putPlan(plan: PlanRecord): Promise<void> {
    await this.#db.run(
      `INSERT OR REPLACE INTO plans (id, status, repo, integrate, cost_usd, budget_usd, tokens, pr,
         note, created_at, finished_at, spec)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        plan.id,
        plan.status,
        plan.repo,
        plan.integrate,
        plan.costUsd,
        plan.budgetUsd,
        JSON.stringify(plan.tokens),
        plan.pr,
        plan.note,
        plan.createdAt,
        plan.finishedAt,
        JSON.stringify(plan.spec),
      ],
    );
  }

  async #putTask(task: TaskRecord): Promise<void> {
    await this.#db.run(
      `INSERT OR REPLACE INTO plan_tasks (plan, id, position, status, ship, attempts, cost_usd,
         tokens, branch, pr, started_at, finished_at, error, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        task.plan,
        task.id,
        task.position,
        task.status,
        task.ship,
        task.attempts,
        task.costUsd,
        JSON.stringify(task.tokens),
        task.branch,
        task.pr,
        task.startedAt,
        task.finishedAt,
        task.error,
        JSON.stringify(task.memory),
      ],
    );
  }

  async #putAttempt(attempt: AttemptRecord): Promise<void> {
    await this.#db.run(
      `INSERT OR REPLACE INTO plan_attempts (message_id, plan, task, kind, ship, status, cost_usd,
         sent_at, ended_at, outcome)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        attempt.messageId,
        attempt.plan,
        attempt.task,
        attempt.kind,
        attempt.ship,
        attempt.status,
        attempt.costUsd,
        attempt.sentAt,
        attempt.endedAt,
        attempt.outcome,
      ],
    );
  }
}

function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
