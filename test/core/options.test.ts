/** The manager's numeric options, and its close(). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  createSessionManager,
  type SessionManagerOptions,
  StoreError,
} from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import { SECRET } from './helpers.ts';

function construct(options: Partial<SessionManagerOptions>): void {
  createSessionManager({ store: memoryStore(), secret: SECRET, ...options });
}

describe('numeric options', () => {
  it('refuses counts and sizes that are not whole numbers of at least 1', () => {
    for (const value of [0, 0.5, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, '10' as never]) {
      assert.throws(() => construct({ maxCommitAttempts: value }), ConfigError, String(value));
      assert.throws(() => construct({ maxDataBytes: value }), ConfigError, String(value));
    }
    construct({ maxCommitAttempts: 1, maxDataBytes: 1 });
  });

  it('refuses timeouts past 100 years, which would overflow the sealed deadlines', () => {
    assert.throws(() => construct({ absoluteTimeout: 1e306 }), /at most/);
    assert.throws(() => construct({ idleTimeout: 1e12 }), /at most/);
    construct({ absoluteTimeout: 100 * 365 * 86_400, idleTimeout: 365 * 86_400 });
  });

  it('a long absolute timeout still gives sessions that load', async () => {
    const manager = createSessionManager({
      store: memoryStore(),
      secret: SECRET,
      absoluteTimeout: 99 * 365 * 86_400,
    });
    const session = await manager.load(undefined);
    session.set('a', 1);
    const setCookie = (await manager.commit(session)) as string;
    const loaded = await manager.load(setCookie.slice(0, setCookie.indexOf(';')));
    assert.equal(loaded.get('a'), 1);
  });
});

describe('manager.close', () => {
  it("wraps the store's failure in a StoreError naming the store", async () => {
    const store = {
      ...memoryStore(),
      name: 'flaky',
      close: async () => {
        throw new Error('socket hang up');
      },
    };
    const manager = createSessionManager({ store, secret: SECRET });
    await assert.rejects(manager.close(), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.match(error.message, /flaky/);
      assert.equal((error.cause as Error).message, 'socket hang up');
      return true;
    });
  });
});

describe('options the manager hands on, and argument errors', () => {
  it('refuses a crypto, bindIP, clock or logger of the wrong kind at construction', () => {
    const wrong: Partial<SessionManagerOptions>[] = [
      { crypto: 'nativ' as never },
      { bindIP: 'false' as never },
      { bindIP: 0 as never },
      { bindIP: [] as never },
      { clock: 5 as never },
      { logger: 'x' as never },
    ];
    for (const options of wrong) {
      assert.throws(() => construct(options), ConfigError, JSON.stringify(options));
    }
  });

  it('takes null, as from a JSON configuration, as the default of bindIP, crypto, clock, logger', async () => {
    const manager = createSessionManager({
      store: memoryStore(),
      secret: SECRET,
      bindIP: null as never,
      crypto: null as never,
      clock: null as never,
      logger: null as never,
    });
    const session = await manager.load(undefined); // no { ip } needed: binding is off
    assert.equal(session.isNew, true);
    session.set('a', 1);
    assert.match((await manager.commit(session)) ?? '', /Max-Age=86400/);
  });

  it('setDuration with a bad number throws ConfigError', async () => {
    const manager = createSessionManager({ store: memoryStore(), secret: SECRET });
    const session = await manager.load(undefined);
    for (const seconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => session.setDuration(seconds), ConfigError, String(seconds));
    }
  });
});
