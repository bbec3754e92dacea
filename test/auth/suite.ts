/**
 * The auth suite: every promise of `pithos/auth` checked against one store. Each store the auth
 * helpers support runs it (memory here; Redis and PostgreSQL in their own files).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkSession,
  csrfToken,
  elevate,
  getUserExtra,
  getUserID,
  isRecentlyAuthenticated,
  keepLogin,
  listSessions,
  login,
  logout,
  revokeAllSessions,
  revokeOtherSessions,
  revokeSession,
  verifyCSRF,
} from '../../src/auth/index.ts';
import { createSessionManager, type SessionManager, type Store } from '../../src/index.ts';

type Data = { cart: string[]; theme: string };

export const SECRET = 'auth-suite-secret-7c1f0e9a2b4d6e8f0a1c3e5b7d9f1a3c';
const OLD_SECRET = 'auth-suite-old-secret-3b8e1d5a9c7f2e4b6d0a8c1e3f5b7d92';

/** A store factory, and an optional raw dump of everything the back-end holds. */
export interface AuthStoreTarget {
  createStore: () => Store | Promise<Store>;
  closeStore?: (store: Store) => Promise<void> | void;
  dump?: (store: Store) => Promise<string>;
}

export interface Fixture {
  manager: SessionManager<Data>;
  store: Store;
  clock: { now: number };
  /** Every key, record and user key handed to the store. */
  seen: string[];
  /** Loads a cookie header, runs `body`, commits; returns the cookie pair to use next. */
  request(
    cookie: string | undefined,
    body?: (session: Awaited<ReturnType<SessionManager<Data>['load']>>) => Promise<void> | void,
  ): Promise<{ cookie: string | undefined; setCookie: string | undefined }>;
  close(): Promise<void>;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

export async function fixture(target: AuthStoreTarget): Promise<Fixture> {
  const inner = await target.createStore();
  const seen: string[] = [];
  const store: Store = Object.create(inner);
  store.set = (key, record, options) => {
    seen.push(key, hex(record), Buffer.from(record).toString('latin1'), options.userKey ?? '');
    return inner.set(key, record, options);
  };
  if (inner.compareAndSet) {
    const cas = inner.compareAndSet.bind(inner);
    store.compareAndSet = (key, expected, record, options) => {
      seen.push(key, hex(record), Buffer.from(record).toString('latin1'), options.userKey ?? '');
      return cas(key, expected, record, options);
    };
  }
  const clock = { now: Date.UTC(2031, 0, 1) };
  // The clock only drives the sealed timestamps; the store keeps real time for its own expiry.
  const manager = createSessionManager<Data>({ store, secret: SECRET, clock: () => clock.now });
  const request: Fixture['request'] = async (cookie, body) => {
    const session = await manager.load(cookie, {
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
    });
    await body?.(session);
    const setCookie = await manager.commit(session);
    const next =
      setCookie === undefined
        ? cookie
        : setCookie.includes('Max-Age=0')
          ? undefined
          : setCookie.split(';')[0];
    return { cookie: next, setCookie };
  };
  return { manager, store, clock, seen, request, close: async () => target.closeStore?.(inner) };
}

async function loggedIn(f: Fixture, user: string, checkvalue: string): Promise<string> {
  const { cookie } = await f.request(undefined, (s) => login(s, user, checkvalue));
  assert.ok(cookie);
  return cookie;
}

async function userOf(f: Fixture, cookie: string | undefined): Promise<string | undefined> {
  let user: string | undefined;
  await f.request(cookie, (s) => {
    user = getUserID(s);
  });
  return user;
}

export function describeAuth(name: string, target: AuthStoreTarget): void {
  const withFixture = (body: (f: Fixture) => Promise<void>) => async () => {
    const f = await fixture(target);
    try {
      await body(f);
    } finally {
      await f.close();
    }
  };

  describe(`pithos/auth on the ${name} store`, () => {
    it('a secret rotation lists each device once, before and after the old secret goes', async () => {
      const store = await target.createStore();
      try {
        const managerWith = (secrets: string[]) => createSessionManager({ store, secrets });
        const before = managerWith([OLD_SECRET]);
        const session = await before.load(undefined);
        await login(session, 'rota', 'cv-1');
        const cookie = (await before.commit(session))?.split(';')[0];
        // A write during the rotation reseals the record, and its device record, under the new
        // secret; the old secret's index may still name that device record.
        const during = managerWith([SECRET, OLD_SECRET]);
        const cart = await during.load(cookie);
        cart.set('cart', ['book']);
        await during.commit(cart);
        assert.equal((await listSessions(during, 'rota')).length, 1);
        const after = managerWith([SECRET]);
        assert.equal((await listSessions(after, 'rota')).length, 1);
        assert.equal(await revokeAllSessions(during, 'rota'), 1);
        assert.equal(getUserID(await after.load(cookie)), undefined);
      } finally {
        await target.closeStore?.(store);
      }
    });

    it(
      'a rotation that commits before a revocation leaves one session for it to end',
      withFixture(async (f) => {
        const cookie = await loggedIn(f, 'rota', 'cv-1');
        const { cookie: rotated } = await f.request(cookie, (s) => elevate(s));
        assert.notEqual(rotated, cookie);
        assert.equal(await userOf(f, cookie), undefined, 'the old cookie no longer loads it');
        assert.equal(await userOf(f, rotated), 'rota');
        assert.equal(await revokeAllSessions(f.manager, 'rota'), 1);
        assert.equal(await userOf(f, rotated), undefined);
      }),
    );

    it(
      'a session re-created by a rotation during a revocation still ends at checkSession once the checkvalue changed',
      withFixture(async (f) => {
        const cookie = await loggedIn(f, 'rota', 'cv-1');
        const rotating = await f.manager.load(cookie);
        await elevate(rotating);
        // The password changes and every session is revoked while that request runs.
        await revokeAllSessions(f.manager, 'rota');
        const next = (await f.manager.commit(rotating))?.split(';')[0];
        let ended: boolean | undefined;
        await f.request(next, async (s) => {
          ended = !(await checkSession(s, 'cv-2'));
        });
        assert.equal(ended, true);
        assert.equal(await userOf(f, next), undefined);
      }),
    );

    it(
      'login binds the user, keeps only the listed keys, and logout ends the session',
      withFixture(async (f) => {
        const anon = await f.request(undefined, (s) => {
          s.set('cart', ['apple']);
          s.set('theme', 'dark');
        });
        const after = await f.request(anon.cookie, async (s) => {
          await login(s, 'alice', 'cv-1', { method: 'password' }, { keep: ['cart'] });
          assert.equal(getUserID(s), 'alice');
          assert.deepEqual(getUserExtra(s), { method: 'password' });
        });
        assert.notEqual(after.cookie, anon.cookie, 'login rotates the cookie');
        await f.request(after.cookie, (s) => {
          assert.equal(getUserID(s), 'alice');
          assert.deepEqual(s.get('cart'), ['apple']);
          assert.equal(s.get('theme'), undefined, 'unlisted anonymous data is dropped');
        });
        const out = await f.request(after.cookie, (s) => logout(s));
        assert.match(out.setCookie ?? '', /Max-Age=0/);
        assert.equal(await userOf(f, after.cookie), undefined);
      }),
    );

    it(
      'fixation: a planted pre-login cookie neither reads nor acts in the victim’s session',
      withFixture(async (f) => {
        const planted = await f.request(undefined, (s) => s.set('theme', 'attacker'));
        assert.ok(planted.cookie);
        const victim = await f.request(planted.cookie, (s) => login(s, 'victim', 'cv'));
        assert.notEqual(victim.cookie, planted.cookie);
        await f.request(planted.cookie, (s) => {
          assert.equal(s.isNew, true, 'the planted cookie is dead');
          assert.equal(getUserID(s), undefined);
          assert.equal(s.get('theme'), undefined);
        });
        assert.equal(await userOf(f, victim.cookie), 'victim');
      }),
    );

    it(
      'password change: other sessions end on their next request; keepLogin keeps this one',
      withFixture(async (f) => {
        const laptop = await loggedIn(f, 'bob', 'cv-old');
        const phone = await loggedIn(f, 'bob', 'cv-old');
        const changed = await f.request(laptop, (s) => keepLogin(s, 'bob', 'cv-new'));
        assert.notEqual(changed.cookie, laptop, 'keepLogin rotates the ID');
        let phoneOK: boolean | undefined;
        const phoneNext = await f.request(phone, async (s) => {
          phoneOK = await checkSession(s, 'cv-new');
        });
        assert.equal(phoneOK, false);
        assert.match(phoneNext.setCookie ?? '', /Max-Age=0/);
        assert.equal(
          await userOf(f, phone),
          undefined,
          'the other session is anonymous, its record gone',
        );
        let laptopOK: boolean | undefined;
        await f.request(changed.cookie, async (s) => {
          laptopOK = await checkSession(s, 'cv-new');
        });
        assert.equal(laptopOK, true);
        assert.equal(
          await userOf(f, laptop),
          undefined,
          'the pre-change cookie of the laptop is dead',
        );
      }),
    );

    it(
      'keepLogin with another user ID logs the session out',
      withFixture(async (f) => {
        const cookie = await loggedIn(f, 'carol', 'cv');
        await f.request(cookie, (s) => keepLogin(s, 'mallory', 'cv2'));
        assert.equal(await userOf(f, cookie), undefined);
      }),
    );

    it(
      'a rolled-back record does not survive a checkvalue change',
      withFixture(async (f) => {
        const cookie = await loggedIn(f, 'dave', 'cv-1');
        const key = await storeKeyOf(f, cookie);
        const oldBlob = await f.store.get(key);
        assert.ok(oldBlob);
        // The app changes dave's checkvalue; an attacker with write access restores the old blob.
        await f.request(cookie, async (s) => {
          assert.equal(await checkSession(s, 'cv-2'), false);
        });
        assert.equal(await f.store.get(key), undefined);
        await f.store.set(key, oldBlob, { expiresAt: Date.now() + 3_600_000 });
        let ok: boolean | undefined;
        await f.request(cookie, async (s) => {
          ok = await checkSession(s, 'cv-2');
        });
        assert.equal(ok, false, 'the restored record is refused');
        assert.equal(await f.store.get(key), undefined, 'and deleted');
      }),
    );

    it(
      'listSessions shows exactly the live sessions; revocation is immediate and per user',
      withFixture(async (f) => {
        const one = await loggedIn(f, 'erin', 'cv');
        const two = await loggedIn(f, 'erin', 'cv');
        const three = await loggedIn(f, 'erin', 'cv');
        const other = await loggedIn(f, 'frank', 'cv');
        let current: Awaited<ReturnType<typeof listSessions>> = [];
        await f.request(two, async (s) => {
          current = await listSessions(f.manager, 'erin', { current: s });
        });
        assert.equal(current.length, 3);
        assert.equal(current.filter((info) => info.current).length, 1);
        assert.equal(current[0]?.userAgent, 'Firefox on Linux');
        assert.equal(current[0]?.ip, undefined, 'no address unless the login opted in');
        await f.request(three, (s) => logout(s));
        const listed = await listSessions(f.manager, 'erin');
        assert.equal(listed.length, 2, 'a logged-out session is not listed');
        const target = listed.find(
          (info) => !current.find((c) => c.current && c.handle === info.handle),
        );
        assert.ok(target);
        assert.equal(await revokeSession(f.manager, 'erin', target.handle), true);
        assert.equal(await revokeSession(f.manager, 'erin', target.handle), false);
        const remaining = [await userOf(f, one), await userOf(f, two)].filter(Boolean);
        assert.equal(
          remaining.length,
          1,
          'the revoked session is anonymous on its very next request',
        );
        assert.equal(await userOf(f, other), 'frank', 'other users are untouched');
        assert.equal(await revokeAllSessions(f.manager, 'erin'), 1);
        assert.equal(await userOf(f, one), undefined);
        assert.equal(await userOf(f, two), undefined);
        assert.deepEqual(await listSessions(f.manager, 'erin'), []);
        assert.equal((await listSessions(f.manager, 'frank')).length, 1);
      }),
    );

    it(
      'listSessions with the current checkvalue leaves out sessions a password change ended',
      withFixture(async (f) => {
        const here = await loggedIn(f, 'hana', 'old');
        const there = await loggedIn(f, 'hana', 'old');
        assert.equal((await listSessions(f.manager, 'hana', { checkvalue: 'old' })).length, 2);
        const { cookie: kept } = await f.request(here, (s) => keepLogin(s, 'hana', 'new'));
        const listed = await listSessions(f.manager, 'hana', { checkvalue: 'new' });
        assert.equal(listed.length, 1, 'only the session that kept its login');
        let currentHandle: string | undefined;
        await f.request(kept, async (s) => {
          const mine = await listSessions(f.manager, 'hana', { current: s, checkvalue: 'new' });
          currentHandle = mine.find((info) => info.current)?.handle;
        });
        assert.equal(currentHandle, listed[0]?.handle);
        assert.equal(
          (await listSessions(f.manager, 'hana')).length,
          2,
          'without a checkvalue, the ended session shows until its next request',
        );
        assert.deepEqual(await listSessions(f.manager, 'hana', { checkvalue: 'other' }), []);
        let stillIn: boolean | undefined;
        await f.request(there, async (s) => {
          stillIn = await checkSession(s, 'new');
        });
        assert.equal(stillIn, false, 'the other session ends at its next request');
        assert.equal((await listSessions(f.manager, 'hana')).length, 1);
        await assert.rejects(
          listSessions(f.manager, 'hana', { checkvalue: 42 as unknown as string }),
          { code: 'CONFIG_INVALID' },
        );
      }),
    );

    it(
      'revokeOtherSessions signs out every other device and keeps this one',
      withFixture(async (f) => {
        const here = await loggedIn(f, 'gina', 'cv');
        const there = await loggedIn(f, 'gina', 'cv');
        const elsewhere = await loggedIn(f, 'gina', 'cv');
        let ended = 0;
        await f.request(here, async (s) => {
          ended = await revokeOtherSessions(s);
        });
        assert.equal(ended, 2);
        assert.equal(await userOf(f, here), 'gina');
        assert.equal(await userOf(f, there), undefined);
        assert.equal(await userOf(f, elsewhere), undefined);
      }),
    );

    it(
      'records the address only when the login asks for it',
      withFixture(async (f) => {
        await f.request(undefined, (s) => login(s, 'hank', 'cv', undefined, { recordIP: true }));
        const [info] = await listSessions(f.manager, 'hank');
        assert.equal(info?.ip, '203.0.113.9');
      }),
    );

    it(
      'recent authentication and elevate',
      withFixture(async (f) => {
        const cookie = await loggedIn(f, 'ivy', 'cv');
        f.clock.now += 10 * 60_000;
        let recent: boolean | undefined;
        const next = await f.request(cookie, async (s) => {
          recent = isRecentlyAuthenticated(s, 300);
          assert.equal(isRecentlyAuthenticated(s, 3600), true);
          await elevate(s);
          assert.equal(isRecentlyAuthenticated(s, 300), true);
        });
        assert.equal(recent, false);
        assert.notEqual(next.cookie, cookie, 'elevate rotates the ID');
        await f.request(next.cookie, (s) => assert.equal(isRecentlyAuthenticated(s, 300), true));
        await f.request(undefined, async (s) => {
          assert.equal(isRecentlyAuthenticated(s, 300), false);
          await assert.rejects(elevate(s), /logged-in/);
        });
      }),
    );

    it(
      'CSRF tokens: bound to the session, changed by login, refused from elsewhere, never throw',
      withFixture(async (f) => {
        let anonToken = '';
        const anon = await f.request(undefined, (s) => {
          anonToken = csrfToken(s);
        });
        assert.ok(anon.cookie, 'asking for a token stores the session');
        await f.request(anon.cookie, (s) => {
          assert.equal(verifyCSRF(s, anonToken), true);
          assert.equal(csrfToken(s), anonToken, 'stable within a session');
        });
        let userToken = '';
        const user = await f.request(anon.cookie, async (s) => {
          await login(s, 'jane', 'cv');
          userToken = csrfToken(s);
          assert.equal(verifyCSRF(s, anonToken), false, 'a token from before login is refused');
        });
        assert.notEqual(userToken, anonToken);
        let otherToken = '';
        await f.request(undefined, (s) => {
          otherToken = csrfToken(s);
        });
        await f.request(user.cookie, (s) => {
          assert.equal(verifyCSRF(s, userToken), true);
          assert.equal(verifyCSRF(s, otherToken), false, 'a token from another session is refused');
          assert.equal(verifyCSRF(s, undefined), false, 'a missing token is refused');
          assert.equal(verifyCSRF(s, ''), false);
          const flipped = (userToken[0] === 'A' ? 'B' : 'A') + userToken.slice(1);
          assert.equal(verifyCSRF(s, flipped), false, 'right length, wrong value');
          assert.equal(verifyCSRF(s, { toString: () => userToken }), false);
        });
      }),
    );

    it('no user ID, checkvalue, token or cookie reaches the store, events, logs or errors', async () => {
      const lines: string[] = [];
      const f = await fixture(target);
      try {
        f.manager.on('created', (e) => lines.push(JSON.stringify(e)));
        f.manager.on('destroyed', (e) => lines.push(JSON.stringify(e)));
        f.manager.on('rotated', (e) => lines.push(JSON.stringify(e)));
        const user = 'user-canary-5b1e@example.com';
        const checkvalue = 'checkvalue-canary-91d3';
        const cookie = await loggedIn(f, user, checkvalue);
        await f.request(cookie, (s) => keepLogin(s, user, `${checkvalue}-2`));
        const token = cookie.slice(cookie.indexOf('=') + 1);
        const haystacks = [...f.seen, ...lines];
        if (target.dump) haystacks.push(await target.dump(f.store));
        for (const needle of [user, checkvalue, token, 'Firefox']) {
          assert.ok(
            !haystacks.some((hay) => hay.includes(needle)),
            `plaintext ${needle.slice(0, 12)}… found`,
          );
        }
      } finally {
        await f.close();
      }
    });
  });
}

/** The store key of a cookie, from the token (the suite knows the format, see docs/FORMAT.md). */
async function storeKeyOf(f: Fixture, cookie: string): Promise<string> {
  const { parseToken } = await import('../../src/core/token.ts');
  const { cryptoProvider } = await import('../../src/core/crypto.ts');
  const token = parseToken(
    cryptoProvider(f.manager.cryptoName),
    cookie.slice(cookie.indexOf('=') + 1),
  );
  assert.ok(token);
  return token.storeKey;
}
