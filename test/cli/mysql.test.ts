/**
 * The `pithos` command on the machine's MariaDB (127.0.0.1:3306, user root, database `test`), in a
 * table of its own. Fails, never skips, when the server is down.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { mysqlStore } from '../../src/stores/mysql.ts';
import { assertExit, assertNothingSecret, pithos, plant, SECRET, unique } from './support.ts';

const pool = mysql.createPool({
  host: '127.0.0.1',
  user: 'root',
  database: 'test',
  connectTimeout: 2_000,
});
const table = unique('pithos_cli');
const url = `mysql://root@127.0.0.1:3306/test?table=${table}`;

after(async () => {
  await pool.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {});
  await pool.end();
  assertNothingSecret(SECRET);
});

describe('the pithos command on MySQL (MariaDB)', () => {
  it('doctor creates the table and passes; stats counts; prune removes the expired', async () => {
    const doctor = await pithos(['doctor', '--store', url, '--create-schema', '--secret', SECRET]);
    assertExit(doctor, 0);
    assert.match(doctor.stdout, /ok {4}schema +created table pithos_cli_\w+ and its indexes/);
    assert.match(doctor.stdout, /ok {4}user index /);
    const store = mysqlStore({ client: pool, table });
    await plant(store, { live: [10, 20], expired: [30, 40] });
    const stats = await pithos(['stats', '--store', url, '--json']);
    assertExit(stats, 0);
    const parsed = JSON.parse(stats.stdout) as Record<string, unknown>;
    assert.deepEqual([parsed.records, parsed.expired, parsed.bytes], [4, 2, 100]);
    const prune = await pithos(['prune', '--store', url]);
    assertExit(prune, 0);
    assert.match(prune.stdout, /^removed 2 expired records from MySQL at 127\.0\.0\.1:3306\/test/);
  });
});
