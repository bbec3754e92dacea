/**
 * The MySQL and MariaDB store: sealed records in one InnoDB table, through your own
 * `mysql2/promise` pool. Available from `pithos/mysql`.
 *
 * Compare-and-set, the per-user index and batched `prune()` are all there, with SQL that MariaDB
 * and MySQL 5.7+ both accept. Create the table once with `createSchema()` or with the DDL from
 * `mysqlSchema()`. `close()` leaves your pool open: it is yours to end. See `docs/stores/mysql.md`.
 *
 * @module
 */
import { ConfigError } from '../core/errors.ts';
import { createSQLStore, type SQLStore, type SQLStoreOptions } from './sql.ts';
import {
  errorCode,
  type SQLDialect,
  type SQLRunner,
  type SQLValue,
  schemaScript,
} from './sql-dialect.ts';

/** Options of `mysqlStore`. */
export interface MySQLStoreOptions extends SQLStoreOptions {
  /**
   * Your client: a `mysql2/promise` pool (`mysql.createPool(…)`, or `pool.promise()` of a
   * callback pool), or anything with the same `execute(sql, values)`. Statements are prepared on
   * the server, so values never enter the SQL text. Give the pool a `connectTimeout`. Required.
   * Example: `client: mysql.createPool({ host, user, database, connectTimeout: 5000 })`.
   */
  client: MySQLClient;
}

/** The one method the store calls on a `mysql2/promise` pool or connection. */
export interface MySQLClient {
  execute(sql: string, values: SQLValue[]): Promise<[unknown, unknown]>;
}

/** A MySQL or MariaDB store. */
export type MySQLStore = SQLStore;

const dialect: SQLDialect = {
  name: 'mysql',
  placeholder: () => '?',
  quote: (identifier) => `\`${identifier}\``,
  // Keys are ASCII with a binary collation: 64 bytes in the index, compared byte for byte.
  // Indexes are declared inline because MySQL has no CREATE INDEX IF NOT EXISTS.
  schema: (table) => [
    `CREATE TABLE IF NOT EXISTS ${table.quoted} (
  store_key  CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  record     LONGBLOB     NOT NULL,
  expires_at BIGINT       NOT NULL,
  version    BIGINT       NOT NULL DEFAULT 1,
  user_key   VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  PRIMARY KEY (store_key),
  KEY \`${table.base}_expires_at\` (expires_at),
  KEY \`${table.base}_user_key\` (user_key)
) ENGINE=InnoDB`,
  ],
  // VALUES(col), not MySQL 8's row alias, which MariaDB does not accept.
  upsert: () =>
    'ON DUPLICATE KEY UPDATE record = VALUES(record), expires_at = VALUES(expires_at), ' +
    'user_key = VALUES(user_key), version = version + 1',
  // MySQL has no RETURNING and MariaDB none on UPDATE: a write over an unknown version forgets
  // it, so the next compare-and-set with that record compares bytes.
  canReturn: false,
  // ON DUPLICATE KEY UPDATE cannot say "did nothing" when the driver sets FOUND_ROWS (mysql2
  // does), so insert-if-absent is INSERT IGNORE: 0 rows when the key exists.
  insertIfAbsent: ['INSERT IGNORE INTO', ''],
  pruneBatch: (table, limit) =>
    `DELETE FROM ${table} WHERE expires_at <= ? ORDER BY expires_at LIMIT ${limit}`,
  isRetryable: (error) => errorCode(error) === 'ER_LOCK_DEADLOCK',
  isMissingTable: (error) => errorCode(error) === 'ER_NO_SUCH_TABLE',
  // MariaDB takes a metadata lock first: IF NOT EXISTS is safe under concurrency.
  isConcurrentCreate: () => false,
};

/**
 * The DDL of the store's table and its indexes, to run in a migration instead of `createSchema()`.
 *
 * @example
 * ```ts
 * await fs.writeFile('migrations/001_sessions.sql', mysqlSchema('pithos_sessions'));
 * ```
 */
export function mysqlSchema(table?: string): string {
  return schemaScript(dialect, table);
}

/**
 * Creates a MySQL or MariaDB store on your `mysql2/promise` pool.
 *
 * @example
 * ```ts
 * const pool = mysql.createPool({ host: '127.0.0.1', user, database, connectTimeout: 5000 });
 * const store = mysqlStore({ client: pool });
 * await store.createSchema();
 * const manager = createSessionManager({ store, secret });
 * ```
 */
export function mysqlStore(options: MySQLStoreOptions): MySQLStore {
  const client = options?.client;
  if (typeof client?.execute !== 'function') {
    throw new ConfigError('mysql store: client must be a mysql2/promise pool (it needs execute())');
  }
  const runner: SQLRunner = async (sql, values) => {
    const result: unknown = await client.execute(sql, values);
    if (!Array.isArray(result)) {
      throw new TypeError('execute() did not return [rows, fields]: pass a mysql2/promise pool');
    }
    const [rows] = result as [unknown];
    if (Array.isArray(rows)) return { rows, affected: 0 };
    return { rows: [], affected: Number((rows as { affectedRows?: unknown }).affectedRows ?? 0) };
  };
  return createSQLStore(dialect, runner, options);
}
