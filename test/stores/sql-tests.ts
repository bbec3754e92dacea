/**
 * The SQL-specific store tests, written once for PostgreSQL and MySQL against the harness each
 * test file fills in: hostile identifiers, schema, version and expiry semantics, batched and
 * concurrent prune, compare-and-set races on real connections, timeouts and wrapped errors.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ConfigError, PithosError, StoreError } from '../../src/core/errors.ts';
import type { SQLStoreOptions } from '../../src/stores/sql.ts';
import { randomRecord, randomStoreKey } from '../../src/testing/support.ts';
import { type SQLHarness, silentServer, uniqueTable } from './sql-support.ts';

const HOSTILE_KEYS = [
  "x'; DROP TABLE pithos_sessions; --",
  `${'a'.repeat(63)}'`,
  'A'.repeat(64),
  `${'a'.repeat(64)} OR 1=1`,
  '../../etc/passwd',
  '',
];
const HOSTILE_USER_KEYS = [
  "u'; DELETE FROM t; --",
  'short',
  'x'.repeat(129),
  'with space here!',
  '',
];
const HOSTILE_TABLES = [
  'sessions; DROP TABLE users',
  'a"b',
  'a`b',
  'Sessions',
  '1sessions',
  'a.b.c',
  'x'.repeat(49),
  '',
  'sessions--',
];

function isKeyRefusal(error: unknown): boolean {
  return error instanceof StoreError && error.code === 'STORE_KEY_INVALID';
}

async function fillExpired(h: SQLHarness, table: string, count: number): Promise<void> {
  const past = Date.now() - 60_000;
  for (let start = 0; start < count; start += 500) {
    const rows = Math.min(500, count - start);
    const values: unknown[] = [];
    const tuples = Array.from({ length: rows }, (_, i) => {
      values.push(randomStoreKey(), Buffer.from(randomRecord(16)), past - i);
      const n = i * 3;
      return `(${h.placeholder(n + 1)}, ${h.placeholder(n + 2)}, ${h.placeholder(n + 3)})`;
    });
    await h.exec(
      `INSERT INTO ${h.quote(table)} (store_key, record, expires_at) VALUES ${tuples.join(', ')}`,
      values,
    );
  }
}

async function countRows(h: SQLHarness, table: string): Promise<number> {
  const [row] = await h.exec(`SELECT COUNT(*) AS n FROM ${h.quote(table)}`);
  return Number(row?.n);
}

const later = () => ({ expiresAt: Date.now() + 3_600_000 });

/** Registers the SQL-specific tests; each makes its own table and drops it afterwards. */
export function describeSQLStoreTests(h: SQLHarness): void {
  const tables: string[] = [];
  async function freshStore(options: SQLStoreOptions = {}, spy?: (sql: string) => void) {
    const table = uniqueTable();
    tables.push(table);
    const store = h.store({ ...options, table }, spy);
    await store.createSchema();
    return { store, table };
  }
  describe(`${h.name}: SQL store`, () => {
    after(async () => {
      for (const table of tables) await h.exec(`DROP TABLE IF EXISTS ${h.quote(table)}`);
    });

    it('refuses hostile keys and user keys before any statement reaches the server', async () => {
      const sent: string[] = [];
      const { store } = await freshStore({}, (sql) => sent.push(sql));
      sent.length = 0;
      const attempts: (() => Promise<unknown>)[] = [];
      for (const key of HOSTILE_KEYS) {
        attempts.push(
          () => store.get(key),
          () => store.set(key, randomRecord(), later()),
          () => store.delete(key),
          () => store.compareAndSet(key, undefined, randomRecord(), later()),
          () => store.compareAndSet(key, randomRecord(), randomRecord(), later()),
        );
      }
      for (const userKey of HOSTILE_USER_KEYS) {
        attempts.push(
          () => store.set(randomStoreKey(), randomRecord(), { ...later(), userKey }),
          () =>
            store.compareAndSet(randomStoreKey(), undefined, randomRecord(), {
              ...later(),
              userKey,
            }),
          () => store.listByUser(userKey),
          () => store.deleteByUser(userKey),
        );
      }
      for (const attempt of attempts) await assert.rejects(attempt, isKeyRefusal);
      assert.deepEqual(sent, [], 'a statement was sent for a refused key');
    });

    it('refuses hostile table names at construction, before any statement', () => {
      const sent: string[] = [];
      for (const table of HOSTILE_TABLES) {
        assert.throws(() => h.store({ table }, (sql) => sent.push(sql)), ConfigError, table);
        assert.throws(() => h.schema(table), ConfigError, table);
      }
      assert.deepEqual(sent, []);
      for (const client of [undefined, {}, { query: 1, execute: 1 }]) {
        assert.throws(() => h.storeWithClient(client), ConfigError);
      }
      // A timeout of 2^31 ms or more: node's timers would fire after 1 ms.
      for (const bad of [
        { timeoutMs: 0 },
        { timeoutMs: 2 ** 31 },
        { pruneBatchSize: -1 },
        { pruneBatchSize: 1.5 },
      ]) {
        assert.throws(() => h.store(bad), ConfigError);
      }
    });

    it('createSchema is idempotent, and the exported DDL matches it', async () => {
      const { store, table } = await freshStore();
      const key = randomStoreKey();
      await store.set(key, randomRecord(), later());
      await store.createSchema();
      await store.createSchema();
      assert.ok(await store.get(key), 'createSchema lost a row');
      assert.match(h.schema(table), new RegExp(`CREATE TABLE IF NOT EXISTS ${h.quote(table)}`));
      const other = uniqueTable();
      tables.push(other);
      for (const statement of h
        .schema(other)
        .split(';')
        .filter((s) => s.trim())) {
        await h.exec(statement);
        await h.exec(statement);
      }
      const copy = h.store({ table: other });
      await copy.set(key, randomRecord(), later());
      assert.ok(await copy.get(key), 'the exported DDL made a table the store cannot use');
    });

    it('a missing table fails with a StoreError that says to create it', async () => {
      const store = h.store({ table: uniqueTable('pithos_missing') });
      await assert.rejects(
        () => store.get(randomStoreKey()),
        (error: unknown) =>
          error instanceof StoreError &&
          error.store === h.name &&
          /createSchema/.test(error.message) &&
          error.cause !== undefined,
      );
    });

    it('every write bumps the version by one from where the row started', async () => {
      const { store, table } = await freshStore();
      const key = randomStoreKey();
      const version = async () =>
        Number(
          (
            await h.exec(
              `SELECT version FROM ${h.quote(table)} WHERE store_key = ${h.placeholder(1)}`,
              [key],
            )
          )[0]?.version,
        );
      const first = randomRecord();
      assert.ok(await store.compareAndSet(key, undefined, first, later()));
      const start = await version();
      assert.ok(Number.isSafeInteger(start) && start >= 1, `started at ${start}`);
      const second = randomRecord();
      await store.set(key, second, later());
      assert.equal(await version(), start + 1);
      assert.equal(await store.compareAndSet(key, first, randomRecord(), later()), false);
      const third = randomRecord();
      assert.ok(await store.compareAndSet(key, Uint8Array.from(second), third, later()));
      assert.equal(await version(), start + 2, 'compared by bytes');
      assert.ok(await store.compareAndSet(key, third, randomRecord(), later()));
      assert.equal(await version(), start + 3, 'compared by version');
      assert.ok(await store.compareAndSet(key, await store.get(key), first, later()));
      assert.equal(await version(), start + 4, 'compared by the version get read');
      assert.deepEqual(await store.get(key), first);
    });

    it('an expired row counts as absent for create-if-absent, and blocks a compare against it', async () => {
      const { store } = await freshStore();
      const key = randomStoreKey();
      const old = randomRecord();
      await store.set(key, old, { expiresAt: Date.now() - 1_000 });
      assert.equal(await store.compareAndSet(key, old, randomRecord(), later()), false);
      const fresh = randomRecord();
      assert.ok(await store.compareAndSet(key, undefined, fresh, later()));
      assert.deepEqual(await store.get(key), fresh);
    });

    it('prune deletes 5,000 expired rows in bounded batches and keeps live ones', async () => {
      const sent: string[] = [];
      const { store, table } = await freshStore({ pruneBatchSize: 1_000 }, (sql) => sent.push(sql));
      await fillExpired(h, table, 5_000);
      const live = randomStoreKey();
      await store.set(live, randomRecord(), later());
      sent.length = 0;
      assert.equal(await store.prune(), 5_000);
      assert.equal(sent.length, 6, 'five full batches and one that finds the rest empty');
      assert.ok(sent.every((sql) => /LIMIT 1000/.test(sql)));
      assert.equal(await countRows(h, table), 1);
      assert.ok(await store.get(live));
    });

    it('prune from two app instances at once removes each row once', async () => {
      const { table } = await freshStore();
      await fillExpired(h, table, 5_000);
      const [a, b] = [await h.connection(), await h.connection()];
      try {
        const stores = [a, b].map((c) => c.store({ table, pruneBatchSize: 500 }));
        const live = randomStoreKey();
        await stores[0]?.set(live, randomRecord(), later());
        const counts = await Promise.all(stores.map((store) => store.prune()));
        assert.equal(
          counts.reduce((x, y) => x + y, 0),
          5_000,
          `counts ${counts}`,
        );
        assert.equal(await countRows(h, table), 1);
      } finally {
        await a.release();
        await b.release();
      }
    });

    it('compare-and-set has exactly one winner when two connections race on one row', async () => {
      const { table } = await freshStore();
      const [a, b, locker] = [await h.connection(), await h.connection(), await h.connection()];
      const t = h.quote(table);
      try {
        const stores = [a, b].map((c) => c.store({ table }));
        const race = async (expected: Uint8Array | undefined, key: string, hold: string) => {
          // A third connection holds the row (or its key, before it exists) in an open
          // transaction, so both writers block on it and run against the same state on release.
          await locker.exec('BEGIN');
          await locker.exec(hold, [key]);
          const results = Promise.all(
            stores.map((store) => store.compareAndSet(key, expected, randomRecord(), later())),
          );
          await new Promise((resolve) => setTimeout(resolve, 50));
          await locker.exec('ROLLBACK');
          return (await results).filter(Boolean).length;
        };
        const lockRow = `SELECT store_key FROM ${t} WHERE store_key = ${h.placeholder(1)} FOR UPDATE`;
        const lockKey = `INSERT INTO ${t} (store_key, record, expires_at) VALUES (${h.placeholder(1)}, 'x', 0)`;
        for (let round = 0; round < 5; round++) {
          const key = randomStoreKey();
          assert.equal(await race(undefined, key, lockKey), 1, 'create-if-absent');
          const current = await stores[0]?.get(key);
          assert.equal(await race(current, key, lockRow), 1, 'compare against one version');
          await stores[0]?.set(key, randomRecord(), { expiresAt: Date.now() - 1_000 });
          assert.equal(await race(undefined, key, lockRow), 1, 'create over an expired row');
        }
        for (let round = 0; round < 20; round++) {
          const key = randomStoreKey();
          const first = randomRecord();
          await stores[0]?.set(key, first, later());
          const results = await Promise.all(
            stores.map((store) => store.compareAndSet(key, first, randomRecord(), later())),
          );
          assert.equal(results.filter(Boolean).length, 1);
        }
      } finally {
        for (const c of [a, b, locker]) await c.release();
      }
    });

    it('a server that accepts and never answers fails within timeoutMs', async () => {
      const silent = await silentServer();
      const { store, dispose } = h.storeOn(silent.port, { timeoutMs: 300 });
      try {
        for (const run of [() => store.get(randomStoreKey()), () => store.prune()]) {
          const started = performance.now();
          await assert.rejects(
            run,
            (error: unknown) =>
              error instanceof StoreError &&
              error.store === h.name &&
              /timed out/.test(error.message) &&
              (error.cause as Error).name === 'TimeoutError',
          );
          assert.ok(performance.now() - started < 3_000, 'took far longer than the timeout');
        }
      } finally {
        await silent.close();
        await dispose();
      }
    });

    it('driver errors become StoreErrors naming the store and keeping the cause', async () => {
      const { store, dispose } = h.storeOn(1, { timeoutMs: 2_000 });
      try {
        await assert.rejects(
          () => store.set(randomStoreKey(), randomRecord(), later()),
          (error: unknown) =>
            error instanceof PithosError &&
            error.code === 'STORE_FAILED' &&
            (error as StoreError).store === h.name &&
            error.cause !== undefined,
        );
      } finally {
        await dispose();
      }
    });
  });
}
