/**
 * The PostgreSQL store against the server on 127.0.0.1:5432 (database `test`), each run in its
 * own table, plus a dedicated server for the outage test. Fails, never skips, when the server is
 * missing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { type PostgresClient, postgresSchema, postgresStore } from '../../src/stores/postgres.ts';
import type { SQLStoreOptions } from '../../src/stores/sql.ts';
import type { SQLValue } from '../../src/stores/sql-dialect.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import { randomRecord, randomStoreKey } from '../../src/testing/support.ts';
import { startPostgresInstance } from './postgres-instance.ts';
import { renderRows, type Spy, type SQLHarness, uniqueTable } from './sql-support.ts';
import { describeSQLStoreTests } from './sql-tests.ts';
import { describeVersionTests } from './sql-version-tests.ts';

const ignore = (): void => {};
const settings = {
  host: '127.0.0.1',
  user: process.env.PGUSER ?? 'postgres',
  database: 'test',
  connectionTimeoutMillis: 2_000,
  query_timeout: 5_000,
};

function newPool(port = 5432, max = 10): pg.Pool {
  const pool = new pg.Pool({ ...settings, port, max });
  pool.on('error', ignore); // idle connections dropped by a stopped server
  return pool;
}

const pool = newPool();
const table = uniqueTable();
/** The table of the contract run again with named prepared statements. */
const preparedTable = uniqueTable();

// The shared tables are made on first use, not in a before hook: when the server is missing, each
// test then fails with the connection error.
let schema: Promise<void> | undefined;
function sharedStore() {
  schema ??= postgresStore({ client: pool, table }).createSchema();
  return schema.then(() => postgresStore({ client: pool, table }));
}
let preparedSchema: Promise<void> | undefined;
function preparedStore() {
  preparedSchema ??= postgresStore({ client: pool, table: preparedTable }).createSchema();
  return preparedSchema.then(() =>
    postgresStore({ client: pool, table: preparedTable, prepare: true }),
  );
}

// The dedicated server for the outage test starts now, while the other tests run.
const instance = startPostgresInstance();
instance.catch(ignore); // reported by the outage test, which awaits it
const owned = new WeakMap<object, pg.Pool>();
// One hook: a hook that throws stops the ones after it, and every step here must run.
after(async () => {
  try {
    await (await instance.catch(() => undefined))?.destroy();
  } finally {
    try {
      if (schema) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      if (preparedSchema) await pool.query(`DROP TABLE IF EXISTS "${preparedTable}"`);
    } finally {
      await pool.end();
    }
  }
});

describeStoreConformance('postgres', {
  createStore: sharedStore,
  dump: async () => renderRows((await pool.query(`SELECT * FROM "${table}"`)).rows),
  outage: {
    async createStore() {
      const { port } = await instance;
      const own = new pg.Pool({
        ...settings,
        user: 'postgres',
        database: 'postgres',
        port,
        max: 4,
      });
      own.on('error', ignore);
      const store = postgresStore({ client: own, table, timeoutMs: 2_000 });
      await store.createSchema();
      owned.set(store, own);
      return store;
    },
    async closeStore(store) {
      await owned.get(store)?.end();
    },
    stop: async () => (await instance).stop(),
    start: async () => (await instance).start(),
    failWithinMs: 3_000,
  },
});

function spying(client: PostgresClient, spy?: Spy): PostgresClient {
  if (spy === undefined) return client;
  return {
    query(text, values) {
      spy(text, values);
      return client.query(text, values);
    },
  };
}

const harness: SQLHarness = {
  name: 'postgres',
  store: (options: SQLStoreOptions, spy) =>
    postgresStore({ ...options, client: spying(pool, spy) }),
  schema: postgresSchema,
  storeWithClient: (client) => postgresStore({ client: client as PostgresClient }),
  exec: async (sql, values) => (await pool.query(sql, values)).rows,
  placeholder: (index) => `$${index}`,
  quote: (name) => `"${name}"`,
  async connection() {
    const client = await pool.connect();
    return {
      store: (options) => postgresStore({ ...options, client }),
      exec: async (sql, values) => (await client.query(sql, values)).rows,
      release: async () => client.release(),
    };
  },
  storeOn(port, options) {
    const own = newPool(port, 2);
    return { store: postgresStore({ ...options, client: own }), dispose: () => own.end() };
  },
};

describeSQLStoreTests(harness);
describeVersionTests(harness);

