/**
 * Compare-and-set by version, written once for every SQL dialect (PostgreSQL, MySQL, SQLite): a
 * record object the store read or wrote is compared by its `version`, without sending its bytes;
 * any other object falls back to comparing bytes. Each test makes its own table.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { SQLStoreOptions } from '../../src/stores/sql.ts';
import type { SQLValue } from '../../src/stores/sql-dialect.ts';
import { randomRecord, randomStoreKey } from '../../src/testing/support.ts';
import { type Spy, type SQLHarness, uniqueTable } from './sql-support.ts';

/** What the version tests need of a dialect's harness. */
export type VersionHarness = Pick<SQLHarness, 'store' | 'exec' | 'placeholder' | 'quote'> & {
  name: string;
};

const later = () => ({ expiresAt: Date.now() + 3_600_000 });

/** The statements a store sent, with their values. */
function recorder(): { sent: [string, readonly SQLValue[]][]; spy: Spy } {
  const sent: [string, readonly SQLValue[]][] = [];
  return { sent, spy: (sql, values) => sent.push([sql, values]) };
}

/** How many bytes of records one statement sent. */
function recordBytes(values: readonly SQLValue[]): number {
  return values.reduce<number>((sum, v) => sum + (v instanceof Uint8Array ? v.length : 0), 0);
}

/** Registers the version tests for one dialect. */
export function describeVersionTests(h: VersionHarness): void {
  const tables: string[] = [];
  async function freshStore(options: SQLStoreOptions = {}, spy?: Spy) {
    const table = uniqueTable();
    tables.push(table);
    const store = h.store({ ...options, table }, spy);
    await store.createSchema();
    return { store, table, other: h.store({ ...options, table }) };
  }
  async function versionIn(table: string, key: string): Promise<number> {
    const sql = `SELECT version FROM ${h.quote(table)} WHERE store_key = ${h.placeholder(1)}`;
    return Number((await h.exec(sql, [key]))[0]?.version);
  }

  describe(`${h.name}: compare-and-set by version`, () => {
    after(async () => {
      for (const table of tables) await h.exec(`DROP TABLE IF EXISTS ${h.quote(table)}`);
    });

    it('the record get returned, then the record it wrote, are compared by version alone', async () => {
      const { sent, spy } = recorder();
      const { store } = await freshStore({}, spy);
      const key = randomStoreKey();
      await store.set(key, randomRecord(), later());
      let expected = await store.get(key);
      for (let step = 0; step < 3; step++) {
        sent.length = 0;
        const next = randomRecord(300);
        assert.ok(await store.compareAndSet(key, expected, next, later()), `step ${step}`);
        assert.equal(sent.length, 1, 'one statement');
        const [sql, values] = sent[0] ?? ['', []];
        assert.match(sql, /^UPDATE .* AND version = /);
        assert.equal(recordBytes(values), 300, 'only the new record went over the wire');
        expected = next;
      }
      assert.deepEqual(await store.get(key), expected);
    });

    it('a copy of the bytes (another object) still works, by comparing bytes', async () => {
      const { sent, spy } = recorder();
      const { store } = await freshStore({}, spy);
      const key = randomStoreKey();
      await store.set(key, randomRecord(), later());
      const copy = Uint8Array.from((await store.get(key)) ?? []);
      sent.length = 0;
      assert.equal(await store.compareAndSet(key, randomRecord(), randomRecord(), later()), false);
      const next = randomRecord();
      assert.ok(await store.compareAndSet(key, copy, next, later()));
      assert.ok(sent.every(([sql]) => /AND record = /.test(sql)));
      assert.equal(recordBytes(sent[1]?.[1] ?? []), copy.length + next.length);
      assert.deepEqual(await store.get(key), next);
    });

    it('another writer rewriting byte-identical content fails a stale compare (ABA)', async () => {
      const { store, other } = await freshStore();
      const key = randomStoreKey();
      const first = randomRecord();
      assert.ok(await store.compareAndSet(key, undefined, first, later()));
      await other.set(key, Uint8Array.from(first), later()); // same bytes, a newer version
      assert.equal(await store.compareAndSet(key, first, randomRecord(), later()), false, 'wrote');
      const read = await store.get(key);
      await other.set(key, Uint8Array.from(read ?? []), later());
      assert.equal(await store.compareAndSet(key, read, randomRecord(), later()), false, 'read');
      // Bytes alone cannot tell: a copy of those same bytes still matches.
      const next = randomRecord();
      assert.ok(await store.compareAndSet(key, Uint8Array.from(first), next, later()));
      assert.deepEqual(await store.get(key), next);
    });

    it('a record deleted and created again under its key never matches a stale read', async () => {
      const { store, other, table } = await freshStore();
      const key = randomStoreKey();
      assert.ok(await store.compareAndSet(key, undefined, randomRecord(), later()));
      const read = await store.get(key); // at the version the row was created with
      const created = await versionIn(table, key);
      await other.delete(key);
      assert.ok(await other.compareAndSet(key, undefined, randomRecord(), later()));
      assert.notEqual(await versionIn(table, key), created, 'a new row repeated a version');
      assert.equal(await store.compareAndSet(key, read, randomRecord(), later()), false);
    });

    it('a remembered version is used only with the key it was read under', async () => {
      const { store, table } = await freshStore();
      const [a, b] = [randomStoreKey(), randomStoreKey()];
      await store.set(a, randomRecord(), later());
      await store.set(b, randomRecord(), later());
      const fromA = (await store.get(a)) as Uint8Array;
      // b's row at a's version, with other bytes: only the bytes may decide for b.
      const t = h.quote(table);
      const p = h.placeholder;
      await h.exec(`UPDATE ${t} SET version = ${p(1)} WHERE store_key = ${p(2)}`, [
        await versionIn(table, a),
        b,
      ]);
      assert.equal(await store.compareAndSet(b, fromA, randomRecord(), later()), false);
      await store.set(b, Uint8Array.from(fromA), later());
      assert.ok(await store.compareAndSet(b, fromA, randomRecord(), later()), 'same bytes on b');
      assert.ok(await store.compareAndSet(a, fromA, randomRecord(), later()), 'a is unchanged');
    });

    it('a record written again by set still matches, whether or not its version came back', async () => {
      const { store } = await freshStore();
      const key = randomStoreKey();
      const record = randomRecord();
      assert.ok(await store.compareAndSet(key, undefined, record, later()));
      await store.set(key, record, later()); // the same object: the version it knew is stale
      const next = randomRecord();
      assert.ok(await store.compareAndSet(key, record, next, later()));
      // The record it replaced no longer matches; the one it wrote does.
      assert.equal(await store.compareAndSet(key, record, randomRecord(), later()), false);
      assert.ok(await store.compareAndSet(key, next, randomRecord(), later()));
    });

    it('a record read before it expired fails once it has', async () => {
      const clock = { now: Date.now() };
      const { store } = await freshStore({ clock: () => clock.now });
      const key = randomStoreKey();
      await store.set(key, randomRecord(), { expiresAt: clock.now + 1_000 });
      const read = await store.get(key);
      clock.now += 1_000;
      assert.equal(await store.compareAndSet(key, read, randomRecord(), later()), false);
      assert.equal(await store.get(key), undefined);
    });
  });
}
