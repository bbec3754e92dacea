/**
 * Openers of the SQL store URLs (`sqlite:`, `postgres:`, `mysql:`), each with a check that the
 * table exists with pithos's columns. Internal; use `openStore` from `store-url.ts`.
 *
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, StoreError } from '../core/errors.ts';
import { mysqlStore } from '../stores/mysql.ts';
import { postgresStore } from '../stores/postgres.ts';
import type { SQLStore } from '../stores/sql.ts';
import { type SQLiteDatabase, sqliteStore } from '../stores/sqlite.ts';
import { loadDriver, reasonOf } from './drivers.ts';
import type { OpenedStore, SchemaCheck, StoreURL } from './store-url.ts';

/** The columns of every SQL store's table. */
export const SQL_COLUMNS: readonly string[] = [
  'store_key',
  'record',
  'expires_at',
  'version',
  'user_key',
];

/** Lists a table's column names, given its schema (or `null` for the default) and base name. */
type ListColumns = (schema: string | null, table: string) => Promise<string[]>;

function schemaChecker(url: StoreURL, store: SQLStore, list: ListColumns) {
  return async (): Promise<SchemaCheck> => {
    const parts = store.table.split('.');
    const [schema, base] = parts.length === 2 ? parts : [null, parts[0] as string];
    let columns: string[];
    try {
      columns = (await list(schema ?? null, base as string)).map((name) => name.toLowerCase());
    } catch (error) {
      throw new StoreError(
        store.name,
        `cannot reach ${url.server ?? url.label} (${reasonOf(error)})`,
        {
          cause: error,
        },
      );
    }
    const missingColumns = SQL_COLUMNS.filter((column) => !columns.includes(column));
    return { table: store.table, exists: columns.length > 0, missingColumns };
  };
}

function opened(
  url: StoreURL,
  store: SQLStore,
  client: unknown,
  list: ListColumns,
  close: () => Promise<void>,
): OpenedStore {
  return {
    store,
    kind: url.kind,
    label: url.label,
    client,
    checkSchema: schemaChecker(url, store, list),
    createSchema: () => store.createSchema(),
    close,
  };
}

/** `sqlite:` on better-sqlite3; the file must exist unless `create`. */
export async function openSQLite(url: StoreURL, create: boolean): Promise<OpenedStore> {
  const open = await sqliteDriver();
  const path = url.path as string;
  if (!create && !existsSync(path)) {
    throw new ConfigError(
      `there is no SQLite database at ${path} (pithos doctor --create-schema creates one)`,
    );
  }
  if (create) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const database = open(path);
  // The application may be writing: wait for its locks rather than fail. The journal mode is
  // the application's choice and persists in the file, so it is left alone.
  database.exec('PRAGMA busy_timeout = 5000');
  const store = sqliteStore({ database, table: url.table });
  const columns = database.prepare('SELECT name FROM pragma_table_info(?, ?)');
  const list: ListColumns = async (schema, table) =>
    (columns.all(table, schema ?? 'main') as { name: string }[]).map((row) => row.name);
  return opened(url, store, database, list, async () => void database.close());
}

/** What the command calls on a SQLite database: what better-sqlite3 and node:sqlite share. */
interface SQLiteFile extends SQLiteDatabase {
  exec(sql: string): unknown;
  close(): unknown;
}

/**
 * better-sqlite3, or Node's built-in `node:sqlite` when better-sqlite3 cannot load (it is a native
 * module built for the Node version that installed it; `node:sqlite` comes with Node 22.13+).
 * Without either, the error says to install better-sqlite3.
 */
async function sqliteDriver(): Promise<(path: string) => SQLiteFile> {
  let failure: unknown;
  try {
    const { default: Database } = await loadDriver(
      'better-sqlite3',
      'sqlite:',
      () => import('better-sqlite3'),
    );
    new Database(':memory:').close(); // the native part loads here
    return (path) => new Database(path) as unknown as SQLiteFile;
  } catch (error) {
    failure = error;
  }
  const builtin = process.getBuiltinModule?.('node:sqlite') as
    | { DatabaseSync: new (path: string) => SQLiteFile }
    | undefined;
  if (builtin === undefined) throw failure;
  return (path) => new builtin.DatabaseSync(path);
}

/** `postgres:` on a small pg Pool. */
export async function openPostgres(url: StoreURL): Promise<OpenedStore> {
  const { default: pg } = await loadDriver('pg', 'postgres:', () => import('pg'));
  const pool = new pg.Pool({
    connectionString: url.connection,
    connectionTimeoutMillis: 5_000,
    max: 2,
  });
  pool.on('error', () => {}); // an idle connection dropped by the server: the next query says so
  const store = postgresStore({ client: pool, table: url.table });
  const list: ListColumns = async (schema, table) => {
    const { rows } = await pool.query(
      'SELECT column_name AS name FROM information_schema.columns ' +
        'WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2',
      [schema, table],
    );
    return rows.map((row: { name: string }) => row.name);
  };
  return opened(url, store, pool, list, () => pool.end());
}

/** `mysql:` (and `mariadb:`) on a small mysql2 pool. */
export async function openMySQL(url: StoreURL): Promise<OpenedStore> {
  const mysql = await loadDriver('mysql2', 'mysql:', () => import('mysql2/promise'));
  const uri = (url.connection as string).replace(/^mariadb:/i, 'mysql:');
  const pool = mysql.createPool({ uri, connectTimeout: 5_000, connectionLimit: 2 });
  const store = mysqlStore({ client: pool, table: url.table });
  const list: ListColumns = async (schema, table) => {
    const [rows] = await pool.execute(
      'SELECT column_name AS name FROM information_schema.columns ' +
        'WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?',
      [schema, table],
    );
    return (rows as { name: string }[]).map((row) => row.name);
  };
  return opened(url, store, pool, list, () => pool.end());
}
