/**
 * Bad input is not an error: every kind of bad cookie or bad record gives a new empty session,
 * one `rejected` event with the right reason, and no store write, above all to the real record.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../src/core/bytes.ts';
import { cryptoProvider } from '../../src/core/crypto.ts';
import { createKeyring } from '../../src/core/keyring.ts';
import { RECORD_OVERHEAD, sealRecord } from '../../src/core/record.ts';
import { deriveSessionKey, parseToken } from '../../src/core/token.ts';
import { ConfigError, createSessionManager, type RejectReason } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import {
  COOKIE_NAME,
  type Fixture,
  OTHER_SECRET,
  SECRET,
  setup,
  storedSession,
  tokenFrom,
} from './helpers.ts';

const MAX_DATA_BYTES = 4096;

interface Victim {
  fixture: Fixture<Record<string, string>>;
  token: string;
  storeKey: string;
  record: Uint8Array;
}

async function victim(): Promise<Victim> {
  const fixture = setup<Record<string, string>>({ maxDataBytes: MAX_DATA_BYTES });
  const { token, storeKey } = await storedSession(fixture, { owner: 'victim' });
  const record = await fixture.memory.get(storeKey);
  assert.ok(record);
  return { fixture, token, storeKey, record };
}

/** Replaces the character at `index` with another base64url character. */
function flipChar(token: string, index: number): string {
  const replacement = token[index] === 'A' ? 'B' : 'A';
  return token.slice(0, index) + replacement + token.slice(index + 1);
}

function flipByte(record: Uint8Array, index: number, value?: number): Uint8Array {
  const copy = Uint8Array.from(record);
  copy[index] = value ?? (copy[index] as number) ^ 0x01;
  return copy;
}

async function plant(v: Victim, record: Uint8Array): Promise<void> {
  await v.fixture.memory.set(v.storeKey, record, { expiresAt: v.fixture.clock.now + 3600_000 });
}

/** Seals `payload` under the real session key of `token`: authentic, but not a valid record. */
function sealAuthentic(token: string, payload: string): Uint8Array {
  const crypto = cryptoProvider('portable');
  const keyring = createKeyring(crypto, { secret: SECRET });
  const parsed = parseToken(crypto, token) ?? assert.fail('not a token');
  const key = deriveSessionKey(crypto, keyring.sealing, parsed);
  return sealRecord(crypto, keyring.sealing, key, utf8(payload));
}

/** The cookie value to present, after changing the store if the case needs to. */
type Attack = (v: Victim) => Promise<string> | string;

const CASES: [string, RejectReason, Attack][] = [
  ['an empty value', 'malformed', () => ''],
  ['a value that is not base64url', 'malformed', (v) => `${v.token.slice(0, 63)}.`],
  ['a truncated token', 'malformed', (v) => v.token.slice(0, 63)],
  ['an over-long token', 'malformed', (v) => `${v.token}AAAA`],
  ['a quoted garbage value', 'malformed', () => '"<script>"'],
  ['an unknown token', 'unknown', () => Buffer.alloc(48, 7).toString('base64url')],
  ['a token whose ID part is changed', 'unknown', (v) => flipChar(v.token, 3)],
  ['a token whose key part is changed', 'tampered', (v) => flipChar(v.token, 40)],
  ['a token whose last character is changed', 'tampered', (v) => flipChar(v.token, 63)],
  [
    'a token with the right ID and another key',
    'tampered',
    (v) => v.token.slice(0, 22) + Buffer.alloc(33, 1).toString('base64url').slice(0, 42),
  ],
  [
    'a record with a flipped ciphertext byte',
    'tampered',
    async (v) => {
      await plant(v, flipByte(v.record, v.record.length - 1));
      return v.token;
    },
  ],
  [
    'a record with a flipped tag byte',
    'tampered',
    async (v) => {
      await plant(v, flipByte(v.record, 29));
      return v.token;
    },
  ],
  [
    'a record with a flipped nonce byte',
    'tampered',
    async (v) => {
      await plant(v, flipByte(v.record, 10));
      return v.token;
    },
  ],
  [
    'a record with another version',
    'version',
    async (v) => {
      await plant(v, flipByte(v.record, 0, 2));
      return v.token;
    },
  ],
  [
    'a record of version 0',
    'version',
    async (v) => {
      await plant(v, flipByte(v.record, 0, 0));
      return v.token;
    },
  ],
  [
    'a record naming another key id',
    'unknown-secret',
    async (v) => {
      await plant(v, flipByte(v.record, 2));
      return v.token;
    },
  ],
  [
    'a record too short to be one',
    'tampered',
    async (v) => {
      await plant(v, v.record.subarray(0, RECORD_OVERHEAD - 1));
      return v.token;
    },
  ],
  [
    'an over-sized record',
    'oversized',
    async (v) => {
      await plant(v, new Uint8Array(MAX_DATA_BYTES + RECORD_OVERHEAD + 1).fill(1));
      return v.token;
    },
  ],
  [
    'an authentic record that is not JSON',
    'corrupt',
    async (v) => {
      await plant(v, sealAuthentic(v.token, 'not json'));
      return v.token;
    },
  ],
  [
    'an authentic record without metadata',
    'corrupt',
    async (v) => {
      await plant(v, sealAuthentic(v.token, '{"m":{"c":1},"d":{}}'));
      return v.token;
    },
  ],
];

