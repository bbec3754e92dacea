/**
 * pithos/auth next to flash values, concurrent requests, secret rotation, foreign origins and
 * empty checkvalues (the cases a review found), on the memory store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkSession,
  csrfToken,
  elevate,
  getUserExtra,
  getUserID,
  listSessions,
  login,
  logout,
  revokeAllSessions,
  revokeOtherSessions,
  verifyCSRF,
  verifyOrigin,
} from '../../src/auth/index.ts';
import { ConfigError, createSessionManager, type Store } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import { fixture, SECRET } from './suite.ts';

const memory = { createStore: () => memoryStore() };
const OLD_SECRET = 'auth-review-old-secret-5e2a9c71d4b08f36a1c7e9d2b50f4a86';

describe('login starts from this request only', () => {
  it('drops flash values the anonymous session was carrying', async () => {
    const f = await fixture(memory);
    const planted = await f.request(undefined, (s) => s.flash('notice', 'wire money to XX'));
    const after = await f.request(planted.cookie, (s) => login(s, 'alice', 'cv-1'));
    let notice: unknown = 'not read';
    await f.request(after.cookie, (s) => {
      notice = s.getFlash('notice');
    });
    assert.equal(notice, undefined);
  });

  it('keeps a flash set by the logging-in request itself', async () => {
    const f = await fixture(memory);
    const after = await f.request(undefined, async (s) => {
      await login(s, 'alice', 'cv-1');
      s.flash('welcome', 'hello');
    });
    let welcome: unknown;
    await f.request(after.cookie, (s) => {
      welcome = s.getFlash('welcome');
    });
    assert.equal(welcome, 'hello');
  });

  it('after a regenerate in the same request, still drops what others wrote meanwhile', async () => {
    const f = await fixture(memory);
    const anonymous = await f.request(undefined, (s) => s.set('theme', 'dark'));
    const session = await f.manager.load(anonymous.cookie);
    await f.request(anonymous.cookie, (s) => s.set('cart', ['planted']));
    await f.manager.regenerate(session);
    await login(session, 'alice', 'cv-1');
    const setCookie = await f.manager.commit(session);
    const loaded = await f.manager.load(setCookie?.split(';')[0]);
    assert.deepEqual(Object.fromEntries(loaded.entries()), {});
    assert.equal(getUserID(loaded), 'alice');
  });
});

describe('a destroyed session has no user', () => {
  it('after logout or a failed checkSession: no user ID, no extra, nothing revoked', async () => {
    const f = await fixture(memory);
    const laptop = await f.request(undefined, (s) => login(s, 'alice', 'cv-1', { role: 'admin' }));
    const phone = await f.request(undefined, (s) => login(s, 'alice', 'cv-1'));
    const stale = await f.manager.load(laptop.cookie);
    assert.equal(await checkSession(stale, 'cv-2'), false);
    assert.equal(getUserID(stale), undefined);
    assert.deepEqual(getUserExtra(stale), {});
    assert.equal(await revokeOtherSessions(stale), 0);
    const stillThere = await f.manager.load(phone.cookie);
    assert.equal(getUserID(stillThere), 'alice', "the stale session revoked nobody's session");

    await logout(stillThere);
    assert.equal(getUserID(stillThere), undefined);
  });
});

describe('checkvalue bindings and secret rotation', () => {
  it('rotating the secret as documented ([new, old], then [new]) logs nobody out', async () => {
    const store = memoryStore();
    const clock = { now: Date.UTC(2031, 0, 1) };
    const managerWith = (secrets: string[]) =>
      createSessionManager({ store, secrets, clock: () => clock.now });
    const before = managerWith([OLD_SECRET]);
    const first = await before.load(undefined);
    await login(first, 'alice', 'cv-1');
    let cookie = (await before.commit(first))?.split(';')[0];

    const during = managerWith([SECRET, OLD_SECRET]);
    clock.now += 120_000;
    const second = await during.load(cookie);
    assert.equal(await checkSession(second, 'cv-1'), true);
    cookie = (await during.commit(second))?.split(';')[0] ?? cookie;

    const after = managerWith([SECRET]);
    clock.now += 120_000;
    const third = await after.load(cookie);
    assert.equal(getUserID(third), 'alice', 'the record opens under the new secret');
    assert.equal(await checkSession(third, 'cv-1'), true);
    assert.equal(await checkSession(third, 'cv-2'), false, 'a changed checkvalue still ends it');
  });
});

describe('checkvalues must not be empty', () => {
  it('login refuses an empty checkvalue, so a missing one can never match', async () => {
    const f = await fixture(memory);
    const session = await f.manager.load(undefined);
    await assert.rejects(login(session, 'oauth-user', ''), { code: 'CONFIG_INVALID' });
  });

  it('login with no user ID and elevate with nobody logged in throw ConfigError', async () => {
    const f = await fixture(memory);
    const session = await f.manager.load(undefined);
    await assert.rejects(login(session, '', 'cv-1'), ConfigError);
    await assert.rejects(login(session, 'u', ''), ConfigError);
    await assert.rejects(elevate(session), ConfigError);
  });
});

describe('the device list next to a login in flight', () => {
  it('listing while a login commits does not drop the new session from the index', async () => {
    const inner = memoryStore();
    let gate: (() => void) | undefined;
    let arrived: (() => void) | undefined;
    const atGate = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const store: Store = Object.create(inner);
    store.compareAndSet = async (key, expected, record, options) => {
      if (gate === undefined && expected === undefined && options.userKey === undefined) {
        // The login's session record, after its device record: wait here.
        await new Promise<void>((resolve) => {
          gate = resolve;
          arrived?.();
        });
      }
      return inner.compareAndSet(key, expected, record, options);
    };
    const manager = createSessionManager({ store, secret: SECRET });
    const session = await manager.load(undefined);
    await login(session, 'alice', 'cv-1');
    const committing = manager.commit(session);
    await atGate;
    assert.equal((await listSessions(manager, 'alice')).length, 0, 'not written yet');
    gate?.();
    await committing;
    assert.equal((await listSessions(manager, 'alice')).length, 1);
    assert.equal(await revokeAllSessions(manager, 'alice'), 1);
  });
});

describe('verifyOrigin', () => {
  const post = (headers: Record<string, string>) => ({ method: 'POST', headers });

  it('tells apart origins of schemes that are not special (apps, extensions)', () => {
    assert.equal(
      verifyOrigin(post({ origin: 'chrome-extension://evil' }), ['capacitor://localhost']),
      false,
    );
    assert.equal(verifyOrigin(post({ origin: 'evil://x' }), ['tauri://localhost']), false);
    assert.equal(
      verifyOrigin(post({ origin: 'chrome-extension://bbbb' }), ['chrome-extension://aaaa']),
      false,
    );
    assert.equal(
      verifyOrigin(post({ origin: 'capacitor://localhost' }), ['capacitor://localhost']),
      true,
    );
    assert.equal(verifyOrigin(post({ origin: 'null' }), ['null']), false);
  });

  it('treats a request without a method as unsafe, and never throws', () => {
    const allowed = ['https://app.example'];
    assert.equal(verifyOrigin({ headers: { origin: 'https://evil.example' } }, allowed), false);
    assert.equal(verifyOrigin({ headers: { origin: 'https://app.example' } }, allowed), true);
    assert.equal(verifyOrigin({ method: 'POST' } as never, allowed), false);
    assert.equal(verifyOrigin({ method: 'POST', headers: null } as never, allowed), false);
    assert.equal(verifyOrigin({ method: 42, headers: {} } as never, allowed), false);
  });
});

/** Logs alice in on a manager with `secrets` over `store`; the cookie pair to send next. */
async function loggedInUnder(store: Store, secrets: string[]): Promise<string | undefined> {
  const manager = createSessionManager({ store, secrets });
  const session = await manager.load(undefined);
  await login(session, 'alice', 'cv-1');
  return (await manager.commit(session))?.split(';')[0];
}

