/**
 * The token and the sealed record: what the cookie and the store hold, and that a record only
 * opens for its own session and deployment, on either crypto path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex, utf8 } from '../../src/core/bytes.ts';
import { cryptoProvider } from '../../src/core/crypto.ts';
import { deriveServerKey } from '../../src/core/keyring.ts';
import { isStoreKey, parseToken } from '../../src/core/token.ts';
import { hasNativeCrypto } from '../../src/index.ts';
import { OTHER_SECRET, SECRET, setup, storedSession, tokenFrom } from './helpers.ts';

const TOKEN = /^[A-Za-z0-9_-]{64}$/;

function sealingKeyID(secret: string): number {
  return deriveServerKey(cryptoProvider('portable'), utf8(secret)).id;
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

describe('token', () => {
  it('is 64 base64url characters whatever the data size', async () => {
    const { manager } = setup();
    const small = await manager.load(undefined);
    small.set('x', '');
    const large = await manager.load(undefined);
    large.set('x', 'y'.repeat(20_000));
    const smallToken = tokenFrom(await manager.commit(small));
    const largeToken = tokenFrom(await manager.commit(large));
    assert.match(smallToken, TOKEN);
    assert.match(largeToken, TOKEN);
    assert.notEqual(smallToken, largeToken);
  });

  it('is different for every new session', async () => {
    const { manager } = setup();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const session = await manager.load(undefined);
      session.set('i', i);
      seen.add(tokenFrom(await manager.commit(session)));
    }
    assert.equal(seen.size, 20);
  });
});

describe('store key and record contents', () => {
  it('indexes by 64 hex digits that are not the token, and leaks no data', async () => {
    const fixture = setup();
    const canary = 'CANARY-7c1d-secret-shopping-list';
    const { token, storeKey } = await storedSession(fixture, { note: canary, n: 424242 });
    assert.match(storeKey, /^[0-9a-f]{64}$/);
    const tokenBytes = Buffer.from(token, 'base64url');
    assert.equal(tokenBytes.length, 48);
    const id = tokenBytes.subarray(0, 16);
    assert.ok(!storeKey.includes(token));
    assert.ok(!storeKey.includes(toHex(id)), 'the store key is not the raw ID');
    for (const { key, record } of fixture.store.written) {
      const dump = Buffer.concat([Buffer.from(key), Buffer.from(record)]);
      for (const secret of [token, canary, '424242', toHex(id)]) {
        assert.ok(!dump.includes(secret), `the store holds ${secret}`);
      }
      assert.ok(!includesBytes(record, id), 'the record holds the raw ID');
      assert.ok(!includesBytes(record, tokenBytes.subarray(16)), 'the record holds the key');
    }
  });

  it('writes version 1 and the sealing key id in the header', async () => {
    const fixture = setup();
    await storedSession(fixture, { a: 1 });
    const { record } = fixture.store.written.at(-1) ?? assert.fail('no record written');
    assert.equal(record[0], 1);
    const keyID = new DataView(record.buffer, record.byteOffset, record.length).getUint32(1);
    assert.equal(keyID, sealingKeyID(SECRET));
    assert.notEqual(keyID, sealingKeyID(OTHER_SECRET));
  });

  it('opens only for its own session', async () => {
    const fixture = setup();
    const a = await storedSession(fixture, { owner: 'a' });
    const b = await storedSession(fixture, { owner: 'b' });
    const recordA = await fixture.memory.get(a.storeKey);
    assert.ok(recordA);
    await fixture.memory.set(b.storeKey, recordA, { expiresAt: fixture.clock.now + 60_000 });
    fixture.store.resetCounts();
    const loaded = await fixture.manager.load(b.cookie);
    assert.equal(loaded.isNew, true);
    assert.equal(loaded.get('owner'), undefined);
    assert.equal(fixture.eventsOf('rejected').at(-1)?.reason, 'tampered');
    assert.equal(fixture.store.writes(), 0);
    assert.equal((await fixture.manager.load(a.cookie)).get('owner'), 'a');
  });

  it('opens for no other ID, even one carrying the same key part', async () => {
    const fixture = setup();
    const a = await storedSession(fixture, { owner: 'a' });
    const forged = Buffer.from(a.token, 'base64url');
    forged[0] = (forged[0] as number) ^ 0xff;
    const forgedToken = forged.toString('base64url');
    const forgedKey = parseToken(cryptoProvider('portable'), forgedToken)?.storeKey;
    assert.ok(forgedKey && forgedKey !== a.storeKey);
    const recordA = (await fixture.memory.get(a.storeKey)) ?? assert.fail('no record');
    await fixture.memory.set(forgedKey, recordA, { expiresAt: fixture.clock.now + 60_000 });
    const loaded = await fixture.manager.load(`__Host-pithos=${forgedToken}`);
    assert.equal(loaded.isNew, true);
    assert.equal(fixture.eventsOf('rejected').at(-1)?.reason, 'tampered');
  });

  it('opens only for its own deployment', async () => {
    const ours = setup();
    const { cookie } = await storedSession(ours, { owner: 'ours' });
    const theirs = setup({ secret: OTHER_SECRET, memory: ours.memory, fakeClock: ours.clock });
    const loaded = await theirs.manager.load(cookie);
    assert.equal(loaded.isNew, true);
    assert.equal(loaded.size, 0);
    assert.equal(theirs.eventsOf('rejected')[0]?.reason, 'unknown-secret');
    assert.equal(theirs.store.writes(), 0);
    assert.equal((await ours.manager.load(cookie)).get('owner'), 'ours');
  });
});

describe('crypto paths', () => {
  it('reports which implementation is in use', () => {
    assert.equal(setup({ crypto: 'portable' }).manager.cryptoName, 'portable');
    assert.equal(setup().manager.cryptoName, hasNativeCrypto() ? 'native' : 'portable');
  });

  it('native and portable managers read each other’s sessions', async (t) => {
    if (!hasNativeCrypto()) return t.skip('sodium-native is not installed');
    const native = setup({ crypto: 'native' });
    const portable = setup({ crypto: 'portable', memory: native.memory, fakeClock: native.clock });
    const fromNative = await storedSession(native, { by: 'native', list: [1, 2, 3] });
    const fromPortable = await storedSession(portable, { by: 'portable' });

    const seenByPortable = await portable.manager.load(fromNative.cookie);
    assert.equal(seenByPortable.isNew, false);
    assert.deepEqual(seenByPortable.get('list'), [1, 2, 3]);
    seenByPortable.set('by', 'both');
    await portable.manager.commit(seenByPortable);

    const seenByNative = await native.manager.load(fromNative.cookie);
    assert.equal(seenByNative.get('by'), 'both');
    assert.equal((await native.manager.load(fromPortable.cookie)).get('by'), 'portable');
    assert.equal(native.eventsOf('rejected').length + portable.eventsOf('rejected').length, 0);
  });
});

describe('isStoreKey', () => {
  const valid = '0123456789abcdef'.repeat(4);

  it('accepts 64 lower-case hex digits', () => {
    assert.equal(isStoreKey(valid), true);
    assert.equal(isStoreKey(toHex(new Uint8Array(32).fill(255))), true);
  });

  it('refuses every other character, length and type', () => {
    for (const bad of ['/', ':', '@', 'A', 'F', 'G', '`', 'g', 'z', '~', ' ', '\0', 'é']) {
      assert.equal(isStoreKey(bad + valid.slice(1)), false, JSON.stringify(bad));
      assert.equal(isStoreKey(valid.slice(0, 63) + bad), false, JSON.stringify(bad));
    }
    assert.equal(isStoreKey(valid.slice(1)), false);
    assert.equal(isStoreKey(`${valid}0`), false);
    assert.equal(isStoreKey(`${'../'.repeat(21)}a`), false);
    assert.equal(isStoreKey(undefined), false);
    assert.equal(isStoreKey(42), false);
  });
});

describe('the reused seal and open buffers', () => {
  it('keep every session its own data across sizes, interleaved', async () => {
    // Up to past the 1 MiB the reused buffer grows to, where a payload gets its own buffer.
    const { manager } = setup({ maxDataBytes: 4_000_000 });
    const sizes = [10, 5000, 100, 70_000, 600_000, 3];
    const cookies: string[] = [];
    for (const size of sizes) {
      const session = await manager.load(undefined);
      session.set('x', 'é'.repeat(size));
      const setCookie = await manager.commit(session);
      cookies.push(setCookie?.split(';')[0] ?? '');
    }
    for (const [index, size] of [...sizes.entries()].reverse()) {
      const session = await manager.load(cookies[index]);
      assert.equal(session.get('x'), 'é'.repeat(size));
    }
  });
});
