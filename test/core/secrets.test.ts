/** Server secrets: validation at construction, and rotation without logging anyone out. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../src/core/bytes.ts';
import { cryptoProvider } from '../../src/core/crypto.ts';
import { deriveServerKey } from '../../src/core/keyring.ts';
import { ConfigError, createSessionManager, type Secret } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import { OTHER_SECRET, SECRET, setup, storedSession } from './helpers.ts';

const HOW_TO = /openssl rand|pithos keygen/;

function keyIDOf(record: Uint8Array): number {
  return new DataView(record.buffer, record.byteOffset, record.length).getUint32(1);
}

function idOfSecret(secret: string): number {
  return deriveServerKey(cryptoProvider('portable'), utf8(secret)).id;
}

function construct(options: { secret?: Secret; secrets?: (Secret | undefined)[] }): void {
  createSessionManager({ store: memoryStore(), ...options });
}

function assertConfigError(
  run: () => void,
  code: 'SECRET_WEAK' | 'CONFIG_INVALID',
  message?: RegExp,
): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, 'expected a ConfigError');
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('secret validation', () => {
  it('refuses a secret shorter than 32 bytes', () => {
    assertConfigError(() => construct({ secret: 'k3Y-9x!q' }), 'SECRET_WEAK', HOW_TO);
    assertConfigError(() => construct({ secret: SECRET.slice(0, 31) }), 'SECRET_WEAK', HOW_TO);
    assertConfigError(
      () => construct({ secret: new Uint8Array(31).map((_, i) => i) }),
      'SECRET_WEAK',
      HOW_TO,
    );
  });

  it('accepts 32 bytes of key material, as a string or as bytes', () => {
    construct({ secret: SECRET.slice(0, 32) });
    construct({ secret: new Uint8Array(32).map((_, i) => i * 7) });
  });

  it('refuses one repeated byte', () => {
    assertConfigError(() => construct({ secret: 'a'.repeat(64) }), 'SECRET_WEAK', HOW_TO);
    assertConfigError(() => construct({ secret: new Uint8Array(48) }), 'SECRET_WEAK', HOW_TO);
  });

  it('refuses a missing secret, as from an unset environment variable', () => {
    assertConfigError(() => construct({ secrets: [undefined] }), 'SECRET_WEAK', HOW_TO);
    assertConfigError(() => construct({ secrets: [SECRET, undefined] }), 'SECRET_WEAK', HOW_TO);
    assertConfigError(() => construct({ secret: '' }), 'SECRET_WEAK', HOW_TO);
    assertConfigError(() => construct({}), 'CONFIG_INVALID', HOW_TO);
    assertConfigError(() => construct({ secrets: [] }), 'CONFIG_INVALID', HOW_TO);
  });

  it('refuses one repeated character even when its UTF-8 bytes differ', () => {
    assertConfigError(() => construct({ secret: 'é'.repeat(16) }), 'SECRET_WEAK', HOW_TO);
    assertConfigError(() => construct({ secret: '😀'.repeat(8) }), 'SECRET_WEAK', HOW_TO);
  });

  it('refuses `secrets` given as a string instead of an array, without echoing it', () => {
    assert.throws(
      () => construct({ secrets: SECRET as never }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /must be an array/.test(error.message) &&
        !error.message.includes(SECRET),
    );
  });

  it('refuses `secret` and `secrets` together, and duplicates', () => {
    assertConfigError(
      () => construct({ secret: SECRET, secrets: [OTHER_SECRET] }),
      'CONFIG_INVALID',
      /either `secret` or `secrets`/,
    );
    assertConfigError(() => construct({ secrets: [SECRET, SECRET] }), 'CONFIG_INVALID');
  });

  it('never puts the secret in the message', () => {
    const short = 'Zq8-short-secret';
    assert.throws(
      () => construct({ secret: short }),
      (error: Error) => !error.message.includes(short),
    );
  });
});

describe('rotation', () => {
  it('opens a record sealed under an old secret and reseals it under the new one', async () => {
    const old = setup({ secret: OTHER_SECRET });
    const { cookie, storeKey } = await storedSession(old, { visits: 1 });
    assert.equal(
      keyIDOf((await old.memory.get(storeKey)) ?? new Uint8Array(5)),
      idOfSecret(OTHER_SECRET),
    );

    const rotated = setup({
      secrets: [SECRET, OTHER_SECRET],
      memory: old.memory,
      fakeClock: old.clock,
    });
    const session = await rotated.manager.load(cookie);
    assert.equal(session.isNew, false);
    assert.equal(session.get('visits'), 1);
    assert.equal(rotated.eventsOf('rotated').length, 0, 'no reseal before a write');
    session.set('visits', 2);
    await rotated.manager.commit(session);

    const record = await old.memory.get(storeKey);
    assert.ok(record);
    assert.equal(keyIDOf(record), idOfSecret(SECRET));
    assert.deepEqual(
      rotated.eventsOf('rotated').map((event) => event.cause),
      ['secret'],
    );
    assert.equal((await rotated.manager.load(cookie)).get('visits'), 2);
  });

  it('no longer opens it once the old secret is removed', async () => {
    const old = setup({ secret: OTHER_SECRET });
    const { cookie, storeKey } = await storedSession(old, { visits: 1 });
    const current = setup({ secrets: [SECRET], memory: old.memory, fakeClock: old.clock });
    const session = await current.manager.load(cookie);
    assert.equal(session.isNew, true);
    assert.equal(session.get('visits'), undefined);
    assert.equal(current.eventsOf('rejected')[0]?.reason, 'unknown-secret');
    assert.equal(current.store.writes(), 0);
    assert.ok(await old.memory.get(storeKey), 'the record is left alone');
  });

  it('keeps sealing with the first secret only', async () => {
    const fixture = setup({ secrets: [SECRET, OTHER_SECRET] });
    const { storeKey } = await storedSession(fixture, { a: 1 });
    const record = await fixture.memory.get(storeKey);
    assert.ok(record);
    assert.equal(keyIDOf(record), idOfSecret(SECRET));
    assert.equal(fixture.eventsOf('rotated').length, 0);
  });
});
