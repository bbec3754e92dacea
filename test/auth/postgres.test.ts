// The auth suite against the machine's PostgreSQL (127.0.0.1:5432, database test), in a table of
// its own.
import { after } from 'node:test';
import pg from 'pg';
import { postgresStore } from '../../src/stores/postgres.ts';
import { renderRows, uniqueTable } from '../stores/sql-support.ts';
import { describeAuth } from './suite.ts';

const pool = new pg.Pool({
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  database: 'test',
  max: 4,
});
const table = uniqueTable('pithos_auth');
const schemaReady = postgresStore({ client: pool, table }).createSchema();
after(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.end();
});

describeAuth('postgres', {
  createStore: async () => {
    await schemaReady;
    return postgresStore({ client: pool, table });
  },
  dump: async () => renderRows((await pool.query(`SELECT * FROM ${table}`)).rows),
});
