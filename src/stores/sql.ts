/**
 * The SQL store, written once for every SQL dialect. Internal: use it through `pithos/postgres`
 * or `pithos/mysql`, which give it a dialect table (`sql-dialect.ts`) and a shim that runs one
 * statement on the user's own client.
 *
 * Compare-and-set compares versions: the store remembers, per record object, the store key and
 * `version` it read or wrote, and a compare-and-set expecting that very object (as the manager
 * does) runs `UPDATE … WHERE store_key = ? AND version = ?`, sending no expected bytes. Any other
 * `expected` falls back to comparing the record bytes in the `WHERE` clause (every sealed record
 * carries a random nonce, so equal bytes mean the same write). The version path is stricter: a
 * rewrite of byte-identical content by another writer fails it, which the bytes cannot see.
 * A row starts at a random version, so a key deleted and created again does not repeat one.
 * `version` also makes every write change the row, so "rows affected" means the same thing
 * whatever the driver's flags (MySQL's `FOUND_ROWS`).
 *
 * @module
 */
import { ConfigError, StoreError } from '../core/errors.ts';
import {
  MAX_TIMEOUT_MS,
  type Store,
  type StoreSetOptions,
  type StoreStats,
} from '../core/store.ts';
import { isStoreKey, isUserKey } from '../core/token.ts';
import {
  errorCode,
  firstVersion,
  type SQLDialect,
  type SQLResult,
  type SQLRunner,
  type SQLValue,
  sqlStatements,
  sqlTable,
  versionOf,
} from './sql-dialect.ts';

/** Tries of a statement that failed on a deadlock (it was rolled back, so it may run again). */
const TRIES = 3;

/** Options every SQL store takes. */
export interface SQLStoreOptions {
  /**
   * The table, lower-case letters, digits and `_` (at most 48 characters), optionally qualified
   * by a schema (`auth.sessions`). Checked at construction, so it can never carry SQL.
   * Default `'pithos_sessions'`. Example: `table: 'app_sessions'`.
   */
  table?: string;
  /**
   * Milliseconds a statement may take before it fails with a `StoreError`, so that no request
   * hangs on a server that does not answer. Set your driver's own timeouts too (see the store's
   * page): this one stops the wait, not the query. Default `5000`. Example: `timeoutMs: 2000`.
   */
  timeoutMs?: number;
  /**
   * Most expired rows one `prune()` statement deletes; `prune()` repeats it until fewer are left.
   * Default `1000`. Example: `pruneBatchSize: 5000`.
   */
  pruneBatchSize?: number;
  /**
   * Milliseconds since the epoch, compared with `expires_at`; inject the manager's clock in
   * tests. Default `Date.now`. Example: `clock: () => fakeNow`.
   */
  clock?: () => number;
}

/** A SQL store: every capability, plus `createSchema`. */
export interface SQLStore extends Required<Store> {
  /** The table it uses, as given. */
  readonly table: string;
  /** Creates the table and its indexes when they do not exist (`CREATE … IF NOT EXISTS`). */
  createSchema(): Promise<void>;
  /**
   * Counts the rows, the expired ones and the bytes of their records, in one statement that reads
   * the whole table (`pithos stats`): for operators, not for request paths.
   */
  stats(): Promise<Required<StoreStats>>;
  /** Does nothing to the client: it is yours, end it yourself (`await pool.end()`). */
  close(): Promise<void>;
}

function positiveInteger(
  dialect: SQLDialect,
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < 1) {
    throw new ConfigError(`${dialect.name} store: ${name} must be a positive whole number`);
  }
  return chosen;
}

/** What a record object was read or written as. */
interface Known {
  key: string;
  version: number;
}

/** The values of a row: key, record, expiresAt, userKey, and the version it starts at. */
type RowValues = [string, Uint8Array, number, string | null, number];

