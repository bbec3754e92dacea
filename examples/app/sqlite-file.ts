// Opens a SQLite file with better-sqlite3, or with Node's built-in `node:sqlite` when
// better-sqlite3 cannot load: it is a native module, built for the Node version that installed it,
// while `node:sqlite` comes with Node 22.13 and later. pithos/sqlite takes either.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** What the app calls on a database: what better-sqlite3 and node:sqlite have in common. */
export interface SQLiteConnection {
  prepare(sql: string): {
    run(...values: (string | number | Uint8Array | null)[]): { changes: number | bigint };
    get(...values: (string | number | Uint8Array | null)[]): unknown;
    all(...values: (string | number | Uint8Array | null)[]): unknown[];
  };
  exec(sql: string): unknown;
  close(): void;
}

/** An open SQLite database, and which driver opened it. */
export interface SQLiteFile {
  database: SQLiteConnection;
  driver: 'better-sqlite3' | 'node:sqlite';
}

type Open = new (path: string) => SQLiteConnection;

function isNativeLoadError(error: unknown): boolean {
  const { code } = error as { code?: unknown };
  return code === 'ERR_DLOPEN_FAILED' || String(error).includes('NODE_MODULE_VERSION');
}

async function open(path: string): Promise<SQLiteFile> {
  const { default: BetterSQLite3 } = await import('better-sqlite3');
  try {
    return { database: new BetterSQLite3(path), driver: 'better-sqlite3' };
  } catch (error) {
    const builtin = process.getBuiltinModule?.('node:sqlite') as
      | { DatabaseSync?: Open }
      | undefined;
    if (!isNativeLoadError(error) || builtin?.DatabaseSync === undefined) throw error;
    return { database: new builtin.DatabaseSync(path), driver: 'node:sqlite' };
  }
}

/** Opens (creating when missing) the SQLite file at `path`, in WAL mode with a busy timeout. */
export async function openSQLiteFile(path: string): Promise<SQLiteFile> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // The file holds password hashes: readable by its owner only, whatever the folder and umask.
  // SQLite gives its -wal and -shm files the database file's mode.
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const file = await open(path);
  // Several readers beside one writer; wait for a lock instead of failing at once.
  file.database.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
  return file;
}
