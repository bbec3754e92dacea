/**
 * The `pithos` command on the machine's PostgreSQL (127.0.0.1:5432, trust authentication,
 * database `test`), in tables of its own. The URL carries a password (ignored under trust) that
 * no output may show. Fails, never skips, when the server is down.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { type PostgresStore, postgresStore } from '../../src/stores/postgres.ts';
import {
  assertExit,
  assertNothingSecret,
  logIn,
  pithos,
  plant,
  SECRET,
  unique,
  userOf,
} from './support.ts';

const PASSWORD = 'pg-url-password-never-shown-7Yt3';
const user = process.env.PGUSER ?? 'postgres';
const pool = new pg.Pool({
  host: '127.0.0.1',
  user,
  database: 'test',
  connectionTimeoutMillis: 2_000,
});
pool.on('error', () => {});
const tables: string[] = [];

function urlOf(table: string, port = 5432): string {
  return `postgres://${user}:${PASSWORD}@127.0.0.1:${port}/test?table=${table}`;
}

/** A new table, created through the command, and a store on it. */
async function freshTable(): Promise<{ store: PostgresStore; url: string; table: string }> {
  const table = unique('pithos_cli');
  tables.push(table);
  const url = urlOf(table);
  assertExit(await pithos(['doctor', '--store', url, '--create-schema']), 0);
  return { store: postgresStore({ client: pool, table }), url, table };
}

after(async () => {
  for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {});
  await pool.end();
  assertNothingSecret(SECRET, PASSWORD);
});

describe('pithos doctor on PostgreSQL', () => {
  it('fails on a missing table, creates it with --create-schema, then passes', async () => {
    const table = unique('pithos_cli');
    tables.push(table);
    const missing = await pithos(['doctor', '--store', urlOf(table)]);
    assertExit(missing, 1);
    assert.match(missing.stdout, /ok {4}connect +postgres answered a lookup of table/);
    assert.match(missing.stdout, /FAIL {2}schema +table pithos_cli_\w+ does not exist/);
    const created = await pithos(['doctor', '--store', urlOf(table), '--create-schema']);
    assertExit(created, 0);
    assert.match(created.stdout, /ok {4}schema +created table /);
    const healthy = await pithos(['doctor', '--store', urlOf(table), '--secret', SECRET]);
    assertExit(healthy, 0);
    assert.match(healthy.stdout, /^pithos doctor: PostgreSQL at 127\.0\.0\.1:5432\/test, table /m);
    for (const check of ['schema', 'secret', 'round trip', 'user index']) {
      assert.match(healthy.stdout, new RegExp(`^  ok {4}${check} `, 'm'));
    }
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${table}"`);
    assert.equal(rows[0].n, 0, 'doctor left rows behind');
  });

  it('fails clearly and quickly when the server is not there', async () => {
    const run = await pithos(['doctor', '--store', urlOf('pithos_sessions', 1)]);
    assertExit(run, 1);
    assert.match(
      run.stdout,
      /FAIL {2}connect +postgres store: cannot reach PostgreSQL at 127\.0\.0\.1:1\/test/,
    );
    assert.ok(run.ms < 5_000, `doctor took ${Math.round(run.ms)} ms`);
  });
});

describe('pithos prune and stats on PostgreSQL', () => {
  it('stats counts records, expired records and bytes', async () => {
    const { store, url, table } = await freshTable();
    await plant(store, { live: [100, 200], expired: [300] });
    const run = await pithos(['stats', '--store', url, '--json']);
    assertExit(run, 0);
    assert.deepEqual(JSON.parse(run.stdout), {
      store: 'postgres',
      label: `PostgreSQL at 127.0.0.1:5432/test, table ${table}`,
      records: 3,
      expired: 1,
      bytes: 600,
    });
  });

  it('prune removes the planted expired records and prints how many', async () => {
    const { store, url } = await freshTable();
    await plant(store, { live: [64, 64, 64], expired: Array.from({ length: 25 }, () => 64) });
    const run = await pithos(['prune', '--store', url]);
    assertExit(run, 0);
    assert.match(run.stdout, /^removed 25 expired records from PostgreSQL at /);
    assert.deepEqual(await store.stats(), { records: 3, expired: 0, bytes: 192 });
  });
});

describe('pithos revoke on PostgreSQL', () => {
  it('ends every session of one user, and only theirs', async () => {
    const { store, url } = await freshTable();
    const gina = await logIn(store, 'gina', 2);
    const [hal] = await logIn(store, 'hal', 1);
    const run = await pithos(['revoke', '--store', url, '--user', 'gina', '--secret', SECRET]);
    assertExit(run, 0);
    assert.match(run.stdout, /^ended 2 session\(s\) of user "gina" in PostgreSQL at /);
    for (const cookie of gina) assert.equal(await userOf(store, cookie), undefined);
    assert.equal(await userOf(store, hal as string), 'hal');
  });
});