describe('postgres: clients', () => {
  it('takes a pg Client as well as a Pool', async () => {
    await sharedStore(); // the shared table exists
    const client = new pg.Client({ ...settings, port: 5432 });
    await client.connect();
    try {
      const store = postgresStore({ client, table });
      const key = randomStoreKey();
      const record = randomRecord();
      await store.set(key, record, { expiresAt: Date.now() + 60_000 });
      assert.deepEqual(await store.get(key), record);
      await store.close();
      assert.equal(
        (await client.query('SELECT 1 AS one')).rows[0]?.one,
        1,
        'close() ended the client',
      );
      await store.delete(key);
    } finally {
      await client.end();
    }
  });

  it('finds rows through an index in every statement, on a table of 20,000 rows', async () => {
    const own = uniqueTable();
    const sent: [string, SQLValue[]][] = [];
    const client: PostgresClient = {
      query(text, values) {
        sent.push([text, values]);
        return pool.query(text, values);
      },
    };
    const store = postgresStore({ client, table: own });
    await store.createSchema();
    try {
      await pool.query(
        `INSERT INTO "${own}" (store_key, record, expires_at) SELECT ` +
          `encode(sha256(i::text::bytea), 'hex'), '\\x00', i FROM generate_series(1, 20000) i`,
      );
      await pool.query(`ANALYZE "${own}"`);
      const [key, userKey] = [randomStoreKey(), randomStoreKey()];
      const hour = { expiresAt: Date.now() + 3_600_000 };
      await store.set(key, randomRecord(), hour);
      sent.length = 0;
      const read = await store.get(key);
      await store.compareAndSet(key, read, randomRecord(), hour); // by version
      await store.compareAndSet(key, randomRecord(), randomRecord(), hour); // by bytes
      await store.listByUser(userKey);
      await store.deleteByUser(userKey);
      await store.delete(key);
      // A clock at 0 finds nothing to prune, but sends the statement; explain it with a cut-off
      // that covers half the table.
      await postgresStore({ client, table: own, clock: () => 0 }).prune();
      const prune = sent.at(-1);
      if (prune) prune[1] = [10_000];
      for (const [text, values] of sent) {
        const plan = (await pool.query(`EXPLAIN ${text}`, values)).rows
          .map((row) => row['QUERY PLAN'])
          .join('\n');
        assert.doesNotMatch(plan, /Seq Scan/, `${text}\n${plan}`);
      }
      assert.equal(sent.length, 7);
      assert.match(sent[1]?.[0] ?? '', /AND version = /);
    } finally {
      await pool.query(`DROP TABLE "${own}"`);
    }
  });

  it('exports DDL with bytea, bigint milliseconds and both indexes', () => {
    const ddl = postgresSchema('auth.sessions');
    assert.match(ddl, /CREATE TABLE IF NOT EXISTS "auth"\."sessions"/);
    assert.match(ddl, /record\s+BYTEA\s+NOT NULL/);
    assert.match(ddl, /expires_at\s+BIGINT\s+NOT NULL/);
    assert.match(ddl, /CREATE INDEX IF NOT EXISTS "sessions_expires_at"/);
    assert.match(ddl, /CREATE INDEX IF NOT EXISTS "sessions_user_key"/);
    assert.match(postgresSchema(), /"pithos_sessions"/);
  });
});

// The whole contract again with named prepared statements, on a table of its own.
describeStoreConformance('postgres (prepare: true)', {
  createStore: preparedStore,
  dump: async () => renderRows((await pool.query(`SELECT * FROM "${preparedTable}"`)).rows),
});