describe('bad input gives a new empty session, an event, and no store write', () => {
  for (const [label, reason, attack] of CASES) {
    it(`${label} → rejected '${reason}'`, async () => {
      const v = await victim();
      const { fixture } = v;
      const presented = await attack(v);
      const stored = await fixture.memory.get(v.storeKey);
      fixture.store.resetCounts();
      const session = await fixture.manager.load(`a=1; ${COOKIE_NAME}=${presented}; b=2`);
      assert.equal(session.isNew, true);
      assert.equal(session.size, 0);
      assert.equal(session.get('owner'), undefined);
      assert.deepEqual(
        fixture.eventsOf('rejected').map((event) => event.reason),
        [reason],
      );
      assert.equal(fixture.eventsOf('loaded').length, 0);
      assert.equal(fixture.store.writes(), 0, 'no store write or delete');
      assert.equal(await fixture.manager.commit(session), undefined, 'nothing sent back');
      assert.equal(fixture.store.writes(), 0);
      assert.equal(await fixture.memory.get(v.storeKey), stored, 'the record is left as it was');
    });
  }

  it('a wrong key never touches the real session, even when the new session is written', async () => {
    const v = await victim();
    const forged = flipChar(v.token, 40);
    const session = await v.fixture.manager.load(`${COOKIE_NAME}=${forged}`);
    session.set('owner', 'attacker');
    const setCookie = await v.fixture.manager.commit(session);
    const issued = tokenFrom(setCookie);
    assert.notEqual(issued, forged, 'the bad token is never echoed');
    assert.notEqual(issued, v.token);
    assert.equal(await v.fixture.memory.get(v.storeKey), v.record);
    const real = await v.fixture.manager.load(`${COOKIE_NAME}=${v.token}`);
    assert.equal(real.get('owner'), 'victim');
  });

  it('a foreign deployment’s cookie is rejected without touching its record', async () => {
    const v = await victim();
    const foreign = setup({ secret: OTHER_SECRET, memory: v.fixture.memory });
    const session = await foreign.manager.load(`${COOKIE_NAME}=${v.token}`);
    assert.equal(session.isNew, true);
    assert.deepEqual(
      foreign.eventsOf('rejected').map((event) => event.reason),
      ['unknown-secret'],
    );
    assert.equal(foreign.store.writes(), 0);
    assert.equal(await v.fixture.memory.get(v.storeKey), v.record);
  });

  it('a missing cookie is simply a new session: no event, no store access', async () => {
    const { fixture } = await victim();
    fixture.store.resetCounts();
    for (const header of [undefined, null, '', 'other=1']) {
      const session = await fixture.manager.load(header);
      assert.equal(session.isNew, true);
    }
    assert.equal(fixture.eventsOf('rejected').length, 0);
    assert.equal(fixture.store.calls.get + fixture.store.writes(), 0);
  });
});

describe('a session handed to a manager that did not load it', () => {
  it('is refused by commit, regenerate and destroy, and nothing reaches either store', async () => {
    const storeA = memoryStore();
    const storeB = memoryStore();
    const a = createSessionManager({ store: storeA, secret: SECRET });
    const b = createSessionManager({
      store: storeB,
      secret: OTHER_SECRET,
      cookie: { name: '__Host-admin' },
    });
    const fresh = await a.load(undefined);
    fresh.set('role', 'customer');
    const stored = await a.load(undefined);
    stored.set('role', 'customer');
    await a.commit(stored);
    const before = storeA.size;
    for (const session of [fresh, stored]) {
      await assert.rejects(b.commit(session), ConfigError);
      await assert.rejects(b.regenerate(session), ConfigError);
      await assert.rejects(b.destroy(session), ConfigError);
    }
    assert.equal(storeB.size, 0);
    assert.equal(storeA.size, before);
    // Its own manager still commits it.
    assert.match((await a.commit(fresh)) ?? '', /^__Host-pithos=/);
  });
});