/** Bytes as the drivers want them (a `Buffer` view, no copy). */
function toParameter(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Builds a store for `dialect` that runs its statements through `runner`. */
export function createSQLStore(
  dialect: SQLDialect,
  runner: SQLRunner,
  options: SQLStoreOptions = {},
): SQLStore {
  const table = sqlTable(dialect, options.table);
  const timeoutMs = positiveInteger(dialect, 'timeoutMs', options.timeoutMs, 5_000);
  if (timeoutMs > MAX_TIMEOUT_MS) {
    throw new ConfigError(`${dialect.name} store: timeoutMs must be at most ${MAX_TIMEOUT_MS}`);
  }
  const batch = positiveInteger(dialect, 'pruneBatchSize', options.pruneBatchSize, 1_000);
  const userClock = options.clock ?? Date.now;
  // Whole milliseconds: the columns are integers, and a fractional clock would fail every statement.
  const clock = (): number => Math.floor(userClock());
  const sql = sqlStatements(dialect, table, batch);
  const fail = (message: string, cause?: unknown, code?: 'STORE_KEY_INVALID') =>
    new StoreError(dialect.name, message, { cause, code });
  // The key and version each record object was read or written at. Weak, so it needs no bound.
  const versions = new WeakMap<Uint8Array, Known>();

  /** Remembers `record` as written at `version` under `key`, or forgets it if that is unknown. */
  function remember(key: string, record: Uint8Array, version: unknown): void {
    const known = versionOf(version);
    if (known === undefined) versions.delete(record);
    else versions.set(record, { key, version: known });
  }

  function checkKey(key: string): void {
    if (!isStoreKey(key))
      throw fail('refused a key that is not a store key', undefined, 'STORE_KEY_INVALID');
  }

  function checkUserKey(userKey: unknown): string {
    if (!isUserKey(userKey)) {
      throw fail(
        'refused a user key that is not 16-128 characters of A-Z a-z 0-9 _ -',
        undefined,
        'STORE_KEY_INVALID',
      );
    }
    return userKey;
  }

  /**
   * The values of a row. `version` is the one a new row starts at: `firstVersion()` for
   * statements that may insert, 0 for updates, which bump the row's own (drawing a random start
   * costs a system call: some 13 µs of a PostgreSQL request in a profile, for a number unused).
   */
  function rowValues(
    key: string,
    record: Uint8Array,
    setOptions: StoreSetOptions,
    version: number,
  ): RowValues {
    checkKey(key);
    const userKey = setOptions.userKey === undefined ? null : checkUserKey(setOptions.userKey);
    return [key, toParameter(record), millis(setOptions.expiresAt), userKey, version];
  }

  function millis(expiresAt: number): number {
    if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt))
      throw fail('expiresAt must be a number');
    return Math.max(
      -Number.MAX_SAFE_INTEGER,
      Math.min(Number.MAX_SAFE_INTEGER, Math.floor(expiresAt)),
    );
  }

  function failure(operation: string, error: unknown): StoreError {
    if (dialect.isMissingTable(error)) {
      return fail(
        `${operation} failed: table ${table.name} does not exist (run createSchema() or its DDL)`,
        error,
      );
    }
    const code = errorCode(error);
    return fail(
      `${operation} failed${code === undefined ? '' : ` (${code})`}`,
      error ?? new Error('unknown error'),
    );
  }

  /**
   * Runs one statement; wraps driver errors; gives up after `timeoutMs` so no request hangs.
   * A statement rolled back by a deadlock runs again, up to `TRIES` times within the same time.
   * One promise and one timer per statement: this runs twice on every committing request.
   */
  function run(operation: string, text: string, values: SQLValue[]): Promise<SQLResult> {
    return new Promise((resolve, reject) => {
      let over = false;
      const timer = setTimeout(() => {
        over = true;
        const cause = Object.assign(new Error(`no answer within ${timeoutMs} ms`), {
          name: 'TimeoutError',
        });
        reject(fail(`${operation} timed out after ${timeoutMs} ms`, cause));
      }, timeoutMs);
      const settle = (tries: number): void => {
        let pending: Promise<SQLResult>;
        try {
          pending = runner(text, values);
        } catch (error) {
          pending = Promise.reject(error);
        }
        pending.then(
          (result) => {
            clearTimeout(timer);
            resolve(result);
          },
          (error: unknown) => {
            if (over) return;
            if (tries < TRIES && dialect.isRetryable(error)) {
              settle(tries + 1);
              return;
            }
            clearTimeout(timer);
            reject(failure(operation, error));
          },
        );
      };
      settle(1);
    });
  }

  function bytesOf(value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array))
      throw fail("get read a record that is not bytes (check the driver's type parsing)");
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }

  /** Replaces the live row under `key` if it is still `expected`; whether it did. */
  async function update(
    values: RowValues,
    expected: Uint8Array,
    record: Uint8Array,
  ): Promise<boolean> {
    const [key, bytes, expiresAt, userKey] = values;
    const now = clock();
    const known = versions.get(expected);
    if (known?.key === key) {
      const byVersion = [bytes, expiresAt, userKey, key, known.version, now];
      if ((await run('compareAndSet', sql.updateByVersion, byVersion)).affected === 0) return false;
      remember(key, record, known.version + 1); // exact: it bumped the row from `known.version`
      return true;
    }
    const byRecord = [bytes, expiresAt, userKey, key, toParameter(expected), now];
    const { affected, rows } = await run('compareAndSet', sql.updateByRecord, byRecord);
    if (affected === 0) return false;
    remember(key, record, rows[0]?.version);
    return true;
  }

  /** Inserts the row if `key` is absent or expired; whether it did. */
  async function insert(values: RowValues, record: Uint8Array): Promise<boolean> {
    const [key, , , , version] = values;
    let isInserted = (await run('compareAndSet', sql.insert, values)).affected > 0;
    if (!isInserted) {
      // The key is taken, perhaps by an expired row, which counts as absent: delete it if it is
      // expired and insert again. Whoever deleted it (this writer, another one, a prune of
      // another instance), the insert does nothing over a live row, so of concurrent writers
      // exactly one inserts.
      await run('compareAndSet', sql.deleteExpired, [key, clock()]);
      isInserted = (await run('compareAndSet', sql.insert, values)).affected > 0;
    }
    if (isInserted) remember(key, record, version);
    return isInserted;
  }

  return {
    name: dialect.name,
    table: table.name,
    async get(key) {
      checkKey(key);
      const { rows } = await run('get', sql.get, [key, clock()]);
      const row = rows[0];
      if (row === undefined) return undefined;
      const record = bytesOf(row.record);
      remember(key, record, row.version);
      return record;
    },
    async set(key, record, setOptions) {
      const values = rowValues(key, record, setOptions, firstVersion());
      const { rows } = await run('set', sql.set, values);
      remember(key, record, rows[0]?.version); // forgets it where the dialect cannot return it
    },
    async delete(key) {
      checkKey(key);
      await run('delete', sql.delete, [key]);
    },
    async compareAndSet(key, expected, record, setOptions) {
      if (expected === undefined) {
        return insert(rowValues(key, record, setOptions, firstVersion()), record);
      }
      return update(rowValues(key, record, setOptions, 0), expected, record);
    },
    async listByUser(userKey) {
      const { rows } = await run('listByUser', sql.listByUser, [checkUserKey(userKey), clock()]);
      return rows.map((row) => String(row.store_key));
    },
    async deleteByUser(userKey) {
      return (await run('deleteByUser', sql.deleteByUser, [checkUserKey(userKey), clock()]))
        .affected;
    },
    async prune() {
      // One cut-off for the whole run, so it ends even while sessions keep expiring.
      const now = clock();
      let removed = 0;
      for (;;) {
        const { affected } = await run('prune', sql.prune, [now]);
        removed += affected;
        if (affected < batch) return removed;
      }
    },
    async stats() {
      const { rows } = await run('stats', sql.stats, [clock()]);
      // COUNT and SUM come back as numbers, bigints or decimal strings, by driver.
      const row = rows[0] ?? {};
      return {
        records: Number(row.records ?? 0),
        expired: Number(row.expired ?? 0),
        bytes: Number(row.bytes ?? 0),
      };
    },
    async createSchema() {
      for (const statement of dialect.schema(table)) {
        try {
          await run('createSchema', statement, []);
        } catch (error) {
          // Another instance starting at the same moment created it first: run it again.
          if (!(error instanceof StoreError && dialect.isConcurrentCreate(error.cause)))
            throw error;
          await run('createSchema', statement, []);
        }
      }
    },
    async close() {},
  };
}