describe('postgres: prepared statements', () => {
  /** A pool that records what each call sent: a named statement, or text and values. */
  function recording() {
    const calls: { name?: string; text: string }[] = [];
    const client = {
      query(
        query: string | { name: string; text: string; values: SQLValue[] },
        values?: SQLValue[],
      ) {
        if (typeof query === 'string') {
          calls.push({ text: query });
          return pool.query(query, values);
        }
        calls.push({ name: query.name, text: query.text });
        return pool.query(query);
      },
    };
    return { calls, client: client as unknown as PostgresClient };
  }

  it('names every statement that has values, one name per text, and leaves the DDL unnamed', async () => {
    const own = uniqueTable();
    const { calls, client } = recording();
    const store = postgresStore({ client, table: own, prepare: true });
    await store.createSchema();
    try {
      assert.ok(calls.length > 0 && calls.every((call) => call.name === undefined), 'DDL unnamed');
      calls.length = 0;
      const key = randomStoreKey();
      const hour = { expiresAt: Date.now() + 3_600_000 };
      for (let i = 0; i < 2; i++) {
        await store.set(key, randomRecord(), hour);
        const read = await store.get(key);
        assert.ok(await store.compareAndSet(key, read, randomRecord(), hour));
      }
      await store.delete(key);
      assert.equal(await store.get(key), undefined);
      assert.equal(calls.length, 8);
      const nameOf = new Map<string, string>();
      for (const call of calls) {
        assert.match(call.name ?? '', /^pithos_[0-9a-f]{32}$/, call.text);
        assert.equal(nameOf.get(call.text) ?? call.name, call.name, 'one name per text');
        nameOf.set(call.text, call.name as string);
      }
      assert.equal(new Set(nameOf.values()).size, nameOf.size, 'one text per name');
    } finally {
      await pool.query(`DROP TABLE IF EXISTS "${own}"`);
    }
  });

  it('keeps stores on two tables of one pool apart: their statements get different names', async () => {
    const tables = [uniqueTable(), uniqueTable()];
    const stores = tables.map((own) => postgresStore({ client: pool, table: own, prepare: true }));
    try {
      for (const store of stores) await store.createSchema();
      const key = randomStoreKey();
      const records = [randomRecord(), randomRecord()];
      const hour = { expiresAt: Date.now() + 3_600_000 };
      // Every pooled connection sees both stores' statements: a shared name with another text
      // would make pg refuse the second.
      for (let i = 0; i < 20; i++) {
        await Promise.all(
          stores.map((store, index) => store.set(key, records[index] as Uint8Array, hour)),
        );
        const read = await Promise.all(stores.map((store) => store.get(key)));
        assert.deepEqual(read, records);
      }
    } finally {
      for (const own of tables) await pool.query(`DROP TABLE IF EXISTS "${own}"`);
    }
  });

  it('refuses a prepare option that is not a boolean', () => {
    assert.throws(
      () => postgresStore({ client: pool, prepare: 'yes' as unknown as boolean }),
      (error: unknown) => error instanceof Error && error.name === 'ConfigError',
    );
  });
});

describe('postgres: compare-and-set over an expired row that another instance prunes', () => {
  const raceTable = uniqueTable();
  after(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${raceTable}"`);
  });

  it('still creates the record when the expired row vanishes before its own delete', async () => {
    let clock = Date.now();
    // Another instance's prune, landing between this writer's failed insert and its delete of
    // the expired row.
    let pruneFirst = false;
    const client: PostgresClient = {
      async query(text: string, values?: SQLValue[]) {
        if (pruneFirst && text.startsWith('DELETE') && text.includes('expires_at <=')) {
          pruneFirst = false;
          await pool.query(`DELETE FROM "${raceTable}" WHERE expires_at <= $1`, [clock]);
        }
        return pool.query(text, values);
      },
    };
    const store = postgresStore({ client, table: raceTable, clock: () => clock });
    await store.createSchema();
    const key = randomStoreKey();
    await store.set(key, randomRecord(), { expiresAt: clock + 1_000 });
    clock += 2_000;
    pruneFirst = true;
    const record = randomRecord();
    assert.equal(
      await store.compareAndSet(key, undefined, record, { expiresAt: clock + 60_000 }),
      true,
    );
    assert.equal(pruneFirst, false, 'the prune ran where intended');
    assert.deepEqual(await store.get(key), record);
  });

  it('accepts a clock that is not a whole number of milliseconds', async () => {
    const store = postgresStore({ client: pool, table: raceTable, clock: () => Date.now() + 0.5 });
    const key = randomStoreKey();
    const record = randomRecord();
    await store.set(key, record, { expiresAt: Date.now() + 60_000 });
    assert.deepEqual(await store.get(key), record);
  });
});

describe('postgres: createSchema from several instances starting at once', () => {
  it('succeeds in every instance (PostgreSQL checks IF NOT EXISTS before it locks)', async () => {
    const pools = Array.from({ length: 4 }, () => newPool(5432, 1));
    const failures: string[] = [];
    try {
      for (let round = 0; round < 15; round++) {
        const name = uniqueTable();
        const results = await Promise.allSettled(
          pools.map((client) => postgresStore({ client, table: name }).createSchema()),
        );
        for (const result of results) {
          if (result.status === 'rejected') failures.push(String(result.reason?.cause?.code));
        }
        const store = postgresStore({ client: pool, table: name });
        const key = randomStoreKey();
        await store.set(key, randomRecord(), { expiresAt: Date.now() + 60_000 });
        assert.ok(await store.get(key), 'the table works');
        await pool.query(`DROP TABLE IF EXISTS "${name}"`);
      }
    } finally {
      await Promise.all(pools.map((client) => client.end()));
    }
    assert.deepEqual(failures, []);
  });
});
