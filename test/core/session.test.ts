/** The Session API, flash values, and the manager's regenerate and destroy. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COOKIE_NAME, cookieFrom, setup, storedSession, tokenFrom } from './helpers.ts';

type Data = { visits: number; name: string; cart: string[]; user: { id: number } };

describe('Session: a typed map', () => {
  it('get, set, has, delete, keys, entries, size', async () => {
    const { manager } = setup<Data>();
    const session = await manager.load(undefined);
    assert.equal(session.isNew, true);
    assert.equal(session.size, 0);
    session.set('visits', 1);
    session.set('name', 'Zoë');
    session.set('cart', ['apple']);
    assert.equal(session.get('visits'), 1);
    assert.equal(session.has('name'), true);
    assert.equal(session.has('user'), false);
    assert.deepEqual(session.keys(), ['visits', 'name', 'cart']);
    assert.deepEqual(session.entries(), [
      ['visits', 1],
      ['name', 'Zoë'],
      ['cart', ['apple']],
    ]);
    assert.equal(session.size, 3);
    assert.equal(session.delete('name'), true);
    assert.equal(session.delete('name'), false);
    assert.equal(session.get('name'), undefined);
    assert.equal(session.size, 2);
    session.clear();
    assert.deepEqual(session.keys(), []);
  });

  it('sees only its own keys, and refuses `__proto__` as a key', async () => {
    const { manager } = setup();
    const session = await manager.load(undefined);
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.equal(session.get(key), undefined, key);
      assert.equal(session.has(key), false, key);
    }
    assert.throws(() => session.set('__proto__', { isAdmin: true }), { code: 'DATA_NOT_JSON' });
    assert.throws(() => session.flash('__proto__', 1), { code: 'DATA_NOT_JSON' });
    assert.equal(session.get('isAdmin'), undefined);
    assert.equal(session.isModified, false);
  });

  it('persists values across requests and knows when it was created', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { visits: 1, user: { id: 7 } });
    fixture.clock.advance(100);
    const session = await fixture.manager.load(cookie);
    assert.equal(session.isNew, false);
    assert.equal(session.isModified, false);
    assert.equal(session.createdAt, fixture.clock.now - 100_000);
    assert.deepEqual(Object.fromEntries(session.entries()), { visits: 1, user: { id: 7 } });
    session.set('visits', (session.get('visits') ?? 0) + 1);
    assert.equal(
      await fixture.manager.commit(session),
      `${cookie}; Max-Age=86400; Path=/; HttpOnly; Secure; SameSite=Lax`,
    );
  });

  it('a cleared session stays alive, empty', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { visits: 1 });
    const session = await fixture.manager.load(cookie);
    session.clear();
    await fixture.manager.commit(session);
    const after = await fixture.manager.load(cookie);
    assert.equal(after.isNew, false);
    assert.equal(after.size, 0);
  });
});

describe('Session.reset', () => {
  it('forgets data, ID and key; the commit retires the old record', async () => {
    const fixture = setup<Data>();
    const { cookie, storeKey } = await storedSession(fixture, { visits: 5 });
    const session = await fixture.manager.load(cookie);
    session.reset();
    assert.equal(session.size, 0);
    assert.equal(session.isNew, true);
    const setCookie = await fixture.manager.commit(session);
    assert.equal(setCookie, fixture.manager.clearCookie());
    assert.equal(await fixture.memory.get(storeKey), undefined);
    assert.equal((await fixture.manager.load(cookie)).isNew, true);
  });

  it('a write after reset starts a brand-new session with a new cookie value', async () => {
    const fixture = setup<Data>();
    const { cookie, token, storeKey } = await storedSession(fixture, { visits: 5, name: 'a' });
    const session = await fixture.manager.load(cookie);
    session.reset();
    session.set('visits', 1);
    const fresh = await fixture.manager.commit(session);
    assert.notEqual(tokenFrom(fresh), token);
    assert.equal(await fixture.memory.get(storeKey), undefined);
    const next = await fixture.manager.load(cookieFrom(fresh));
    assert.deepEqual(Object.fromEntries(next.entries()), { visits: 1 });
    assert.equal(fixture.eventsOf('created').length, 2);
  });
});

describe('flash values', () => {
  it('are read once, on the next request', async () => {
    const fixture = setup<Data>();
    const first = await fixture.manager.load(undefined);
    first.flash('notice', { text: 'Saved' });
    assert.equal(first.getFlash('notice'), undefined, 'not readable in the same request');
    const cookie = cookieFrom(await fixture.manager.commit(first));

    const second = await fixture.manager.load(cookie);
    assert.equal(second.size, 0, 'flash values are not data');
    assert.deepEqual(second.getFlash('notice'), { text: 'Saved' });
    assert.equal(second.getFlash('notice'), undefined, 'read once');
    await fixture.manager.commit(second);

    const third = await fixture.manager.load(cookie);
    assert.equal(third.getFlash('notice'), undefined);
  });

  it('wait, unread, until a request reads them', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { visits: 1 });
    const setting = await fixture.manager.load(cookie);
    setting.flash('a', 1);
    setting.flash('b', 2);
    await fixture.manager.commit(setting);
    for (let i = 0; i < 2; i++) {
      const passing = await fixture.manager.load(cookie);
      passing.set('visits', i + 2);
      await fixture.manager.commit(passing);
    }
    const reading = await fixture.manager.load(cookie);
    assert.equal(reading.getFlash('a'), 1);
    await fixture.manager.commit(reading);
    const later = await fixture.manager.load(cookie);
    assert.equal(later.getFlash('a'), undefined);
    assert.equal(later.getFlash('b'), 2);
    assert.equal(later.get('visits'), 3);
  });
});

describe('manager.regenerate', () => {
  it('issues a new cookie value, keeps the data, and retires the old record', async () => {
    const fixture = setup<Data>();
    const { cookie, token, storeKey } = await storedSession(fixture, { cart: ['apple'] });
    const session = await fixture.manager.load(cookie);
    await fixture.manager.regenerate(session);
    assert.equal(await fixture.memory.get(storeKey), undefined, 'old record gone at once');
    session.set('user', { id: 1 });
    const setCookie = await fixture.manager.commit(session);
    assert.notEqual(tokenFrom(setCookie), token);

    const old = await fixture.manager.load(cookie);
    assert.equal(old.isNew, true);
    assert.equal(old.size, 0);
    const renewed = await fixture.manager.load(cookieFrom(setCookie));
    assert.deepEqual(Object.fromEntries(renewed.entries()), { cart: ['apple'], user: { id: 1 } });
    assert.deepEqual(
      fixture.eventsOf('rotated').map((event) => event.cause),
      ['regenerate'],
    );
  });

  it('writes the new record even when nothing else changed', async () => {
    const fixture = setup<Data>();
    const { cookie, token } = await storedSession(fixture, { visits: 1 });
    const session = await fixture.manager.load(cookie);
    await fixture.manager.regenerate(session);
    const setCookie = await fixture.manager.commit(session);
    assert.notEqual(tokenFrom(setCookie), token);
    assert.equal((await fixture.manager.load(cookieFrom(setCookie))).get('visits'), 1);
  });
});

describe('manager.destroy', () => {
  it('deletes the record; the commit clears the cookie; nothing brings it back', async () => {
    const fixture = setup<Data>();
    const { cookie, storeKey } = await storedSession(fixture, { user: { id: 1 } });
    const session = await fixture.manager.load(cookie);
    await fixture.manager.destroy(session);
    assert.equal(await fixture.memory.get(storeKey), undefined);
    session.set('visits', 1);
    session.get('cart');
    fixture.store.resetCounts();
    const setCookie = await fixture.manager.commit(session);
    assert.match(setCookie ?? '', new RegExp(`^${COOKIE_NAME}=; Max-Age=0`));
    assert.equal(setCookie, fixture.manager.clearCookie());
    assert.equal(fixture.store.writes(), 0);
    assert.equal(fixture.memory.size, 0);
    assert.equal(await fixture.manager.commit(session), fixture.manager.clearCookie());
    const after = await fixture.manager.load(cookie);
    assert.equal(after.isNew, true);
    assert.equal(after.size, 0);
    assert.equal(fixture.eventsOf('destroyed').length, 1);
  });

  it('after regenerate or reset, destroys the new record and the old one', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { visits: 1 });
    const session = await fixture.manager.load(cookie);
    await fixture.manager.regenerate(session);
    await fixture.manager.commit(session);
    session.reset();
    await fixture.manager.destroy(session);
    assert.equal(fixture.memory.size, 0);
    assert.equal(await fixture.manager.commit(session), fixture.manager.clearCookie());
  });
});

describe('regenerate next to other requests of the same session', () => {
  it('a concurrent destroy wins: the regenerated session comes back empty, with no record', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { name: 'alice' });
    const a = await fixture.manager.load(cookie);
    const b = await fixture.manager.load(cookie);
    await fixture.manager.destroy(b);
    await fixture.manager.commit(b);
    await fixture.manager.regenerate(a);
    assert.equal(a.get('name'), undefined);
    assert.equal(a.isNew, true);
    assert.equal(await fixture.manager.commit(a), undefined);
    assert.equal(fixture.memory.size, 0);
  });

  it('after a concurrent destroy, what is set next starts a brand-new session', async () => {
    const fixture = setup<Data>();
    const { cookie, token } = await storedSession(fixture, { name: 'alice' });
    const a = await fixture.manager.load(cookie);
    await fixture.manager.destroy(await fixture.manager.load(cookie));
    await fixture.manager.regenerate(a);
    a.set('visits', 1);
    const setCookie = await fixture.manager.commit(a);
    assert.notEqual(tokenFrom(setCookie), token);
    const renewed = await fixture.manager.load(cookieFrom(setCookie));
    assert.deepEqual(Object.fromEntries(renewed.entries()), { visits: 1 });
  });

  it("keeps another request's committed change, and this request's own", async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { name: 'light' });
    const a = await fixture.manager.load(cookie);
    const b = await fixture.manager.load(cookie);
    b.set('cart', ['book']);
    await fixture.manager.commit(b);
    a.set('name', 'dark');
    await fixture.manager.regenerate(a);
    const renewed = await fixture.manager.load(cookieFrom(await fixture.manager.commit(a)));
    assert.deepEqual(Object.fromEntries(renewed.entries()), { name: 'dark', cart: ['book'] });
    assert.equal(fixture.memory.size, 1, 'only the new record is left');
  });
});

describe('destroy, then reset', () => {
  it('writes nothing: reset() does not undo a destroy', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { name: 'alice' });
    const session = await fixture.manager.load(cookie);
    await fixture.manager.destroy(session);
    session.reset();
    session.set('name', 'mallory');
    fixture.store.resetCounts();
    assert.equal(await fixture.manager.commit(session), fixture.manager.clearCookie());
    assert.equal(fixture.store.writes(), 0);
    assert.equal(fixture.memory.size, 0);
  });
});

describe('a second commit in one request', () => {
  it('saves changes made after the first commit inside a value read before it', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { cart: [] });
    const session = await fixture.manager.load(cookie);
    const cart = session.get('cart') as string[];
    cart.push('a');
    await fixture.manager.commit(session);
    assert.equal(session.isModified, false);
    cart.push('b');
    assert.equal(session.isModified, true);
    await fixture.manager.commit(session);
    assert.deepEqual((await fixture.manager.load(cookie)).get('cart'), ['a', 'b']);
  });

  it('saves changes made after the first commit inside a value that was set', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { visits: 1 });
    const session = await fixture.manager.load(cookie);
    const cart: string[] = ['a'];
    session.set('cart', cart);
    await fixture.manager.commit(session);
    cart.push('b');
    await fixture.manager.commit(session);
    assert.deepEqual((await fixture.manager.load(cookie)).get('cart'), ['a', 'b']);
  });

  it('does not write again when nothing changed since the first commit', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { cart: ['a'] });
    const session = await fixture.manager.load(cookie);
    (session.get('cart') as string[]).push('b');
    session.set('name', 'x');
    await fixture.manager.commit(session);
    fixture.store.resetCounts();
    assert.equal(session.isModified, false);
    assert.equal(await fixture.manager.commit(session), undefined);
    assert.equal(fixture.store.writes(), 0);
  });
});

describe('isModified', () => {
  it('never throws, even when a value read became a cycle; the commit refuses it', async () => {
    const fixture = setup<Data>();
    const { cookie } = await storedSession(fixture, { user: { id: 1 } });
    const session = await fixture.manager.load(cookie);
    const user = session.get('user') as unknown as Record<string, unknown>;
    user.self = user;
    assert.equal(session.isModified, true);
    await assert.rejects(fixture.manager.commit(session), { code: 'DATA_NOT_JSON' });
  });
});

describe('createdAt across writes', () => {
  it('stays the creation time after later writes and a regenerate', async () => {
    const fixture = setup<Data>();
    const created = fixture.clock.now;
    const { cookie } = await storedSession(fixture, { visits: 1 });
    fixture.clock.advance(120);
    const later = await fixture.manager.load(cookie);
    later.set('visits', 2);
    await fixture.manager.commit(later);
    fixture.clock.advance(120);
    const again = await fixture.manager.load(cookie);
    assert.equal(again.createdAt, created);
    await fixture.manager.regenerate(again);
    const renewed = await fixture.manager.load(cookieFrom(await fixture.manager.commit(again)));
    assert.equal(renewed.createdAt, created);
  });
});
