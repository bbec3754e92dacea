/**
 * Known-answer tests for the byte format described in `docs/FORMAT.md`.
 *
 * The expected values below were computed once, outside pithos, by calling libsodium
 * (sodium-native's `crypto_generichash` and `crypto_secretbox_easy`) directly on the inputs, and
 * the BLAKE2b values were checked again with Python's `hashlib.blake2b`. They are hard-coded here
 * so that any change to the format, on either crypto path, fails these tests.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBase64URL, toBase64URL, toHex, utf8 } from '../../src/core/bytes.ts';
import { type CryptoProvider, cryptoProvider } from '../../src/core/crypto.ts';
import { createKeyring, deriveServerKey } from '../../src/core/keyring.ts';
import {
  encodePayload,
  expiresAt,
  type OpenedRecord,
  openRecord,
  type RecordMeta,
  sealRecord,
} from '../../src/core/record.ts';
import {
  deriveSessionKey,
  generateToken,
  parseToken,
  sessionHandle,
  type Token,
} from '../../src/core/token.ts';

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/** Fixed inputs. */
const SECRET = 'pithos-test-vector-secret-0123456789abcdef';
const TOKEN_BYTES = Uint8Array.from({ length: 48 }, (_, i) => i);
const NONCE = Uint8Array.from({ length: 24 }, (_, i) => 0xa0 + i);
const META: RecordMeta = {
  c: 1_767_225_600_000, // 2026-01-01T00:00:00Z
  t: 1_767_229_200_000, // one hour later
  i: 86_400,
  x: 1_769_817_600_000, // c + 30 days
  ip: '203.0.113.7',
};
const DATA = { visits: 3, name: 'Zoë', cart: ['apple', 'pear'] };
const PAYLOAD_JSON =
  '{"m":{"c":1767225600000,"t":1767229200000,"i":86400,"x":1769817600000,"ip":"203.0.113.7"},' +
  '"d":{"visits":3,"name":"Zoë","cart":["apple","pear"]}}';

/** Expected outputs. */
const COOKIE = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v';
const MASTER = 'c5cecaf855b58425b0d2f582e8e17edc1ec9b1b1460b65b80eab0fefe46317f8';
const KEY_ID = 0x7f67010c; // 2137456908
const STORE_KEY = '2d0702c74502bb885b05efffc8170861f71bc6c494e9df3f2e569a3cbb454ac5';
const SESSION_KEY = '1e60a16d4106ffde9998b675e036be00f1000f78c99fb4c4996af7681101aac6';
const HANDLE = 'c6e57bed4096459c2ea11127509ee50a';
const PAYLOAD_HEX =
  '7b226d223a7b2263223a313736373232353630303030302c2274223a313736373232393230303030302c2269223a' +
  '38363430302c2278223a313736393831373630303030302c226970223a223230332e302e3131332e37227d2c2264' +
  '223a7b22766973697473223a332c226e616d65223a225a6fc3ab222c2263617274223a5b226170706c65222c2270' +
  '656172225d7d7d';
const RECORD =
  '01' + // format version
  '7f67010c' + // key id, big-endian
  'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7' + // nonce
  'c5d1cd76c774fff2f2497b17bc3d7759' + // Poly1305 tag
  'ec8703c33ab6801c369ffa03dc0e94630ab8540c30fd52844ec5e9b32b63f262fffd8d0d0c2fa8f3e61b02daf427' +
  '60f9d713e9b8e2814943e5e7c31db26ad938778b95e7ebdfa33357f9615a0601c3b1d55b28ff4357ef9a6770b125' +
  '1ac7dd89ae925b2000d767436e7a0d43e4f07a44f8338d1f629a30649ca6d4b919432d5185e6bcb0218230f6bad1' +
  '486273d703c3bc';

/** A provider whose random bytes are the fixed nonce. */
function withFixedNonce(crypto: CryptoProvider): CryptoProvider {
  return {
    ...crypto,
    randomBytes() {
      assert.fail('sealRecord fills its nonce in place');
    },
    randomFill(target) {
      assert.equal(target.length, 24, 'sealRecord asks for exactly one 24-byte nonce');
      target.set(NONCE);
    },
  };
}

function vectorToken(crypto: CryptoProvider): Token {
  const token = parseToken(crypto, COOKIE);
  assert.ok(token, 'the vector cookie parses');
  return token;
}

function assertOpened(result: OpenedRecord | string): OpenedRecord {
  assert.ok(typeof result !== 'string', `the record should open, got ${String(result)}`);
  return result;
}

test('the fixed inputs are what the vectors say', () => {
  assert.equal(utf8(SECRET).length, 42);
  assert.equal(toBase64URL(TOKEN_BYTES), COOKIE);
  assert.equal(toHex(encodePayload(META, DATA)), PAYLOAD_HEX);
  assert.equal(toHex(utf8(PAYLOAD_JSON)), PAYLOAD_HEX);
  assert.equal(RECORD.length / 2, 29 + 16 + PAYLOAD_HEX.length / 2);
  assert.equal(expiresAt(META), 1_767_315_600_000, 'min(t + i * 1000, x)');
});

