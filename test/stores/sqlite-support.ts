/**
 * The SQLite drivers the tests run against, and raw dumps. Not a test file.
 *
 * better-sqlite3 is a native module built for the Node version that installed it: under another
 * Node (CI's second run on Node 24), loading it fails with NODE_MODULE_VERSION, and only then are
 * its tests skipped, with that reason. `node:sqlite` exists from Node 22.5 (unflagged from 22.13),
 * and is tested wherever it exists. At least one driver always runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type BetterSQLite3 from 'better-sqlite3';
import type { SQLiteDatabase, SQLiteStatement } from '../../src/stores/sqlite.ts';

// The store's structural type accepts a better-sqlite3 Database as it is typed.
const isAccepted: BetterSQLite3.Database extends SQLiteDatabase ? true : false = true;
void isAccepted;

/** An open database, with what the tests call besides the store. */
export interface OpenDatabase extends SQLiteDatabase {
  prepare(sql: string): SQLiteStatement & { get(...values: unknown[]): unknown };
  exec(sql: string): unknown;
  close(): void;
}

/** One driver: how to open a database at a path (or `:memory:`). */
export interface Driver {
  name: string;
  /** Why its tests are skipped, when they are. */
  skip?: string;
  open(path: string): OpenDatabase;
}

type Constructor = new (path: string) => OpenDatabase;

function betterSQLite3(): Driver {
  const name = 'better-sqlite3';
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3') as Constructor;
    new Database(':memory:').close(); // the native part loads here
    return { name, open: (path) => new Database(path) };
  } catch (error) {
    if (!String(error).includes('NODE_MODULE_VERSION')) throw error;
    const skip = `better-sqlite3 was built for another Node version than ${process.version}`;
    return { name, skip, open: () => assertNever(skip) };
  }
}

function nodeSQLite(): Driver | undefined {
  let sqlite: { DatabaseSync?: Constructor } | undefined;
  try {
    sqlite = process.getBuiltinModule?.('node:sqlite') as typeof sqlite;
  } catch {
    sqlite = undefined; // Node 22.5–22.12 without --experimental-sqlite
  }
  const DatabaseSync = sqlite?.DatabaseSync;
  return DatabaseSync && { name: 'node:sqlite', open: (path) => new DatabaseSync(path) };
}

function assertNever(message: string): never {
  throw new Error(message);
}

/** The drivers of this Node version. */
export const drivers: Driver[] = [betterSQLite3(), nodeSQLite()].filter(
  (driver): driver is Driver => driver !== undefined,
);

/** Opens a database file the way the docs recommend: WAL, and a busy timeout. */
export function openFile(driver: Driver, path: string): OpenDatabase {
  const database = driver.open(path);
  database.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
  return database;
}

/** Every row of `table`, every column, as raw bytes. */
export function dumpRows(database: SQLiteDatabase, table = 'pithos_sessions'): Uint8Array {
  const rows = database.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[];
  const parts = rows.flatMap((row) =>
    Object.values(row).map((value) =>
      ArrayBuffer.isView(value)
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : Buffer.from(`${String(value)}\n`),
    ),
  );
  return Buffer.concat(parts);
}

/** The database file and its write-ahead log, byte for byte. */
export function dumpFiles(path: string): Uint8Array {
  return Buffer.concat(
    [path, `${path}-wal`].filter((file) => existsSync(file)).map((file) => readFileSync(file)),
  );
}