describe('device lists during a secret rotation', () => {
  it('under [new, old], a session logged in under the old secret is listed and revoked', async () => {
    const store = memoryStore();
    const cookie = await loggedInUnder(store, [OLD_SECRET]);
    const during = createSessionManager({ store, secrets: [SECRET, OLD_SECRET] });
    assert.equal((await listSessions(during, 'alice')).length, 1);
    assert.equal(await revokeAllSessions(during, 'alice'), 1);
    assert.equal(getUserID(await during.load(cookie)), undefined);
  });

  it('a session rewritten under [new, old] is still listed and revoked once old is removed', async () => {
    const store = memoryStore();
    const cookie = await loggedInUnder(store, [OLD_SECRET]);
    // A write under [new, old] on a route without checkSession reseals the record under new.
    const during = createSessionManager({ store, secrets: [SECRET, OLD_SECRET] });
    const cart = await during.load(cookie);
    cart.set('cart', ['book']);
    await during.commit(cart);
    const after = createSessionManager({ store, secrets: [SECRET] });
    assert.equal(getUserID(await after.load(cookie)), 'alice');
    assert.equal((await listSessions(after, 'alice')).length, 1);
    assert.equal(await revokeAllSessions(after, 'alice'), 1);
    assert.equal(getUserID(await after.load(cookie)), undefined);
  });
});

