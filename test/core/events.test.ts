/** Store failures are errors; events and logs name sessions by a keyed hash and leak nothing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessionManager, type LogLevel, type Store, StoreError } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import {
  COOKIE_NAME,
  fakeClock,
  OTHER_SECRET,
  SECRET,
  setup,
  storedSession,
  tokenFrom,
} from './helpers.ts';

type Method = 'get' | 'set' | 'delete' | 'compareAndSet';

/** A store named `flaky` whose listed methods fail; the error message names the key. */
function flaky(inner: Store, failing: Method[], sync = false): Store {
  const fail = (method: Method, key: string): Promise<never> => {
    const error = new Error(`connection reset while running ${method} ${key}`);
    if (sync) throw error;
    return Promise.reject(error);
  };
  const fails = (method: Method) => failing.includes(method);
  return {
    name: 'flaky',
    get: (key) => (fails('get') ? fail('get', key) : inner.get(key)),
    set: (key, record, options) =>
      fails('set') ? fail('set', key) : inner.set(key, record, options),
    delete: (key) => (fails('delete') ? fail('delete', key) : inner.delete(key)),
    compareAndSet: (key, expected, record, options) =>
      fails('compareAndSet')
        ? fail('compareAndSet', key)
        : (inner.compareAndSet?.(key, expected, record, options) ?? assert.fail('no CAS')),
  };
}

function isStoreFailure(secrets: string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, 'STORE_FAILED');
    assert.equal(error.store, 'flaky');
    assert.match(String((error.cause as Error).message), /connection reset/);
    for (const secret of secrets) assert.ok(!error.message.includes(secret), 'message leaks');
    return true;
  };
}

describe('store failures', () => {
  for (const sync of [false, true]) {
    it(`load rejects with a StoreError when get ${sync ? 'throws' : 'rejects'}`, async () => {
      const fixture = setup();
      const { cookie, token, storeKey } = await storedSession(fixture, { a: 1 });
      const store = flaky(fixture.memory, ['get'], sync);
      const manager = createSessionManager({ store, secret: SECRET });
      await assert.rejects(manager.load(cookie), isStoreFailure([token, storeKey]));
      assert.ok((await manager.load(undefined)).isNew, 'no cookie: no store access, no error');
    });
  }

  it('commit rejects with a StoreError when the write fails, with or without CAS', async () => {
    for (const failing of [['compareAndSet'], ['set']] as Method[][]) {
      const fixture = setup();
      const { cookie, token, storeKey } = await storedSession(fixture, { a: 1 });
      const store = flaky(fixture.memory, failing);
      if (failing[0] === 'set') delete store.compareAndSet;
      const manager = createSessionManager({ store, secret: SECRET, clock: fixture.clock.read });
      const session = await manager.load(cookie);
      session.set('a', 2);
      await assert.rejects(manager.commit(session), isStoreFailure([token, storeKey]));
      assert.equal((await fixture.manager.load(cookie)).get('a'), 1);
    }
  });

  it('destroy, regenerate and an expired load reject when delete fails', async () => {
    const clock = fakeClock();
    const memory = memoryStore();
    const fixture = setup({ memory, fakeClock: clock, idleTimeout: 60 });
    const { cookie, token, storeKey } = await storedSession(fixture, { a: 1 });
    const store = flaky(memory, ['delete']);
    const manager = createSessionManager({
      store,
      secret: SECRET,
      clock: clock.read,
      idleTimeout: 60,
    });
    await assert.rejects(manager.destroy(await manager.load(cookie)), isStoreFailure([token]));
    await assert.rejects(manager.regenerate(await manager.load(cookie)), isStoreFailure([token]));
    clock.advance(60);
    await assert.rejects(manager.load(cookie), isStoreFailure([token, storeKey]));
  });

  it('passes a StoreError thrown by the store through unchanged', async () => {
    const inner = memoryStore();
    const manager = createSessionManager({
      store: { ...flaky(inner, []), get: () => inner.get('not a store key') },
      secret: SECRET,
    });
    const cookie = `${COOKIE_NAME}=${'A'.repeat(64)}`;
    await assert.rejects(manager.load(cookie), { code: 'STORE_KEY_INVALID', store: 'memory' });
  });
});