for (const name of ['native', 'portable'] as const) {
  describe(`known-answer vectors (${name})`, () => {
    const crypto = cryptoProvider(name);
    const keyring = createKeyring(crypto, { secret: SECRET });

    test('uses the implementation it names', () => {
      assert.equal(crypto.name, name);
    });

    test('server key: master and key id', () => {
      const key = deriveServerKey(crypto, utf8(SECRET));
      assert.equal(toHex(key.master), MASTER);
      assert.equal(key.id, KEY_ID);
      assert.equal(keyring.sealing.id, KEY_ID);
      assert.equal(toHex(keyring.sealing.master), MASTER);
      assert.equal(toHex(deriveServerKey(crypto, Uint8Array.from(utf8(SECRET))).master), MASTER);
    });

    test('token: store key and token key from the cookie value', () => {
      const token = vectorToken(crypto);
      assert.equal(token.value, COOKIE);
      assert.equal(toHex(token.key), toHex(TOKEN_BYTES.subarray(16)));
      assert.equal(token.storeKey, STORE_KEY);
      assert.equal(toHex(token.storeKeyBytes), STORE_KEY);
    });

    test('session key and handle', () => {
      const token = vectorToken(crypto);
      assert.equal(toHex(deriveSessionKey(crypto, keyring.sealing, token)), SESSION_KEY);
      assert.equal(sessionHandle(crypto, keyring.sealing, token), HANDLE);
    });

    test('sealed record, byte for byte', () => {
      const record = sealRecord(
        withFixedNonce(crypto),
        keyring.sealing,
        fromHex(SESSION_KEY),
        utf8(PAYLOAD_JSON),
      );
      assert.equal(toHex(record), RECORD);
    });

    test('the raw secretbox opens to the payload', () => {
      const box = fromHex(RECORD).subarray(29);
      const payload = crypto.open(box, NONCE, fromHex(SESSION_KEY));
      assert.ok(payload);
      assert.equal(toHex(payload), PAYLOAD_HEX);
    });

    test('openRecord on the vector gives back the metadata and data', () => {
      const opened = assertOpened(
        openRecord(crypto, keyring, vectorToken(crypto), fromHex(RECORD)),
      );
      assert.deepEqual(opened.meta, META);
      assert.deepEqual(opened.data, DATA);
      assert.equal(opened.serverKey.id, KEY_ID);
      assert.equal(toHex(opened.sessionKey), SESSION_KEY);
    });

    test('openRecord reads a record that does not start at offset 0 of its buffer', () => {
      const padded = new Uint8Array(7 + RECORD.length / 2);
      padded.set(fromHex(RECORD), 7);
      const opened = assertOpened(
        openRecord(crypto, keyring, vectorToken(crypto), padded.subarray(7)),
      );
      assert.deepEqual(opened.data, DATA);
    });

    test('flipping any single byte of the record makes it fail, without throwing', () => {
      const token = vectorToken(crypto);
      const original = fromHex(RECORD);
      for (let index = 0; index < original.length; index++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const record = original.slice();
          record[index] = (record[index] as number) ^ mask;
          const expected = index === 0 ? 'version' : index < 5 ? 'unknown-secret' : 'tampered';
          assert.equal(
            openRecord(crypto, keyring, token, record),
            expected,
            `byte ${index} ^ ${mask}`,
          );
        }
      }
    });

    test('truncated and extended records fail, without throwing', () => {
      const token = vectorToken(crypto);
      const original = fromHex(RECORD);
      for (let length = 0; length < original.length; length++) {
        assert.equal(openRecord(crypto, keyring, token, original.slice(0, length)), 'tampered');
      }
      const longer = new Uint8Array(original.length + 1);
      longer.set(original);
      assert.equal(openRecord(crypto, keyring, token, longer), 'tampered');
    });

    test('the vector opens only for its own token and deployment', () => {
      const record = fromHex(RECORD);
      const otherBytes = TOKEN_BYTES.slice();
      otherBytes[47] = (otherBytes[47] as number) ^ 1; // same ID, other token key
      const otherKey = parseToken(crypto, toBase64URL(otherBytes));
      assert.ok(otherKey);
      assert.equal(otherKey.storeKey, STORE_KEY);
      assert.equal(openRecord(crypto, keyring, otherKey, record), 'tampered');

      const otherSecret = createKeyring(crypto, { secret: `${SECRET}-other` });
      assert.equal(openRecord(crypto, otherSecret, vectorToken(crypto), record), 'unknown-secret');

      // After a rotation the old key still opens its records, by key id.
      const rotated = createKeyring(crypto, { secrets: [`${SECRET}-new`, SECRET] });
      const opened = assertOpened(openRecord(crypto, rotated, vectorToken(crypto), record));
      assert.equal(opened.serverKey.id, KEY_ID);
      assert.notEqual(rotated.sealing.id, KEY_ID);
    });

    test('a sealed record that is not a valid payload is corrupt, not thrown', () => {
      const token = vectorToken(crypto);
      const sessionKey = fromHex(SESSION_KEY);
      const payloads = [
        '',
        'not json',
        '[]',
        '{"m":{},"d":{}}',
        '{"m":{"c":1,"t":1,"i":1,"x":1},"d":[]}',
        '{"m":{"c":1,"t":1,"i":"1","x":1},"d":{}}',
        '{"m":{"c":1,"t":1,"i":1,"x":1,"ip":7},"d":{}}',
        '{"m":{"c":1,"t":1,"i":1,"x":1,"f":[]},"d":{}}',
        '{"m":{"c":1,"t":1,"i":1,"x":1,"s":"0"},"d":{}}',
      ].map(utf8);
      payloads.push(Uint8Array.of(0xff, 0xfe)); // invalid UTF-8
      for (const payload of payloads) {
        const record = sealRecord(crypto, keyring.sealing, sessionKey, payload);
        assert.equal(openRecord(crypto, keyring, token, record), 'corrupt', toHex(payload));
      }
    });
  });
}

