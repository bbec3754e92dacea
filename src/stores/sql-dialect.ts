/**
 * The SQL dialect table and the statements built from it: every SQL string the SQL stores send
 * comes from this file or from a dialect. Internal, shared by `pithos/postgres` and
 * `pithos/mysql`; a new dialect (SQLite, say) fills in one more `SQLDialect` on the same table:
 *
 * | column       | holds                                                                   |
 * | ------------ | ----------------------------------------------------------------------- |
 * | `store_key`  | the store key, 64 lower-case hex digits; primary key                    |
 * | `record`     | the sealed record (opaque bytes)                                        |
 * | `expires_at` | plaintext expiry in milliseconds since the epoch, indexed; cleanup only |
 * | `version`    | a random start (`firstVersion`), bumped by every write                  |
 * | `user_key`   | the opaque per-user key, or NULL; indexed                               |
 *
 * Table names are checked against a strict pattern before they are quoted; every value is a bound
 * parameter. The one number written into SQL text is the prune batch size, a checked integer.
 *
 * @module
 */
import { ConfigError } from '../core/errors.ts';

/** The table name used when none is given. */
export const DEFAULT_TABLE = 'pithos_sessions';

/** A lower-case identifier, optionally qualified by a schema (database on MySQL). */
export const TABLE_PATTERN: RegExp = /^(?:[a-z_][a-z0-9_]{0,47}\.)?[a-z_][a-z0-9_]{0,47}$/;

/** What one statement returned, whatever the driver. */
export interface SQLResult {
  /** The rows of a `SELECT` (empty otherwise). */
  rows: Record<string, unknown>[];
  /** How many rows an `INSERT`, `UPDATE` or `DELETE` wrote or removed. */
  affected: number;
}

/** A value bound to a placeholder: text, a whole number, bytes or NULL. */
export type SQLValue = string | number | Uint8Array | null;

/** Runs one parameterised statement on the user's client: the per-dialect shim. */
export type SQLRunner = (sql: string, values: SQLValue[]) => Promise<SQLResult>;

/** A table name that passed the pattern. */
export interface SQLTable {
  /** As given: `pithos_sessions` or `auth.sessions`. */
  readonly name: string;
  /** Without its schema, to name indexes: `sessions`. */
  readonly base: string;
  /** Quoted for the dialect: `"auth"."sessions"`. */
  readonly quoted: string;
}

/** What differs between SQL dialects. */
export interface SQLDialect {
  /** The store's name, in `store.name` and errors: `postgres`, `mysql`. */
  readonly name: string;
  /** The placeholder of the `index`-th value, from 1: `$1` or `?`. */
  placeholder(index: number): string;
  /** Quotes one identifier that already matched the table pattern. */
  quote(identifier: string): string;
  /** The statements creating the table and its indexes, each a no-op when they exist. */
  schema(table: SQLTable): string[];
  /** The clause after `INSERT … VALUES (…)` replacing the existing row and bumping `version`. */
  upsert(quotedTable: string): string;
  /**
   * Whether an upsert and an `UPDATE` can end with `RETURNING version` (PostgreSQL, SQLite
   * 3.35+), so a write learns the version it made; MySQL has no `RETURNING`, MariaDB none on
   * `UPDATE`.
   */
  readonly canReturn: boolean;
  /**
   * An insert that does nothing when the key exists: the words before `<table> (…) VALUES (…)`
   * and after it. It must report 0 affected rows when it did nothing.
   */
  readonly insertIfAbsent: readonly [prefix: string, suffix: string];
  /**
   * One statement deleting at most `limit` rows whose `expires_at` is at or before the first
   * value, safe to run from several connections at once.
   */
  pruneBatch(quotedTable: string, limit: number): string;
  /** Whether a driver error is a deadlock or serialisation failure (rolled back, safe to rerun). */
  isRetryable(error: unknown): boolean;
  /** Whether a driver error says the table does not exist. */
  isMissingTable(error: unknown): boolean;
  /**
   * Whether a driver error from a schema statement says that another connection created the same
   * object at the same moment (PostgreSQL checks `IF NOT EXISTS` before it locks the catalogue):
   * run once more, the statement then finds the object and does nothing.
   */
  isConcurrentCreate(error: unknown): boolean;
}

/** The `code` of a driver error (`'40P01'`, `'ER_LOCK_DEADLOCK'`, `'ECONNREFUSED'`), if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The version a new row starts at: random in [1, 2^52], so that a row deleted and created again
 * under the same key does not repeat a version some reader remembers, and 2^52 bumps stay exact
 * in a JavaScript number.
 */
