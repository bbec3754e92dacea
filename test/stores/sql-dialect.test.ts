/**
 * What the SQL stores do without a server: reading `version` back from any driver, and the retry
 * policy of a statement rolled back on a deadlock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreError } from '../../src/core/errors.ts';
import { postgresStore } from '../../src/stores/postgres.ts';
import { firstVersion, versionOf } from '../../src/stores/sql-dialect.ts';
import { randomStoreKey } from '../../src/testing/support.ts';

describe('versionOf', () => {
  it('reads a version as numbers, decimal strings or bigints come back from the drivers', () => {
    assert.equal(versionOf(42), 42);
    assert.equal(versionOf('42'), 42);
    assert.equal(versionOf(42n), 42);
    assert.equal(versionOf('4503599627370497'), 4503599627370497);
    assert.equal(versionOf(0), 0);
  });

  it('refuses anything that is not a whole number a double holds exactly', () => {
    for (const value of [
      '',
      '-1',
      '1.5',
      ' 1',
      '1e3',
      '0x10',
      '12345678901234567', // 17 digits
      '9999999999999999', // 16 digits, past 2^53
      -1,
      1.5,
      Number.NaN,
      2 ** 53,
      -1n,
      null,
      undefined,
      {},
      [7],
    ]) {
      assert.equal(versionOf(value), undefined, String(value));
    }
  });
});

describe('firstVersion', () => {
  it('starts rows at a random whole number that versionOf reads back and that leaves room to grow', () => {
    const drawn = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const version = firstVersion();
      assert.equal(versionOf(version), version);
      assert.ok(version >= 1 && version <= 2 ** 52, String(version));
      drawn.add(version);
    }
    assert.ok(drawn.size > 95, 'versions repeat far too often to be random');
  });
});

describe('a statement that PostgreSQL rolls back on a deadlock', () => {
  // Deadlocks cannot be produced on demand against a real server, so a client that answers with
  // PostgreSQL's deadlock_detected stands in for it here; the real servers are in postgres.test.ts.
  const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
  const client = (failures: number, error: Error = deadlock) => {
    let calls = 0;
    return {
      get calls() {
        return calls;
      },
      async query() {
        calls++;
        if (calls <= failures) throw error;
        return { rows: [], rowCount: 0 };
      },
    };
  };

  it('runs again, up to three times in all, and then succeeds', async () => {
    const fake = client(2);
    const store = postgresStore({ client: fake, clock: () => 0 });
    assert.equal(await store.get(randomStoreKey()), undefined);
    assert.equal(fake.calls, 3);
  });

  it('fails with a StoreError keeping the cause after the third try', async () => {
    const fake = client(3);
    const store = postgresStore({ client: fake });
    await assert.rejects(store.get(randomStoreKey()), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.store, 'postgres');
      assert.equal(error.cause, deadlock);
      return true;
    });
    assert.equal(fake.calls, 3);
  });

  it('does not run again on an error that is not a deadlock', async () => {
    const fake = client(1, Object.assign(new Error('syntax error'), { code: '42601' }));
    const store = postgresStore({ client: fake });
    await assert.rejects(store.get(randomStoreKey()), StoreError);
    assert.equal(fake.calls, 1);
  });

  it('turns a client that throws instead of rejecting into a StoreError', async () => {
    const store = postgresStore({
      client: {
        query() {
          throw new TypeError('not connected');
        },
      },
    });
    await assert.rejects(store.get(randomStoreKey()), StoreError);
  });
});
