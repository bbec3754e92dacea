/**
 * The `pithos` command on a real SQLite file (better-sqlite3, or node:sqlite where better-sqlite3
 * was built for another Node version), next to a store the test writes to.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SQLiteStore, sqliteStore } from '../../src/stores/sqlite.ts';
import { drivers, type OpenDatabase } from '../stores/sqlite-support.ts';
import {
  assertExit,
  assertNothingSecret,
  logIn,
  OTHER_SECRET,
  pithos,
  plant,
  SECRET,
  userOf,
} from './support.ts';

const dir = await mkdtemp(join(tmpdir(), 'pithos-cli-sqlite-'));
const file = join(dir, 'sessions.db');
const url = `sqlite://${file}?table=app_sessions`;
let database: OpenDatabase;
let store: SQLiteStore;

before(async () => {
  const doctor = await pithos(['doctor', '--store', url, '--create-schema']);
  assertExit(doctor, 0);
  const driver = drivers.find((candidate) => candidate.skip === undefined);
  assert.ok(driver, 'no SQLite driver loads on this Node version');
  database = driver.open(file);
  database.exec('PRAGMA busy_timeout = 5000');
  store = sqliteStore({ database, table: 'app_sessions' });
});

after(async () => {
  database?.close();
  await rm(dir, { recursive: true, force: true });
  assertNothingSecret(SECRET, OTHER_SECRET);
});

/** Empties the table between tests. */
function clear(): void {
  database.prepare('DELETE FROM app_sessions').run();
}

describe('pithos doctor on SQLite', () => {
  it('refuses a file that does not exist, and creates it with --create-schema', async () => {
    const missing = join(dir, 'new', 'other.db');
    const refused = await pithos(['doctor', '--store', `sqlite://${missing}`]);
    assertExit(refused, 1);
    assert.match(refused.stdout, /FAIL {2}connect +there is no SQLite database at .*other\.db/);
    assert.ok(!existsSync(missing), 'doctor created the file without --create-schema');
    const created = await pithos(['doctor', '--store', `sqlite://${missing}`, '--create-schema']);
    assertExit(created, 0);
    assert.match(created.stdout, /ok {4}schema +created table pithos_sessions and its indexes/);
  });

  it('fails on a missing table without --create-schema', async () => {
    const run = await pithos(['doctor', '--store', `sqlite://${file}?table=not_there`]);
    assertExit(run, 1);
    assert.match(run.stdout, /FAIL {2}schema +table not_there does not exist: add --create-schema/);
    assert.match(run.stdout, /^unhealthy: 1 check\(s\) failed$/m);
  });

  it('passes on the healthy store, with the app secret, and leaves nothing behind', async () => {
    clear();
    const run = await pithos(['doctor', '--store', url], { env: { PITHOS_SECRET: SECRET } });
    assertExit(run, 0);
    assert.match(run.stdout, /^pithos doctor: SQLite at .*sessions\.db, table app_sessions$/m);
    assert.match(run.stdout, /ok {4}schema +table app_sessions has every column/);
    assert.match(run.stdout, /ok {4}round trip /);
    assert.match(run.stdout, /ok {4}user index /);
    assert.match(run.stdout, /info {2}stats +yes/);
    assert.equal((await store.stats()).records, 0);
  });
});

describe('pithos prune and stats on SQLite', () => {
  it('stats counts records, expired records and bytes', async () => {
    clear();
    await plant(store, { live: [40, 50, 60], expired: [70, 80] });
    const json = await pithos(['stats', '--store', url, '--json']);
    assertExit(json, 0);
    assert.deepEqual(JSON.parse(json.stdout), {
      store: 'sqlite',
      label: `SQLite at ${file}, table app_sessions`,
      records: 5,
      expired: 2,
      bytes: 300,
    });
    const human = await pithos(['stats', '--store', url]);
    assertExit(human, 0);
    assert.match(human.stdout, /^records {2}5$/m);
    assert.match(human.stdout, /^expired {2}2 \(removed by pithos prune\)$/m);
    assert.match(human.stdout, /^bytes {4}300 bytes$/m);
  });

  it('prune removes exactly the expired records and prints how many', async () => {
    clear();
    await plant(store, { live: [64, 64], expired: [64, 64, 64, 64] });
    const run = await pithos(['prune', '--store', url]);
    assertExit(run, 0);
    assert.match(run.stdout, /^removed 4 expired records from SQLite at .* in \d+\.\d s$/m);
    assert.deepEqual(await store.stats(), { records: 2, expired: 0, bytes: 128 });
    const again = await pithos(['prune', '--store', url]);
    assert.match(again.stdout, /^removed 0 expired records/);
  });

  it('prune and stats refuse a missing table with a hint', async () => {
    for (const command of ['prune', 'stats']) {
      const run = await pithos([command, '--store', `sqlite://${file}?table=not_there`]);
      assertExit(run, 1);
      assert.match(run.stderr, /table not_there does not exist .*pithos doctor --create-schema/);
    }
  });
});

describe('pithos revoke on SQLite', () => {
  it('ends every session of one user, and only theirs', async () => {
    clear();
    const alice = await logIn(store, 'alice', 2);
    const [bob] = await logIn(store, 'bob', 1);
    const dry = await pithos(['revoke', '--store', url, '--user', 'alice', '--dry-run'], {
      env: { PITHOS_SECRET: SECRET },
    });
    assertExit(dry, 0);
    assert.match(dry.stdout, /^user "alice" has 2 live session\(s\)/);
    assert.match(dry.stdout, /last seen .* {2}Firefox on Linux$/m);
    const run = await pithos(['revoke', '--store', url, '--user', 'alice', '--secret', SECRET]);
    assertExit(run, 0);
    assert.match(run.stdout, /^ended 2 session\(s\) of user "alice" in SQLite at /);
    for (const cookie of alice) assert.equal(await userOf(store, cookie), undefined);
    assert.equal(await userOf(store, bob as string), 'bob');
  });

  it('finds nothing under another secret, and says what to check', async () => {
    clear();
    const [cookie] = await logIn(store, 'carol', 1);
    const run = await pithos([
      'revoke',
      '--store',
      url,
      '--user',
      'carol',
      '--secret',
      OTHER_SECRET,
    ]);
    assertExit(run, 0);
    assert.match(run.stdout, /^ended 0 session\(s\)/);
    assert.match(run.stderr, /check .*the secret is the app's/);
    assert.equal(await userOf(store, cookie as string), 'carol');
  });
});