describe('events', () => {
  it('are emitted through a session’s life, naming it by a stable keyed hash', async () => {
    const fixture = setup({
      secrets: [SECRET, OTHER_SECRET],
      idleTimeout: 600,
      memory: memoryStore({ clock: () => 0 }), // it never drops a record by itself
    });
    const { manager, events, clock } = fixture;
    const { cookie } = await storedSession(fixture, { a: 1 });
    const loaded = await manager.load(cookie);
    await manager.regenerate(loaded);
    const rotatedCookie = `${COOKIE_NAME}=${tokenFrom(await manager.commit(loaded))}`;
    await manager.load(`${COOKIE_NAME}=garbage`);
    await manager.destroy(await manager.load(rotatedCookie));
    const expiring = await storedSession(fixture, { b: 1 });
    clock.advance(600);
    await manager.load(expiring.cookie);

    assert.deepEqual(
      events.map(
        ({ type, event }) =>
          `${type}${'reason' in event ? `:${event.reason}` : ''}${'cause' in event ? `:${event.cause}` : ''}`,
      ),
      [
        'created',
        'loaded',
        'rotated:regenerate',
        'rejected:malformed',
        'loaded',
        'destroyed',
        'created',
        'expired',
      ],
    );
    const handles = events.map(({ event }) => event.session);
    assert.equal(handles[3], undefined, 'a malformed cookie names no session');
    for (const handle of handles.filter((h) => h !== undefined))
      assert.match(handle, /^[0-9a-f]{32}$/);
    assert.equal(handles[0], handles[1]);
    assert.equal(handles[1], handles[2]);
    assert.notEqual(handles[4], handles[2], 'a regenerated session has a new handle');
    assert.equal(handles[4], handles[5]);
  });

  it('are passed to the logger as debug lines', async () => {
    const lines: unknown[] = [];
    const fixture = setup({ logger: (...line) => lines.push(line) });
    await storedSession(fixture, { a: 1 });
    const [created] = fixture.eventsOf('created');
    assert.deepEqual(lines, [['debug', 'session created', { session: created?.session }]]);
  });

  it('a listener can stop listening, and a throwing listener never breaks a request', async () => {
    const lines: [LogLevel, string][] = [];
    const fixture = setup({ logger: (level, message) => lines.push([level, message]) });
    let calls = 0;
    const stop = fixture.manager.on('created', () => calls++);
    fixture.manager.on('loaded', () => {
      throw new Error('listener bug');
    });
    const { cookie } = await storedSession(fixture, { a: 1 });
    stop();
    await storedSession(fixture, { a: 2 });
    assert.equal(calls, 1);
    assert.equal((await fixture.manager.load(cookie)).get('a'), 1);
    assert.deepEqual(lines.at(-1), ['error', 'a "loaded" listener threw']);
  });
});

describe('nothing secret leaks', () => {
  it('no event, log line or error holds a cookie value, token, store key or secret', async () => {
    const logged: string[] = [];
    const fixture = setup({
      secrets: [SECRET, OTHER_SECRET],
      idleTimeout: 600,
      maxDataBytes: 2048,
      bindIP: true,
      logger: (level, message, fields) => logged.push(JSON.stringify([level, message, fields])),
      // A store that has not yet dropped expired records, so the manager's own check runs.
      memory: memoryStore({ clock: () => 0 }),
    });
    const { manager, clock } = fixture;
    const old = setup({ secret: OTHER_SECRET, memory: fixture.memory, fakeClock: clock });
    const ip = { ip: '203.0.113.1' };
    const sessions = [
      await storedSession(fixture, { a: 1 }, ip),
      await storedSession(old, { a: 2 }),
    ];
    const errors: string[] = [];
    for (const { cookie, token } of sessions) {
      const session = await manager.load(cookie, ip);
      session.set('b', 1);
      await manager.commit(session);
      await manager.load(`${cookie.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, ip);
      await manager.load(cookie, { ip: '198.51.100.1' });
      await manager.load(`${cookie}; ${cookie}`, ip);
      const big = await manager.load(cookie, ip);
      big.set('big', 'x'.repeat(4096));
      await manager.commit(big).catch((error: Error) => errors.push(error.message));
      await manager.regenerate(await manager.load(cookie, ip));
    }
    const doomed = await storedSession(fixture, { c: 1 }, ip);
    await manager.destroy(await manager.load(doomed.cookie, ip));
    const expiring = await storedSession(fixture, { d: 1 }, ip);
    clock.advance(600);
    await manager.load(expiring.cookie, ip);
    sessions.push(doomed, expiring);
    const types = new Set(fixture.events.map((seen) => seen.type));
    assert.equal(types.size, 6, 'every kind of event was checked');

    const haystack = [...fixture.events.map((seen) => JSON.stringify(seen)), ...logged, ...errors];
    assert.ok(logged.length >= 10 && errors.length === 2 && fixture.events.length >= 10);
    const secrets = [SECRET, OTHER_SECRET, ...fixture.store.written.map((write) => write.key)];
    for (const { token, storeKey } of sessions) {
      secrets.push(
        token,
        storeKey,
        Buffer.from(token, 'base64url').subarray(0, 16).toString('hex'),
      );
    }
    for (const line of haystack) {
      for (const secret of secrets) assert.ok(!line.includes(secret), `leaked in ${line}`);
    }
  });
});