export function firstVersion(): number {
  const [high = 0, low = 0] = globalThis.crypto.getRandomValues(new Uint32Array(2));
  return (high & 0xf_ffff) * 2 ** 32 + low + 1;
}

/** A `version` as the drivers return it (number, decimal string or bigint), if it is one. */
export function versionOf(value: unknown): number | undefined {
  if (typeof value === 'number')
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const text = typeof value === 'string' ? value : typeof value === 'bigint' ? String(value) : '';
  if (text.length === 0 || text.length > 16) return undefined;
  // A loop rather than a regular expression: it runs on every read and write of a record.
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return undefined; // not 0-9
  }
  const version = Number(text);
  return Number.isSafeInteger(version) ? version : undefined;
}

/** Checks a table name and quotes it for `dialect`; a bad name is a `ConfigError`. */
export function sqlTable(dialect: SQLDialect, name: string = DEFAULT_TABLE): SQLTable {
  if (typeof name !== 'string' || !TABLE_PATTERN.test(name)) {
    throw new ConfigError(
      `${dialect.name} store: table must be a lower-case identifier (a-z, 0-9, _; at most 48 ` +
        'characters), optionally schema-qualified, such as "pithos_sessions" or "auth.sessions"',
    );
  }
  const parts = name.split('.');
  return { name, base: parts.at(-1) as string, quoted: parts.map(dialect.quote).join('.') };
}

/** The DDL of `dialect` for `table`, as one script (statements ended by `;`). */
export function schemaScript(dialect: SQLDialect, table?: string): string {
  return `${dialect.schema(sqlTable(dialect, table)).join(';\n\n')};\n`;
}

/** The statements of one store, built once at construction. */
export interface SQLStatements {
  get: string;
  set: string;
  insert: string;
  updateByVersion: string;
  updateByRecord: string;
  delete: string;
  deleteExpired: string;
  listByUser: string;
  deleteByUser: string;
  prune: string;
  stats: string;
}

/** Builds every statement of a store; the comment on each gives its values in order. */
export function sqlStatements(dialect: SQLDialect, table: SQLTable, batch: number): SQLStatements {
  const p = dialect.placeholder;
  const t = table.quoted;
  const columns = '(store_key, record, expires_at, user_key, version)';
  const row = `${t} ${columns} VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`;
  const [prefix, suffix] = dialect.insertIfAbsent;
  const live = (index: number) => `expires_at > ${p(index)}`;
  const returning = dialect.canReturn ? ' RETURNING version' : '';
  const update =
    `UPDATE ${t} SET record = ${p(1)}, expires_at = ${p(2)}, user_key = ${p(3)}, ` +
    `version = version + 1 WHERE store_key = ${p(4)}`;
  return {
    // key, now
    get: `SELECT record, version FROM ${t} WHERE store_key = ${p(1)} AND ${live(2)}`,
    // key, record, expiresAt, userKey, first version
    set: `INSERT INTO ${row} ${dialect.upsert(t)}${returning}`,
    // key, record, expiresAt, userKey, first version
    insert: `${prefix} ${row}${suffix}`,
    // record, expiresAt, userKey, key, expected version, now. The new version is expected + 1.
    updateByVersion: `${update} AND version = ${p(5)} AND ${live(6)}`,
    // record, expiresAt, userKey, key, expected record, now
    updateByRecord: `${update} AND record = ${p(5)} AND ${live(6)}${returning}`,
    // key
    delete: `DELETE FROM ${t} WHERE store_key = ${p(1)}`,
    // key, now
    deleteExpired: `DELETE FROM ${t} WHERE store_key = ${p(1)} AND expires_at <= ${p(2)}`,
    // userKey, now
    listByUser: `SELECT store_key FROM ${t} WHERE user_key = ${p(1)} AND ${live(2)}`,
    // userKey, now
    deleteByUser: `DELETE FROM ${t} WHERE user_key = ${p(1)} AND ${live(2)}`,
    // now
    prune: dialect.pruneBatch(t, batch),
    // now. LENGTH of a binary value is its size in bytes in every dialect.
    stats:
      'SELECT COUNT(*) AS records, ' +
      `COALESCE(SUM(CASE WHEN expires_at <= ${p(1)} THEN 1 ELSE 0 END), 0) AS expired, ` +
      `COALESCE(SUM(LENGTH(record)), 0) AS bytes FROM ${t}`,
  };
}
