/**
 * The MySQL store against the MariaDB on 127.0.0.1:3306 (database `test`), each run in its own
 * table, plus a dedicated MariaDB for the outage test. Fails, never skips, when the server is
 * missing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { type MySQLClient, mysqlSchema, mysqlStore } from '../../src/stores/mysql.ts';
import type { SQLValue } from '../../src/stores/sql-dialect.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import { randomRecord, randomStoreKey } from '../../src/testing/support.ts';
import { startMySQLInstance } from './mysql-instance.ts';
import { renderRows, type Spy, type SQLHarness, uniqueTable } from './sql-support.ts';
import { describeSQLStoreTests } from './sql-tests.ts';
import { describeVersionTests } from './sql-version-tests.ts';

const ignore = (): void => {};
const settings = { host: '127.0.0.1', user: 'root', database: 'test', connectTimeout: 2_000 };

function newPool(port = 3306, connectionLimit = 10): mysql.Pool {
  return mysql.createPool({ ...settings, port, connectionLimit });
}

const pool = newPool();
const table = uniqueTable();
type Rows = Record<string, unknown>[];

// The shared table is made on first use, not in a before hook: when the server is missing, each
// test then fails with the connection error.
let schema: Promise<void> | undefined;
function sharedStore() {
  schema ??= mysqlStore({ client: pool, table }).createSchema();
  return schema.then(() => mysqlStore({ client: pool, table }));
}

// The dedicated server for the outage test starts now, while the other tests run.
const instance = startMySQLInstance();
instance.catch(ignore); // reported by the outage test, which awaits it
const owned = new WeakMap<object, mysql.Pool>();
// One hook: a hook that throws stops the ones after it, and every step here must run.
after(async () => {
  try {
    await (await instance.catch(() => undefined))?.destroy();
  } finally {
    try {
      if (schema) await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
    } finally {
      await pool.end();
    }
  }
});

describeStoreConformance('mysql', {
  createStore: sharedStore,
  dump: async () => renderRows((await pool.query(`SELECT * FROM \`${table}\``))[0] as Rows),
  outage: {
    async createStore() {
      const own = newPool((await instance).port, 4);
      const store = mysqlStore({ client: own, table, timeoutMs: 2_000 });
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

function spying(client: MySQLClient, spy?: Spy): MySQLClient {
  if (spy === undefined) return client;
  return {
    execute(sql, values) {
      spy(sql, values);
      return client.execute(sql, values);
    },
  };
}

const harness: SQLHarness = {
  name: 'mysql',
  store: (options, spy) => mysqlStore({ ...options, client: spying(pool, spy) }),
  schema: mysqlSchema,
  storeWithClient: (client) => mysqlStore({ client: client as MySQLClient }),
  exec: async (sql, values) => {
    const [rows] = await pool.query(sql, values);
    return Array.isArray(rows) ? (rows as Rows) : [];
  },
  placeholder: () => '?',
  quote: (name) => `\`${name}\``,
  async connection() {
    const connection = await pool.getConnection();
    return {
      store: (options) => mysqlStore({ ...options, client: connection }),
      exec: async (sql, values) => {
        const [rows] = await connection.query(sql, values);
        return Array.isArray(rows) ? (rows as Rows) : [];
      },
      release: async () => connection.release(),
    };
  },
  storeOn(port, options) {
    const own = mysql.createPool({ ...settings, port, connectionLimit: 2, connectTimeout: 1_000 });
    return {
      store: mysqlStore({ ...options, client: own }),
      dispose: () => own.end().catch(ignore), // its connections were cut
    };
  },
};

describeSQLStoreTests(harness);
describeVersionTests(harness);

describe('mysql: clients and DDL', () => {
  it('takes a single mysql2/promise connection, and close() leaves it open', async () => {
    await sharedStore(); // the shared table exists
    const connection = await mysql.createConnection({ ...settings, port: 3306 });
    try {
      const store = mysqlStore({ client: connection, table });
      const key = randomStoreKey();
      const record = randomRecord();
      await store.set(key, record, { expiresAt: Date.now() + 60_000 });
      assert.deepEqual(await store.get(key), record);
      await store.close();
      await connection.query('SELECT 1');
      await store.delete(key);
    } finally {
      await connection.end();
    }
  });

  it('refuses a callback-style client with a StoreError that says what to pass', async () => {
    const callbackPool = mysql.createPool({ ...settings, port: 3306 }).pool;
    try {
      const store = mysqlStore({ client: callbackPool as unknown as MySQLClient, table });
      await assert.rejects(() => store.get(randomStoreKey()), /mysql2\/promise|failed/);
    } finally {
      await new Promise((resolve) => callbackPool.end(resolve));
    }
  });

  it('exports MariaDB-compatible DDL: LONGBLOB, ASCII keys, inline indexes', () => {
    const ddl = mysqlSchema('app.sessions');
    assert.match(ddl, /CREATE TABLE IF NOT EXISTS `app`\.`sessions`/);
    assert.match(ddl, /record\s+LONGBLOB\s+NOT NULL/);
    assert.match(ddl, /CHAR\(64\)\s+CHARACTER SET ascii COLLATE ascii_bin/);
    assert.match(ddl, /KEY `sessions_expires_at` \(expires_at\)/);
    assert.doesNotMatch(ddl, /CREATE INDEX/, 'MySQL has no CREATE INDEX IF NOT EXISTS');
  });

  it('finds rows through an index in every statement, on a table of 10,000 rows', async () => {
    const own = uniqueTable();
    const sent: [string, SQLValue[]][] = [];
    const client: MySQLClient = {
      execute(sql, values) {
        sent.push([sql, values]);
        return pool.execute(sql, values);
      },
    };
    const store = mysqlStore({ client, table: own });
    await store.createSchema();
    try {
      const digits =
        '(SELECT 0 i UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 ' +
        'UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 ' +
        'UNION ALL SELECT 8 UNION ALL SELECT 9)';
      await pool.query(
        `INSERT INTO \`${own}\` (store_key, record, expires_at) ` +
          'SELECT SHA2(n, 256), 0x00, n FROM (SELECT a.i * 1000 + b.i * 100 + c.i * 10 + d.i AS n ' +
          `FROM ${digits} a, ${digits} b, ${digits} c, ${digits} d) numbers`,
      );
      await pool.query(`ANALYZE TABLE \`${own}\``);
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
      // that covers half the table. Numbers are sent as DOUBLE by prepared statements: the
      // index must serve them too.
      await mysqlStore({ client, table: own, clock: () => 0 }).prune();
      const prune = sent.at(-1);
      if (prune) prune[1] = [5_000];
      for (const [sql, values] of sent) {
        const [plan] = await pool.execute(`EXPLAIN ${sql}`, values);
        for (const step of plan as Rows) {
          // A primary key lookup that finds no row is planned as "impossible" and names no key.
          const byConstKey = /const table/.test(String(step.Extra));
          assert.ok(step.key || byConstKey, `${sql}: ${JSON.stringify(step)}`);
          assert.notEqual(step.type, 'ALL', `${sql}: ${JSON.stringify(step)}`);
        }
      }
      assert.equal(sent.length, 7);
      assert.match(sent[1]?.[0] ?? '', /AND version = /);
    } finally {
      await pool.query(`DROP TABLE \`${own}\``);
    }
  });
});
