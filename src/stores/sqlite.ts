/**
 * The SQLite store: sealed records in one table of your own SQLite database. Available from
 * `pithos/sqlite`.
 *
 * Takes a `better-sqlite3` 12.x `Database` or a `node:sqlite` `DatabaseSync` (Node 22.5 and
 * later), typed by the two methods it calls, so pithos depends on neither. The SQL is the one
 * every SQL store shares (`sql.ts`); this file holds SQLite's dialect and the shim that runs a
 * statement on a synchronous driver. Compare-and-set is a conditional statement, atomic across
 * every connection and process sharing the file. See `docs/stores/sqlite.md`.
 *
 * @module
 */
import { ConfigError } from '../core/errors.ts';
import { createSQLStore, type SQLStore, type SQLStoreOptions } from './sql.ts';
import {
  errorCode,
  type SQLDialect,
  type SQLRunner,
  type SQLTable,
  type SQLValue,
  schemaScript,
} from './sql-dialect.ts';

/** A prepared statement, as both drivers shape it. */
export interface SQLiteStatement {
  run(...values: SQLValue[]): { changes: number | bigint };
  all(...values: SQLValue[]): unknown[];
}

/** The one method the store calls: a `better-sqlite3` `Database` or a `node:sqlite` `DatabaseSync`. */
export interface SQLiteDatabase {
  prepare(sql: string): SQLiteStatement;
}

/** Options of `sqliteStore`. */
export interface SQLiteStoreOptions extends Omit<SQLStoreOptions, 'timeoutMs'> {
  /**
   * Your open database. The store never closes it and never changes its settings: turn on WAL
   * and a busy timeout yourself (see the docs). Required.
   * Example: `database: new Database('sessions.db')` (better-sqlite3) or
   * `database: new DatabaseSync('sessions.db')` (node:sqlite).
   */
  database: SQLiteDatabase;
}

/** A SQLite store. */
export type SQLiteStore = SQLStore;

/** `CREATE INDEX` names the index by schema and the table without it: `"aux"."t_x" ON "t"`. */
function indexNames(table: SQLTable, suffix: string): string {
  const schema = table.name.includes('.') ? `"${table.name.split('.')[0]}".` : '';
  return `${schema}"${table.base}_${suffix}" ON "${table.base}"`;
}

const dialect: SQLDialect = {
  name: 'sqlite',
  placeholder: () => '?',
  quote: (identifier) => `"${identifier}"`,
  schema: (table) => [
    `CREATE TABLE IF NOT EXISTS ${table.quoted} (
  store_key  TEXT    PRIMARY KEY NOT NULL,
  record     BLOB    NOT NULL,
  expires_at INTEGER NOT NULL,
  version    INTEGER NOT NULL DEFAULT 1,
  user_key   TEXT
)`,
    `CREATE INDEX IF NOT EXISTS ${indexNames(table, 'expires_at')} (expires_at)`,
    `CREATE INDEX IF NOT EXISTS ${indexNames(table, 'user_key')} (user_key) WHERE user_key IS NOT NULL`,
  ],
  // Unqualified columns in DO UPDATE are the existing row's; excluded.* the new one.
  upsert: () =>
    'ON CONFLICT (store_key) DO UPDATE SET record = excluded.record, ' +
    'expires_at = excluded.expires_at, user_key = excluded.user_key, version = version + 1',
  canReturn: true, // both drivers bundle a SQLite newer than 3.35, which brought RETURNING
  insertIfAbsent: ['INSERT INTO', ' ON CONFLICT (store_key) DO NOTHING'],
  pruneBatch: (table, limit) =>
    `DELETE FROM ${table} WHERE store_key IN ` +
    `(SELECT store_key FROM ${table} WHERE expires_at <= ? LIMIT ${limit})`,
  // SQLITE_BUSY already waited busy_timeout inside SQLite, blocking the thread: never again.
  isRetryable: () => false,
  isMissingTable: (error) => String((error as Error | null)?.message).includes('no such table'),
  // One writer at a time: IF NOT EXISTS is safe under concurrency.
  isConcurrentCreate: () => false,
};

/** Names of SQLite's primary result codes, which `node:sqlite` gives only as numbers. */
const CODE_NAMES: Record<number, string> = {
  1: 'SQLITE_ERROR',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  19: 'SQLITE_CONSTRAINT',
  26: 'SQLITE_NOTADB',
};

/** The SQLite result code of a driver error: better-sqlite3 names it, node:sqlite numbers it. */
function sqliteCode(error: unknown): string | undefined {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode === 'number') return CODE_NAMES[errcode & 0xff] ?? `SQLITE_${errcode}`;
  const code = errorCode(error);
  return code?.startsWith('SQLITE_') ? code : undefined;
}

/**
 * A driver error with its SQLite code in `code` on both drivers, so that the store's message
 * names it; a busy database also says what to do about it.
 */
function explain(error: unknown): unknown {
  const code = sqliteCode(error);
  if (code === undefined) return error;
  const isBusy = /^SQLITE_(BUSY|LOCKED)/.test(code);
  if (!isBusy && code === errorCode(error)) return error; // better-sqlite3 already says it
  const message = isBusy
    ? 'the database is locked by another connection: set PRAGMA busy_timeout'
    : String((error as Error).message);
  return Object.assign(new Error(message, { cause: error }), { code });
}

/**
 * Both drivers block the thread. When statements have run back to back with no turn of the
 * event loop for `sliceMs` (a long `prune()`), let the loop turn before the next one.
 */
function yielder(sliceMs: number): () => Promise<void> {
  let since: number | undefined;
  return async () => {
    if (since === undefined) {
      since = performance.now();
      setImmediate(() => {
        since = undefined;
      });
    } else if (performance.now() - since >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
}

/**
 * The DDL of the store's table and indexes, to run in a migration instead of `createSchema()`.
 *
 * @example
 * ```ts
 * database.exec(sqliteSchema('pithos_sessions'));
 * ```
 */
export function sqliteSchema(table?: string): string {
  return schemaScript(dialect, table);
}

/**
 * Creates a SQLite store on your open database; call `createSchema()` once before use.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * const database = new Database('sessions.db');
 * database.pragma('journal_mode = WAL');
 * const store = sqliteStore({ database });
 * await store.createSchema();
 * const manager = createSessionManager({ store, secret });
 * ```
 */
export function sqliteStore(options: SQLiteStoreOptions): SQLiteStore {
  const database = options?.database;
  if (typeof database?.prepare !== 'function') {
    throw new ConfigError(
      'sqlite store: database must be a better-sqlite3 Database or a node:sqlite DatabaseSync',
    );
  }
  const prepared = new Map<string, SQLiteStatement>(); // one per statement text: a dozen
  const turn = yielder(10);
  const runner: SQLRunner = async (sql, values) => {
    await turn();
    try {
      let statement = prepared.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        prepared.set(sql, statement);
      }
      if (sql.startsWith('SELECT')) {
        return { rows: statement.all(...values) as Record<string, unknown>[], affected: 0 };
      }
      if (sql.endsWith(' RETURNING version')) {
        const rows = statement.all(...values) as Record<string, unknown>[];
        return { rows, affected: rows.length };
      }
      return { rows: [], affected: Number(statement.run(...values).changes) };
    } catch (error) {
      throw explain(error);
    }
  };
  // A statement on a synchronous driver cannot be abandoned midway: the timeout never fires.
  return createSQLStore(dialect, runner, { ...options, timeoutMs: 2 ** 31 - 1 });
}