describe('logout and CSRF on a destroyed session', () => {
  it('logout removes the device record too, not only the session', async () => {
    const store = memoryStore();
    const manager = createSessionManager({ store, secret: SECRET });
    const session = await manager.load(undefined);
    await login(session, 'alice', 'cv-1');
    const cookie = (await manager.commit(session))?.split(';')[0];
    assert.equal(store.size, 2, 'a session record and its device record');
    const again = await manager.load(cookie);
    await logout(again);
    await manager.commit(again);
    assert.equal(store.size, 0);
  });

  it('csrfToken throws SESSION_DESTROYED and verifyCSRF refuses, once destroyed', async () => {
    const f = await fixture(memory);
    const { cookie } = await f.request(undefined, (s) => login(s, 'alice', 'cv-1'));
    const session = await f.manager.load(cookie);
    const token = csrfToken(session);
    assert.equal(verifyCSRF(session, token), true);
    await logout(session);
    assert.throws(() => csrfToken(session), { code: 'SESSION_DESTROYED' });
    assert.equal(verifyCSRF(session, token), false);
  });
});

describe('sign out everywhere on a full memory store', () => {
  it('finds a session in use after anonymous visitors filled the store', async () => {
    const store = memoryStore({ maxEntries: 50 });
    const manager = createSessionManager({ store, secret: SECRET });
    const victim = await manager.load(undefined, { userAgent: 'Firefox/140.0 Linux' });
    await login(victim, 'alice', 'cv-1');
    const stolen = (await manager.commit(victim))?.split(';')[0];
    // The stolen session stays in use while visitors fill the store; its device record, read
    // only when sessions are listed, is the least recently used record of all.
    for (let i = 0; i < 60; i++) {
      const visitor = await manager.load(undefined);
      visitor.set('n', i);
      await manager.commit(visitor);
      if (i % 5 === 0) await manager.load(stolen);
    }
    assert.equal((await listSessions(manager, 'alice')).length, 1);
    assert.equal(await revokeAllSessions(manager, 'alice'), 1);
    assert.equal(getUserID(await manager.load(stolen)), undefined);
  });
});

describe('the extra data of a login', () => {
  it('is copied at login and by getUserExtra: neither the caller nor a reader changes the seal', async () => {
    const f = await fixture(memory);
    const extra = { method: 'password', roles: ['user'] };
    const { cookie } = await f.request(undefined, (s) => login(s, 'alice', 'cv-1', extra));
    extra.roles.push('admin');
    (extra as Record<string, unknown>).method = 'sso';
    await f.request(cookie, (s) => {
      (getUserExtra(s).roles as string[]).push('admin');
      s.set('cart', ['book']); // a write, which seals the user binding again
    });
    let seen: unknown;
    await f.request(cookie, (s) => {
      seen = getUserExtra(s);
    });
    assert.deepEqual(seen, { method: 'password', roles: ['user'] });
  });
});