test('native and portable open each other’s records', () => {
  const native = cryptoProvider('native');
  const portable = cryptoProvider('portable');
  for (const [sealer, opener] of [
    [native, portable],
    [portable, native],
  ] as const) {
    const keyring = createKeyring(sealer, { secret: SECRET });
    const token = generateToken(sealer);
    const record = sealRecord(
      sealer,
      keyring.sealing,
      deriveSessionKey(sealer, keyring.sealing, token),
      encodePayload(META, DATA),
    );
    const parsed = parseToken(opener, token.value);
    assert.ok(parsed);
    const opened = assertOpened(
      openRecord(opener, createKeyring(opener, { secret: SECRET }), parsed, record),
    );
    assert.deepEqual(opened.data, DATA);
  }
});

describe('tokens from cookie values', () => {
  const crypto = cryptoProvider('portable');

  test('a generated token is 64 base64url characters that parse back to the same store key', () => {
    const token = generateToken(crypto);
    assert.match(token.value, /^[A-Za-z0-9_-]{64}$/);
    assert.equal(parseToken(crypto, token.value)?.storeKey, token.storeKey);
  });

  test('malformed cookie values give no token, without throwing', () => {
    const values = [
      '',
      COOKIE.slice(1),
      `${COOKIE}A`,
      `${COOKIE.slice(0, 63)}=`,
      `${COOKIE.slice(0, 63)}+`,
      `${COOKIE.slice(0, 63)}/`,
      `${COOKIE.slice(0, 63)}.`,
      `${COOKIE.slice(0, 63)} `,
      `${COOKIE.slice(0, 63)}é`,
      `${COOKIE.slice(0, 62)}😀`,
      `${COOKIE.slice(0, 63)}\u0000`,
      Buffer.alloc(48, 0xfb).toString('base64'), // standard base64 ('+', '/') of 48 bytes
    ];
    for (const value of values) assert.equal(parseToken(crypto, value), undefined, value);
  });
});

describe('base64url', () => {
  test('matches Node’s encoder and round trips', () => {
    const all = Uint8Array.from({ length: 258 }, (_, i) => i % 256);
    for (let length = 0; length <= all.length; length += 3) {
      const bytes = all.subarray(all.length - length);
      const text = toBase64URL(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64url'));
      const back = fromBase64URL(text);
      assert.ok(back);
      assert.equal(toHex(back), toHex(bytes));
    }
    assert.equal(toHex(fromBase64URL(COOKIE) ?? new Uint8Array()), toHex(TOKEN_BYTES));
  });

  test('rejects bad input with undefined, never by throwing', () => {
    const bad = [
      'A',
      'AA',
      'AAA',
      'AAAAA',
      'AA==',
      'AAA=',
      'AB+/',
      'AB.C',
      'AB C',
      'ABC\n',
      'ABCé',
      'AB😀',
      'ABC\u0000',
      'ABC\u0100',
      'ABC\uffff',
      'ABC\ud800',
    ];
    for (const text of bad) assert.equal(fromBase64URL(text), undefined, JSON.stringify(text));
  });
});

describe('payload text', () => {
  test('is the JSON of {m, d} for every shape of metadata', () => {
    const metas: RecordMeta[] = [
      { c: 1, t: 2, i: 3, x: 4 },
      { c: 1_767_225_600_000, t: 1_767_229_200_001, i: 1.5, x: 1e21, ip: '::1' },
      { c: 0, t: -0, i: 600, x: 9, u: { id: 'ü"\\', p: true }, f: { notice: ['a', { b: null }] } },
      { c: 5, t: 6, i: 7, x: 8, ip: '10.0.0.1', u: 'user', f: {} },
      { c: 5, t: 60_006, i: 7, x: 8, s: 6 },
    ];
    for (const meta of metas) {
      const data = { a: 1, b: 'é\u2028', c: [true, null] };
      assert.equal(
        new TextDecoder().decode(encodePayload(meta, data)),
        JSON.stringify({ m: meta, d: data }),
      );
    }
  });
});
