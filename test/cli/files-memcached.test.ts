/**
 * The `pithos` command on the file store (a temporary directory) and on the machine's memcached
 * (127.0.0.1:11211, from scripts/services.sh), the store that cannot list keys. Fails, never
 * skips, when memcached is down.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileStore } from '../../src/stores/fs.ts';
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

const dir = await mkdtemp(join(tmpdir(), 'pithos-cli-fs-'));
after(async () => {
  await rm(dir, { recursive: true, force: true });
  assertNothingSecret(SECRET);
});

describe('the pithos command on the file store', () => {
  const directory = join(dir, 'sessions');
  const url = `file://${directory}`;

  it('doctor refuses a directory that holds no store, and makes one with --create-schema', async () => {
    const refused = await pithos(['doctor', '--store', url]);
    assertExit(refused, 1);
    assert.match(refused.stdout, /FAIL {2}connect +there is no file store in .*sessions/);
    assert.ok(!existsSync(directory));
    const created = await pithos(['doctor', '--store', url, '--create-schema', '--secret', SECRET]);
    assertExit(created, 0);
    assert.match(created.stdout, /^pithos doctor: files in .*sessions$/m);
    assert.match(created.stdout, /ok {4}user index /);
  });

  it('stats counts files, expired ones and bytes; prune removes the expired ones', async () => {
    const store = fileStore({ directory });
    await plant(store, { live: [100, 100], expired: [100, 100, 100] });
    const stats = await pithos(['stats', '--store', url, '--json']);
    assertExit(stats, 0);
    // Each file holds a 10-byte header before the sealed record.
    assert.deepEqual(JSON.parse(stats.stdout), {
      store: 'fs',
      label: `files in ${directory}`,
      records: 5,
      expired: 3,
      bytes: 550,
    });
    const prune = await pithos(['prune', '--store', url]);
    assertExit(prune, 0);
    assert.match(prune.stdout, /^removed 3 expired records from files in .* in \d+\.\d s$/m);
    assert.deepEqual(await store.stats(), { records: 2, expired: 0, bytes: 220 });
  });

  it('revoke ends a user’s sessions', async () => {
    const store = fileStore({ directory });
    const cookies = await logIn(store, 'ivy', 2);
    const run = await pithos(['revoke', '--store', url, '--user', 'ivy', '--secret', SECRET]);
    assertExit(run, 0);
    assert.match(run.stdout, /^ended 2 session\(s\) of user "ivy"/);
    for (const cookie of cookies) assert.equal(await userOf(store, cookie), undefined);
  });
});

describe('the pithos command on memcached', () => {
  const url = `memcached://127.0.0.1:11211?prefix=${unique('pithos-cli-test')}:`;

  it('doctor passes and says there is no per-user index', async () => {
    const run = await pithos(['doctor', '--store', url]);
    assertExit(run, 0);
    assert.match(run.stdout, /ok {4}round trip /);
    assert.doesNotMatch(run.stdout, / user index /);
    assert.match(run.stdout, /info {2}per-user index +no: pithos revoke and the device list/);
    assert.match(run.stdout, /info {2}stats +no: pithos stats cannot tell/);
  });

  it('stats says plainly that memcached cannot tell, and exits 0', async () => {
    const human = await pithos(['stats', '--store', url]);
    assertExit(human, 0);
    assert.match(human.stdout, /^records {2}cannot tell: memcached cannot list its keys/m);
    const json = await pithos(['stats', '--store', url, '--json']);
    assertExit(json, 0);
    const parsed = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.deepEqual([parsed.records, parsed.expired, parsed.bytes], [null, null, null]);
  });

  it('prune says memcached expires records itself, and exits 0', async () => {
    const run = await pithos(['prune', '--store', url]);
    assertExit(run, 0);
    assert.match(run.stdout, /^nothing to prune: memcached removes each record .*\(memcached at /);
  });

  it('revoke fails with exit 1 and says what to do instead', async () => {
    const run = await pithos(['revoke', '--store', url, '--user', 'jo'], {
      env: { PITHOS_SECRET: SECRET },
    });
    assertExit(run, 1);
    assert.match(run.stderr, /the memcached store has no per-user index/);
    assert.match(run.stderr, /End them with a checkvalue instead/);
    assert.equal(run.stdout, '');
  });
});
