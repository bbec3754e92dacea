/**
 * The PostgreSQL store: sealed records in one table, through your own `pg` Pool or Client.
 * Available from `pithos/postgres`.
 *
 * Compare-and-set, the per-user index and batched `prune()` are all there. Create the table once
 * with `createSchema()` or with the DDL from `postgresSchema()`. `close()` leaves your pool open:
 * it is yours to end. See `docs/stores/postgres.md`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../core/errors.ts';
import { createSQLStore, type SQLStore, type SQLStoreOptions } from './sql.ts';
import {
  errorCode,
  type SQLDialect,
  type SQLRunner,
  type SQLValue,
  schemaScript,
} from './sql-dialect.ts';

/** Options of `postgresStore`. */
export interface PostgresStoreOptions extends SQLStoreOptions {
  /**
   * Your client: a `pg` Pool, or anything with the same `query(text, values)`. A single Client
   * suits scripts and tests only: nothing reconnects it after its connection drops. Give it `connectionTimeoutMillis` and `query_timeout` so that a dead
   * server frees its connections too. Required. Example: `client: new pg.Pool({ connectionString })`.
   */
  client: PostgresClient;
  /**
   * Sends each statement that has values as a named prepared statement (pg's
   * `query({ name, text, values })`), so the server parses and plans each of the store's
   * statements once per connection instead of on every call. Needs a `pg` Pool or Client (or a
   * client that takes that config object). Off by default: a pooler in transaction mode that does
   * not track prepared statements (PgBouncer before 1.21, or without `max_prepared_statements`)
   * sends them to connections that never prepared them. Default `false`.
   * Example: `prepare: true`.
   */
  prepare?: boolean;
}

/** A named statement, as `pg` takes it. */
export interface PostgresNamedQuery {
  name: string;
  text: string;
  values: SQLValue[];
}

/** The one method the store calls on a `pg` Pool or Client. */
export interface PostgresClient {
  query(
    text: string,
    values: SQLValue[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** A PostgreSQL store. */
export type PostgresStore = SQLStore;

// VARCHAR, not CHAR(64): a text-typed parameter compared with a CHAR column casts the column, and
// the primary key lookup becomes a sequential scan.
const dialect: SQLDialect = {
  name: 'postgres',
  placeholder: (index) => `$${index}`,
  quote: (identifier) => `"${identifier}"`,
  schema: (table) => [
    `CREATE TABLE IF NOT EXISTS ${table.quoted} (
  store_key  VARCHAR(64)  PRIMARY KEY,
  record     BYTEA        NOT NULL,
  expires_at BIGINT       NOT NULL,
  version    BIGINT       NOT NULL DEFAULT 1,
  user_key   VARCHAR(128)
)`,
    `CREATE INDEX IF NOT EXISTS "${table.base}_expires_at" ON ${table.quoted} (expires_at)`,
    `CREATE INDEX IF NOT EXISTS "${table.base}_user_key" ON ${table.quoted} (user_key)`,
  ],
  // `version` alone would be ambiguous next to EXCLUDED.version: name the existing row's table.
  upsert: (table) =>
    'ON CONFLICT (store_key) DO UPDATE SET record = EXCLUDED.record, ' +
    'expires_at = EXCLUDED.expires_at, user_key = EXCLUDED.user_key, ' +
    `version = ${table}.version + 1`,
  canReturn: true,
  insertIfAbsent: ['INSERT INTO', ' ON CONFLICT (store_key) DO NOTHING'],
  // SKIP LOCKED: app instances pruning at once take different rows instead of queueing on one
  // batch. = ANY(ARRAY(…)) rather than IN (…): the planner turns IN into a hash join over a
  // sequential scan of the whole table, once per batch; the array makes it probe the primary key.
  pruneBatch: (table, limit) =>
    `DELETE FROM ${table} WHERE store_key = ANY(ARRAY(SELECT store_key FROM ${table} ` +
    `WHERE expires_at <= $1 LIMIT ${limit} FOR UPDATE SKIP LOCKED))`,
  // deadlock_detected, serialization_failure
  isRetryable: (error) => ['40P01', '40001'].includes(errorCode(error) ?? ''),
  isMissingTable: (error) => errorCode(error) === '42P01',
  // unique_violation (on the catalogue), duplicate_table, duplicate_object
  isConcurrentCreate: (error) => ['23505', '42P07', '42710'].includes(errorCode(error) ?? ''),
};

/**
 * The DDL of the store's table and indexes, to run in a migration instead of `createSchema()`.
 *
 * @example
 * ```ts
 * await fs.writeFile('migrations/001_sessions.sql', postgresSchema('pithos_sessions'));
 * ```
 */
export function postgresSchema(table?: string): string {
  return schemaScript(dialect, table);
}

/**
 * Creates a PostgreSQL store on your `pg` Pool.
 *
 * @example
 * ```ts
 * const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: 5000, query_timeout: 5000 });
 * const store = postgresStore({ client: pool });
 * await store.createSchema();
 * const manager = createSessionManager({ store, secret });
 * ```
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const client = options?.client;
  if (typeof client?.query !== 'function') {
    throw new ConfigError('postgres store: client must be a pg Pool or Client (it needs query())');
  }
  if (options.prepare !== undefined && typeof options.prepare !== 'boolean') {
    throw new ConfigError('postgres store: prepare must be true or false');
  }
  const names = new Map<string, string>();
  /** A statement's name: from a hash of its text, so stores on other tables never share one. */
  const nameOf = (text: string): string => {
    let name = names.get(text);
    if (name === undefined) {
      name = `pithos_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
      names.set(text, name);
    }
    return name;
  };
  const prepared = client as unknown as {
    query(query: PostgresNamedQuery): ReturnType<PostgresClient['query']>;
  };
  const runner: SQLRunner = async (text, values) => {
    // Statements without values (the DDL of createSchema) run once: nothing to gain.
    const result =
      options.prepare === true && values.length > 0
        ? await prepared.query({ name: nameOf(text), text, values })
        : await client.query(text, values);
    return { rows: result.rows ?? [], affected: result.rowCount ?? 0 };
  };
  return createSQLStore(dialect, runner, options);
}
