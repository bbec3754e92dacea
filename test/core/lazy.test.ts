/** Lazy and thrifty: nothing is created or written unless it must be. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxAgeOf, setup, storedSession } from './helpers.ts';

describe('lazy sessions', () => {
  it('a request that never writes creates no record and sends no cookie', async () => {
    const { manager, store, memory, events } = setup();
    const session = await manager.load(undefined);
    assert.equal(session.get('visits'), undefined);
    assert.equal(session.has('visits'), false);
    assert.equal(await manager.commit(session), undefined);
    assert.equal(store.writes(), 0);
    assert.equal(memory.size, 0);
    assert.deepEqual(events, []);
  });

  it('a new session whose writes cancel out creates nothing', async () => {
    const { manager, store } = setup();
    const session = await manager.load('other=cookie');
    session.set('a', 1);
    session.delete('a');
    session.setDuration(60);
    assert.equal(await manager.commit(session), undefined);
    assert.equal(store.writes(), 0);
  });

  it('the first write creates one record and sends one cookie', async () => {
    const { manager, store, eventsOf } = setup();
    const session = await manager.load(undefined);
    session.set('visits', 1);
    const setCookie = await manager.commit(session);
    assert.match(setCookie ?? '', /^__Host-pithos=[A-Za-z0-9_-]{64}; Max-Age=\d+/);
    assert.equal(store.written.length, 1);
    assert.equal(eventsOf('created').length, 1);
    assert.equal(session.isNew, false, 'it now has a stored record');
    assert.equal(session.isModified, false);
  });
});

describe('touch throttling', () => {
  it('an unchanged session is not written back before touchInterval', async () => {
    const fixture = setup({ idleTimeout: 3600, touchInterval: 300 });
    const { cookie } = await storedSession(fixture, { visits: 1 });
    fixture.store.resetCounts();
    for (const seconds of [0, 100, 100, 99]) {
      fixture.clock.advance(seconds);
      const session = await fixture.manager.load(cookie);
      assert.equal(session.get('visits'), 1);
      assert.equal(session.isModified, false);
      assert.equal(await fixture.manager.commit(session), undefined);
    }
    assert.equal(fixture.store.writes(), 0);
  });

  it('once touchInterval has passed, one write refreshes the expiry', async () => {
    const fixture = setup({ idleTimeout: 3600, touchInterval: 300 });
    const { cookie, storeKey } = await storedSession(fixture, { visits: 1 });
    fixture.store.resetCounts();
    fixture.clock.advance(300);
    const session = await fixture.manager.load(cookie);
    const setCookie = await fixture.manager.commit(session);
    assert.equal(fixture.store.writes(), 1);
    assert.equal(maxAgeOf(setCookie), 3600);
    const write = fixture.store.written.at(-1);
    assert.equal(write?.key, storeKey);
    assert.equal(write?.options.expiresAt, fixture.clock.now + 3600_000);

    fixture.store.resetCounts();
    const again = await fixture.manager.load(cookie);
    assert.equal(await fixture.manager.commit(again), undefined);
    assert.equal(fixture.store.writes(), 0, 'the next request inside the interval writes nothing');
  });

  it('the default touchInterval is 60 s, or half a short idle timeout', async () => {
    for (const [idleTimeout, interval] of [
      [86_400, 60],
      [40, 20],
    ] as const) {
      const fixture = setup({ idleTimeout });
      const { cookie } = await storedSession(fixture, { a: 1 });
      fixture.store.resetCounts();
      fixture.clock.advance(interval - 1);
      await fixture.manager.commit(await fixture.manager.load(cookie));
      assert.equal(fixture.store.writes(), 0);
      fixture.clock.advance(1);
      await fixture.manager.commit(await fixture.manager.load(cookie));
      assert.equal(fixture.store.writes(), 1);
    }
  });
});

describe('change detection', () => {
  it('detects and saves a change made inside a nested value', async () => {
    const fixture = setup<{ cart: string[]; profile: { tags: string[] } }>();
    const { cookie } = await storedSession(fixture, { cart: ['apple'], profile: { tags: [] } });
    fixture.store.resetCounts();
    const session = await fixture.manager.load(cookie);
    assert.equal(session.isModified, false);
    session.get('cart')?.push('pear');
    assert.equal(session.isModified, true);
    await fixture.manager.commit(session);
    assert.equal(fixture.store.writes(), 1);
    const next = await fixture.manager.load(cookie);
    assert.deepEqual(next.get('cart'), ['apple', 'pear']);

    const [, profile] = next.entries().find(([key]) => key === 'profile') ?? [];
    (profile as { tags: string[] }).tags.push('vip');
    assert.equal(next.isModified, true);
    await fixture.manager.commit(next);
    assert.deepEqual((await fixture.manager.load(cookie)).get('profile'), { tags: ['vip'] });
  });

  it('reading a nested value without changing it writes nothing', async () => {
    const fixture = setup<{ cart: string[] }>();
    const { cookie } = await storedSession(fixture, { cart: ['apple'] });
    fixture.store.resetCounts();
    const session = await fixture.manager.load(cookie);
    assert.deepEqual(session.get('cart'), ['apple']);
    assert.equal(session.isModified, false);
    assert.equal(await fixture.manager.commit(session), undefined);
    assert.equal(fixture.store.writes(), 0);
  });

  it('isModified follows set, delete and clear', async () => {
    const fixture = setup();
    const { cookie } = await storedSession(fixture, { a: 1, b: 2 });
    const setting = await fixture.manager.load(cookie);
    setting.set('a', 5);
    assert.equal(setting.isModified, true);
    const deleting = await fixture.manager.load(cookie);
    assert.equal(deleting.delete('missing'), false);
    assert.equal(deleting.isModified, false);
    assert.equal(deleting.delete('b'), true);
    assert.equal(deleting.isModified, true);
    const clearing = await fixture.manager.load(cookie);
    clearing.clear();
    assert.equal(clearing.isModified, true);
    assert.equal(clearing.size, 0);
  });
});
