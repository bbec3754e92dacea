/** The dialect table's helpers that need no server: reading `version` back from any driver. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstVersion, versionOf } from '../../src/stores/sql-dialect.ts';

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
