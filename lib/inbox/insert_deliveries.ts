/**
 * Storing deliveries that arrive together: each unless a message with its id is there already,
 * and each within its sender's quota (what that sender has waiting: unread, held or kept as
 * notes).
 *
 * @module
 */

import type { Message, SenderQuota } from "./message.ts";
import { isoOfMicros, MESSAGE_COLUMNS, messageOfRow, nowMicros } from "./message_rows.ts";
import type { PreparedStatements } from "./prepared_statements.ts";

/** A message the inbox has checked and will store. */
export interface AcceptedDelivery {
  /** Its id. */
  id: string;
  /** The command. */
  command: string;
  /** The sender's address, or null. */
  sender: string | null;
  /** Its timeout in whole seconds. */
  timeoutSec: number;
  /** How it is stored: `unread` to run, `held` until approved, `note` never to run. */
  status: "unread" | "held" | "note";
  /** Refuse it when its sender has this much waiting already. */
  quota?: SenderQuota;
}

/** What became of one delivery in {@link insertDeliveries}. */
export type Insertion =
  | { message: Message; created: boolean }
  | { refused: "taken" }
  | { refused: "quota"; waiting: { messages: number; bytes: number } };

// What a sender has waiting in the inbox.
type Waiting = { messages: number; bytes: number };

/**
 * Stores many messages in two statements (a look-up and one insert), each unless one with its
 * id is there already: the inbox server's way with deliveries that arrive together.
 *
 * @param sql The inbox's statements.
 * @param address The member's address: every message's recipient.
 * @param batch The checked deliveries.
 * @returns For each, in order: the stored message and whether this call stored it, or why it
 *   was refused: its id is another message's, or its sender is over its quota.
 */
export async function insertDeliveries(
  sql: PreparedStatements,
  address: string,
  batch: readonly AcceptedDelivery[],
): Promise<Insertion[]> {
  const { listValue } = await import("../duckdb.ts");
  const reader = await sql.read(
    `SELECT ${MESSAGE_COLUMNS} FROM inbox WHERE list_contains($1::VARCHAR[], id)`,
    [listValue(batch.map((accepted) => accepted.id))],
  );
  const known = new Map(reader.getRowObjects().map(messageOfRow).map((m) => [m.id, m]));
  const waiting = await waitingFrom(
    sql,
    batch.filter((accepted) => accepted.quota && !known.has(accepted.id)),
  );
  const created = nowMicros();
  const fresh: AcceptedDelivery[] = [];
  const results = batch.map((accepted): Insertion => {
    const stored = known.get(accepted.id);
    if (stored) {
      // A held message that was approved since is the same message: its repeat is a repeat.
      const same = stored.command === accepted.command && stored.sender === accepted.sender &&
        (stored.status === "note") === (accepted.status === "note");
      return same ? { message: stored, created: false } : { refused: "taken" };
    }
    if (accepted.quota) {
      const sent = waiting.get(accepted.sender)!;
      const bytes = new TextEncoder().encode(accepted.command).length;
      if (
        sent.messages + 1 > accepted.quota.messages || sent.bytes + bytes > accepted.quota.bytes
      ) return { refused: "quota", waiting: { ...sent } };
      sent.messages++;
      sent.bytes += bytes;
    }
    const message = newMessage(accepted, address, created);
    known.set(accepted.id, message); // the same id twice in one batch is stored once
    fresh.push(accepted);
    return { message, created: true };
  });
  for (let start = 0; start < fresh.length; start += 100) {
    const rows = fresh.slice(start, start + 100);
    // Only placeholders are written into the text; every value is a parameter.
    const values = rows.map((_, i) =>
      `($${i * 7 + 1}, make_timestamp($${i * 7 + 2}::BIGINT), $${i * 7 + 3}, ` +
      `$${i * 7 + 4}, $${i * 7 + 5}, $${i * 7 + 6}, $${i * 7 + 7})`
    );
    await sql.run(
      `INSERT INTO inbox (id, created_at, status, sender, recipient, command, timeout_sec)
       VALUES ${values.join(", ")}`,
      rows.flatMap((a) => [
        a.id,
        created,
        a.status,
        a.sender,
        address,
        a.command,
        a.timeoutSec,
      ]),
    );
  }
  return results;
}

// What each sender of these deliveries has waiting: messages unread, held or kept as notes.
async function waitingFrom(
  sql: PreparedStatements,
  batch: readonly AcceptedDelivery[],
): Promise<Map<string | null, Waiting>> {
  const waiting = new Map<string | null, Waiting>(
    batch.map((accepted) => [accepted.sender, { messages: 0, bytes: 0 }]),
  );
  const senders = [...waiting.keys()].filter((sender) => sender !== null);
  if (senders.length === 0) return waiting;
  const { listValue } = await import("../duckdb.ts");
  const reader = await sql.read(
    `SELECT sender, count(*)::INTEGER AS messages, sum(octet_length(encode(command)))::BIGINT
       AS bytes FROM inbox WHERE status IN ('unread', 'held', 'note')
       AND list_contains($1::VARCHAR[], sender) GROUP BY sender`,
    [listValue(senders)],
  );
  for (const row of reader.getRowObjects()) {
    waiting.set(String(row.sender), { messages: Number(row.messages), bytes: Number(row.bytes) });
  }
  return waiting;
}

function newMessage(accepted: AcceptedDelivery, recipient: string, createdMicros: bigint): Message {
  return {
    id: accepted.id,
    createdAt: isoOfMicros(createdMicros) ?? "",
    status: accepted.status,
    sender: accepted.sender,
    recipient,
    command: accepted.command,
    exitCode: null,
    result: null,
    stderr: null,
    error: null,
    startedAt: null,
    finishedAt: null,
    timeoutSec: accepted.timeoutSec,
  };
}
