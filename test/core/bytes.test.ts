import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { fromBase64URL, toBase64URL, toHex } from '../../src/core/bytes.ts';

describe('toHex', () => {
  test('matches Buffer hex for every length the core uses and beyond', () => {
    for (const length of [0, 1, 8, 16, 32, 48, 511, 512, 513, 1500]) {
      const bytes = new Uint8Array(randomBytes(length));
      assert.equal(toHex(bytes), Buffer.from(bytes).toString('hex'), `length ${length}`);
    }
  });

  test('covers every byte value, and calls of different lengths do not mix', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.equal(toHex(all), Buffer.from(all).toString('hex'));
    assert.equal(toHex(Uint8Array.of(0xab)), 'ab');
    assert.equal(toHex(Uint8Array.of(0, 255)), '00ff');
    assert.equal(toHex(Uint8Array.of(0xab)), 'ab');
  });
});

describe('fromBase64URL', () => {
  test('round-trips with toBase64URL and agrees with Buffer', () => {
    for (const length of [0, 3, 48, 96, 300]) {
      const bytes = new Uint8Array(randomBytes(length));
      const text = toBase64URL(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64url'));
      assert.deepEqual(fromBase64URL(text), bytes);
    }
  });

  test('decodes a token sliced out of a longer string', () => {
    const token = toBase64URL(new Uint8Array(randomBytes(48)));
    const header = `a=1; pithos=${token}; b=2`;
    const sliced = header.slice(header.indexOf('=', 4) + 1, header.indexOf(';', 6));
    assert.equal(sliced, token);
    assert.deepEqual(fromBase64URL(sliced), fromBase64URL(token));
  });

  test('refuses anything that is not unpadded base64url, without throwing', () => {
    const valid = toBase64URL(new Uint8Array(randomBytes(48)));
    const replaced = (character: string): string => `${character}${valid.slice(1)}`;
    for (const text of [
      valid.slice(1), // not a multiple of 4
      replaced('+'), // base64, not base64url
      replaced('/'),
      replaced('='),
      replaced(' '),
      replaced('\0'),
      replaced('\u007f'),
      `${valid.slice(0, 62)}\u00e9A`, // Latin-1: 2 bytes of UTF-8
      `${valid.slice(0, 63)}\u0100`, // beyond Latin-1
      `${valid.slice(0, 63)}\ud800`, // a lone surrogate
      `${valid.slice(0, 62)}\ud83d\ude00`, // a pair: 4 bytes of UTF-8 for 2 code units
    ]) {
      assert.equal(fromBase64URL(text), undefined, JSON.stringify(text));
    }
  });

  test('a refused text does not spoil the next decode', () => {
    const bytes = new Uint8Array(randomBytes(48));
    assert.equal(fromBase64URL(`${'A'.repeat(63)}*`), undefined);
    assert.deepEqual(fromBase64URL(toBase64URL(bytes)), bytes);
    assert.equal(fromBase64URL('é'.repeat(400)), undefined);
    assert.deepEqual(fromBase64URL(toBase64URL(bytes)), bytes);
  });
});
