/** No lost updates: overlapping requests of one session, with and without compare-and-set. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setup, storedSession } from './helpers.ts';

for (const withCAS of [true, false]) {
  describe(`overlapping requests (${withCAS ? 'with' : 'without'} compare-and-set)`, () => {
    it('two requests changing different keys both survive', async () => {
      const fixture = setup({ withCAS });
      assert.equal(typeof fixture.store.compareAndSet, withCAS ? 'function' : 'undefined');
      const { cookie } = await storedSession(fixture, { base: 0 });
      const first = await fixture.manager.load(cookie);
      const second = await fixture.manager.load(cookie);
      first.set('a', 1);
      second.set('b', 2);
      second.delete('base');
      await fixture.manager.commit(first);
      await fixture.manager.commit(second);
      const after = await fixture.manager.load(cookie);
      assert.deepEqual(Object.fromEntries(after.entries()), { a: 1, b: 2 });
    });

    it('the later write of one key wins, and other keys are not reverted', async () => {
      const fixture = setup({ withCAS });
      const { cookie } = await storedSession(fixture, { a: 0, b: 0 });
      const first = await fixture.manager.load(cookie);
      const second = await fixture.manager.load(cookie);
      first.set('a', 1);
      first.set('b', 1);
      second.set('a', 2);
      await fixture.manager.commit(first);
      await fixture.manager.commit(second);
      assert.deepEqual(Object.fromEntries((await fixture.manager.load(cookie)).entries()), {
        a: 2,
        b: 1,
      });
    });

    it('a nested change merges onto the latest record too', async () => {
      const fixture = setup<{ cart: string[]; seen: number }>({ withCAS });
      const { cookie } = await storedSession(fixture, { cart: [], seen: 0 });
      const first = await fixture.manager.load(cookie);
      const second = await fixture.manager.load(cookie);
      first.set('seen', 1);
      second.get('cart')?.push('pear');
      await fixture.manager.commit(first);
      await fixture.manager.commit(second);
      const after = await fixture.manager.load(cookie);
      assert.deepEqual(after.get('cart'), ['pear']);
      assert.equal(after.get('seen'), 1);
    });

    it('a destroy wins over a concurrent commit', async () => {
      const fixture = setup({ withCAS });
      const { cookie, storeKey } = await storedSession(fixture, { user: 'alice' });
      const loggingOut = await fixture.manager.load(cookie);
      const other = await fixture.manager.load(cookie);
      await fixture.manager.destroy(loggingOut);
      other.set('late', 'write');
      const setCookie = await fixture.manager.commit(other);
      assert.equal(setCookie, undefined, 'no cookie: a clearing one could undo a concurrent login');
      other.set('later', 'again');
      assert.equal(await fixture.manager.commit(other), undefined);
      assert.equal(await fixture.memory.get(storeKey), undefined);
      const after = await fixture.manager.load(cookie);
      assert.equal(after.isNew, true);
      assert.equal(after.get('user'), undefined);
    });

    it('a commit racing a regenerate (a login) sends no cookie that could log the browser out', async () => {
      const fixture = setup({ withCAS });
      const { cookie } = await storedSession(fixture, { user: 'anon' });
      const login = await fixture.manager.load(cookie);
      const other = await fixture.manager.load(cookie);
      await fixture.manager.regenerate(login);
      login.set('user', 'alice');
      const loginCookie = await fixture.manager.commit(login);
      assert.ok(loginCookie !== undefined);
      other.set('late', 'write');
      assert.equal(await fixture.manager.commit(other), undefined);
      const fresh = await fixture.manager.load(loginCookie.split(';')[0]);
      assert.equal(fresh.get('user'), 'alice');
      assert.equal(fresh.get('late' as 'user'), undefined, 'the old session is not written back');
      assert.equal((await fixture.manager.load(cookie)).isNew, true);
    });
  });
}

describe('many concurrent requests', () => {
  it('50 concurrent commits of different keys all survive', async () => {
    const fixture = setup();
    const { cookie } = await storedSession(fixture, { base: -1 });
    const sessions = await Promise.all(
      Array.from({ length: 50 }, () => fixture.manager.load(cookie)),
    );
    for (const [i, session] of sessions.entries()) session.set(`k${i}`, i);
    await Promise.all(sessions.map((session) => fixture.manager.commit(session)));
    const after = await fixture.manager.load(cookie);
    assert.equal(after.size, 51);
    for (let i = 0; i < 50; i++) assert.equal(after.get(`k${i}`), i);
  });

  it('concurrent loads and commits interleaved with Promise.all', async () => {
    const fixture = setup();
    const { cookie } = await storedSession(fixture, { base: 0 });
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const session = await fixture.manager.load(cookie);
        session.set(`k${i}`, i);
        await fixture.manager.commit(session);
      }),
    );
    assert.equal((await fixture.manager.load(cookie)).size, 51);
  });
});
