/**
 * How an {@link Inbox} reaches its messages: through its scheduler, the inbox server, when one
 * answers on the database's socket; else on the database file itself, behind its lock, switching
 * to a scheduler that starts meanwhile. The two ways share the store's operations
 * (`operations.ts`), so each operation is written once.
 *
 * @module
 */

import type { DuckDBConnection } from "../duckdb.ts";
import { type DatabaseAccess, GaveUpWaiting, withDatabase } from "./database.ts";
import { STORE_OPERATIONS } from "./operations.ts";
import { ServerConnectionError } from "../errors.ts";
import { type CallOptions, ServerConnection } from "./server_connection.ts";
import type { OperationName, ServerOperations } from "./server_protocol.ts";
import { socketPathOf } from "./socket_path.ts";
import { InboxStore } from "./store.ts";

/** The way to one inbox's messages. */
export class InboxAccess {
  /** The member's address. */
  readonly address: string;
  /** The database file and how to open it. */
  readonly database: DatabaseAccess;

  /**
   * The way to an inbox.
   *
   * @param address The member's address.
   * @param database Its database file and how to open it.
   */
  constructor(address: string, database: DatabaseAccess) {
    this.address = address;
    this.database = database;
  }

  /**
   * A plain read or mark: one store operation, on the server or on the file.
   *
   * @param op The operation.
   * @param args Its arguments.
   * @returns Its answer.
   */
  simple<K extends keyof typeof STORE_OPERATIONS>(
    op: K,
    args: ServerOperations[K]["args"],
  ): Promise<ServerOperations[K]["value"]> {
    const operation = STORE_OPERATIONS[op] as {
      run: (store: InboxStore, args: ServerOperations[K]["args"]) => Promise<unknown>;
    };
    return this.call(
      op,
      args,
      (store) => operation.run(store, args) as Promise<ServerOperations[K]["value"]>,
    );
  }

  /**
   * Asks the scheduler when one answers, else does the work on the file itself; when a
   * scheduler starts while this waits for the file, asks it after all.
   *
   * @param op The operation, for the scheduler.
   * @param args Its arguments.
   * @param direct The same work on the file.
   * @param options Call options; `retryLostAnswer` where asking twice does what once does.
   * @returns The answer.
   */
  async call<K extends OperationName>(
    op: K,
    args: ServerOperations[K]["args"],
    direct: (store: InboxStore) => Promise<ServerOperations[K]["value"]>,
    options: CallOptions<ServerOperations[K]["event"]> & { retryLostAnswer?: boolean } = {},
  ): Promise<ServerOperations[K]["value"]> {
    for (let attempt = 1;; attempt++) {
      const server = await this.connect();
      if (server) {
        try {
          return await server.call(op, args, options);
        } catch (error) {
          // A lost answer is asked again only where asking twice does what asking once does.
          const again = options.retryLostAnswer && attempt < 3;
          if (!(error instanceof ServerConnectionError) || !again) throw error;
          continue;
        } finally {
          server.close();
        }
      }
      const value = await this.direct(direct);
      if (value !== undefined) return value;
    }
  }

  /**
   * Work on the file itself, behind its lock.
   *
   * @param work What to do with the inbox's statements.
   * @returns What `work` returns; undefined when a scheduler started while this waited.
   */
  async direct<T>(work: (store: InboxStore) => Promise<T>): Promise<T | undefined> {
    try {
      return await withDatabase(
        this.database,
        (db: DuckDBConnection) => work(new InboxStore(db, this.address)),
        () => this.#serverAnswers(),
      );
    } catch (error) {
      if (error instanceof GaveUpWaiting) return undefined;
      throw error;
    }
  }

  /**
   * A connection to the inbox's server, when one answers.
   *
   * @returns The connection, or undefined.
   */
  connect(): Promise<ServerConnection | undefined> {
    return ServerConnection.connect(socketPathOf(this.database.path), this.address);
  }

  async #serverAnswers(): Promise<boolean> {
    const server = await this.connect();
    server?.close();
    return server !== undefined;
  }
}
