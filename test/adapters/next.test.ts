/**
 * The Next.js adapter (`pithos/next`): `getSession`/`commitSession` over an in-memory cookie store
 * shaped like the one `cookies()` from `next/headers` returns, and `withSession` for route
 * handlers, called with real `Request` objects. No `next` install: the store below mirrors its
 * overloads (`set(name, value, options)` or `set({ name, value, ...options })`, `delete`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  commitSession,
  getSession,
  type NextCookie,
  type NextCookieOptions,
  withSession,
} from '../../src/adapters/next.ts';
import { type SessionManager, type SessionManagerOptions, StoreError } from '../../src/index.ts';
import type { ScenarioData } from './scenarios.ts';
import {
  NOW,
  parseSetCookie,
  scenarioManager,
  sessionCookie,
  type WatchedStore,
  watchedStore,
} from './support.ts';

type CookieOptions = Partial<NextCookieOptions> & { expires?: Date | number };

/** One request's cookie store, as Next.js gives it to a server action or route handler. */
class MemoryCookies {
  /** The cookies the response will set, by name, in the order of the calls. */
  readonly sent = new Map<string, { value: string; options: CookieOptions }>();
  readonly #incoming: Map<string, string>;

  constructor(incoming: Record<string, string> = {}) {
    this.#incoming = new Map(Object.entries(incoming));
  }

  get(...args: [name: string] | [cookie: NextCookie]): NextCookie | undefined {
    const name = typeof args[0] === 'string' ? args[0] : args[0].name;
    const value = this.sent.get(name)?.value ?? this.#incoming.get(name);
    return value === undefined ? undefined : { name, value };
  }

  set(
    ...args:
      | [name: string, value: string, options?: CookieOptions]
      | [options: CookieOptions & NextCookie]
  ): this {
    const [name, value, options] =
      typeof args[0] === 'string'
        ? [args[0], args[1] as string, args[2] ?? {}]
        : [args[0].name, args[0].value, args[0]];
    this.sent.set(name, { value, options: { ...options } });
    return this;
  }

  delete(...args: [name: string] | [options: CookieOptions & { name: string }]): this {
    const options = typeof args[0] === 'string' ? { name: args[0] } : args[0];
    return this.set({ ...options, value: '', expires: new Date(0) });
  }

  /** The value the response sets for `name` (the next request's cookie). */
  sentValue(name: string): string {
    const cookie = this.sent.get(name);
    assert.ok(cookie, `a ${name} cookie was set`);
    return cookie.value;
  }
}

const PLAIN = { cookie: { name: 'sid', secure: false, sameSite: 'strict' }, idleTimeout: 3600 };

function setup(options: Partial<SessionManagerOptions> = PLAIN as Partial<SessionManagerOptions>): {
  manager: SessionManager<ScenarioData>;
  store: WatchedStore;
} {
  const store = watchedStore();
  return { manager: scenarioManager<ScenarioData>(store, options), store };
}

/** A request that writes `key=value`; returns the token it was given. */
async function write(
  manager: SessionManager<ScenarioData>,
  key = 'a',
  value = '1',
): Promise<string> {
  const cookies = new MemoryCookies();
  const session = await getSession(manager, cookies);
  session.set(key, value);
  await commitSession(manager, cookies, session);
  return cookies.sentValue(manager.cookieName);
}

async function read(
  manager: SessionManager<ScenarioData>,
  token: string | undefined,
  key = 'a',
): Promise<{ value: string | null; isNew: boolean; sent: number }> {
  const cookies = new MemoryCookies(token === undefined ? {} : { [manager.cookieName]: token });
  const session = await getSession(manager, cookies);
  const result = { value: session.get(key) ?? null, isNew: session.isNew };
  await commitSession(manager, cookies, session);
  return { ...result, sent: cookies.sent.size };
}

describe('next: getSession and commitSession over the cookies() store', () => {
  it('a write sets the cookie with its configured attributes; the next request reads it', async () => {
    const { manager } = setup();
    const cookies = new MemoryCookies();
    const session = await getSession(manager, cookies);
    session.set('color', 'teal');
    await commitSession(manager, cookies, session);
    const sent = cookies.sent.get('sid');
    assert.ok(sent);
    assert.match(sent.value, /^[A-Za-z0-9_-]{64}$/);
    assert.deepEqual(sent.options, {
      maxAge: 3600,
      path: '/',
      httpOnly: true,
      secure: false,
      sameSite: 'strict',
    });
    assert.deepEqual(await read(manager, sent.value, 'color'), {
      value: 'teal',
      isNew: false,
      sent: 0,
    });
  });

  it('the default cookie: __Host-pithos, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async () => {
    const { manager } = setup({ idleTimeout: 86_400 });
    const cookies = new MemoryCookies();
    const session = await getSession(manager, cookies);
    session.set('a', '1');
    await commitSession(manager, cookies, session);
    assert.deepEqual(cookies.sent.get('__Host-pithos')?.options, {
      maxAge: 86_400,
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'lax',
    });
  });

  it('domain, partitioned and browser-session cookies keep their attributes', async () => {
    const { manager } = setup({
      cookie: {
        name: 'sid',
        domain: 'example.com',
        path: '/app',
        sameSite: 'none',
        partitioned: true,
        persistent: false,
      },
    });
    const token = await write(manager);
    const cookies = new MemoryCookies();
    const session = await getSession(manager, cookies);
    session.set('a', '2');
    await commitSession(manager, cookies, session);
    assert.deepEqual(cookies.sent.get('sid')?.options, {
      path: '/app',
      domain: 'example.com',
      httpOnly: true,
      secure: true,
      sameSite: 'none',
      partitioned: true,
    });
    assert.notEqual(cookies.sentValue('sid'), token);
  });

  it('a request that does not change the session sets no cookie and writes nothing', async () => {
    const { manager, store } = setup();
    assert.deepEqual(await read(manager, undefined), { value: null, isNew: true, sent: 0 });
    assert.equal(store.writes.started, 0);
    const token = await write(manager);
    const writes = store.writes.started;
    assert.deepEqual(await read(manager, token), { value: '1', isNew: false, sent: 0 });
    assert.equal(store.writes.started, writes);
  });

  it('regenerate: a new cookie value, the old one gives an empty session, the data is kept', async () => {
    const { manager } = setup();
    const token = await write(manager, 'user', 'ada');
    const cookies = new MemoryCookies({ sid: token });
    const session = await getSession(manager, cookies);
    await manager.regenerate(session);
    await commitSession(manager, cookies, session);
    const renewed = cookies.sentValue('sid');
    assert.notEqual(renewed, token);
    assert.deepEqual(await read(manager, token, 'user'), { value: null, isNew: true, sent: 0 });
    assert.equal((await read(manager, renewed, 'user')).value, 'ada');
  });

  it('destroy: the cookie is expired with its attributes, and stays gone after a later set', async () => {
    const { manager, store } = setup({ idleTimeout: 3600 });
    const token = await write(manager);
    const cookies = new MemoryCookies({ '__Host-pithos': token });
    const session = await getSession(manager, cookies);
    await manager.destroy(session);
    session.set('after', 'destroy');
    await commitSession(manager, cookies, session);
    assert.deepEqual(cookies.sent.get('__Host-pithos'), {
      value: '',
      // Secure and Path=/ included: a browser ignores a __Host- removal without them.
      options: {
        maxAge: 0,
        expires: new Date(0),
        path: '/',
        httpOnly: true,
        secure: true,
        sameSite: 'lax',
      },
    });
    assert.equal(store.memory.size, 0);
    assert.deepEqual(await read(manager, token), { value: null, isNew: true, sent: 0 });
    // Later in the same request the store reads the emptied cookie: no session, no error.
    assert.equal((await getSession(manager, cookies)).isNew, true);
  });

  it('tampered, truncated and malformed cookies give an empty session and no cookie', async () => {
    const { manager, store } = setup();
    const token = await write(manager);
    const writes = store.writes.started;
    const other = token[10] === 'A' ? 'B' : 'A';
    for (const bad of [
      `${token.slice(0, 10)}${other}${token.slice(11)}`,
      token.slice(0, -1),
      `${token}A`,
      'not-a-token!',
      `${token}; sid=${token}`,
    ]) {
      assert.deepEqual(await read(manager, bad), { value: null, isNew: true, sent: 0 }, bad);
    }
    assert.equal(store.writes.started, writes);
  });

  it('a store that fails: getSession and commitSession reject with the StoreError, no cookie', async () => {
    const { manager, store } = setup();
    const token = await write(manager);
    store.failing = true;
    await assert.rejects(getSession(manager, new MemoryCookies({ sid: token })), StoreError);
    store.failing = false;
    const cookies = new MemoryCookies();
    const session = await getSession(manager, cookies);
    session.set('a', '2');
    store.failing = true;
    await assert.rejects(commitSession(manager, cookies, session), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'STORE_FAILED');
      return true;
    });
    assert.equal(cookies.sent.size, 0);
  });

  it('IP binding uses the address the app passes', async () => {
    const { manager } = setup({ ...(PLAIN as Partial<SessionManagerOptions>), bindIP: true });
    await assert.rejects(getSession(manager, new MemoryCookies()), /bindIP/);
    const cookies = new MemoryCookies();
    const session = await getSession(manager, cookies, { ip: '203.0.113.7' });
    session.set('a', '1');
    await commitSession(manager, cookies, session);
    const token = cookies.sentValue('sid');
    const from = async (ip: string) =>
      (await getSession(manager, new MemoryCookies({ sid: token }), { ip })).get('a') ?? null;
    assert.equal(await from('203.0.113.7'), '1');
    assert.equal(await from('198.51.100.9'), null);
  });
});

describe('next: withSession for route handlers', () => {
  const url = 'http://localhost:3000/api/visits';
  const context = { params: Promise.resolve({ id: '7' }) };

  it('passes the context through and adds the cookie, no-store and Vary to the response', async () => {
    const { manager } = setup();
    const GET = withSession(
      manager,
      async (_request: Request, session, { params }: { params: Promise<{ id: string }> }) => {
        session.set('id', (await params).id);
        return Response.json({ ok: true }, { headers: { vary: 'Accept' } });
      },
    );
    const response = await GET(new Request(url), context);
    assert.equal(response.status, 200);
    const cookie = sessionCookie(response.headers.getSetCookie(), 'sid');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('vary'), 'Accept, Cookie');
    // The cookie-store helpers read what the route handler wrote.
    assert.deepEqual(await read(manager, cookie.value, 'id'), {
      value: '7',
      isNew: false,
      sent: 0,
    });
  });

  it('reads the cookie of the request; Response.redirect (immutable headers) still gets the cookie', async () => {
    let now = NOW;
    const { manager } = setup({ ...PLAIN, clock: () => now } as Partial<SessionManagerOptions>);
    const token = await write(manager, 'user', 'ada');
    // Past the touch interval, so this write moves the idle deadline and re-sends the cookie.
    now += 61_000;
    const POST = withSession(manager, (request, session) => {
      session.set('seen', 'yes');
      return Response.redirect(new URL(`/hello/${session.get('user')}`, request.url), 303);
    });
    const response = await POST(
      new Request(url, { method: 'POST', headers: { cookie: `sid=${token}` } }),
      {},
    );
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), 'http://localhost:3000/hello/ada');
    const cookies = response.headers.getSetCookie().map(parseSetCookie);
    assert.deepEqual(
      cookies.map((cookie) => [cookie.name, cookie.value]),
      [['sid', token]],
    );
    assert.equal((await read(manager, token, 'seen')).value, 'yes');
  });

  it("Next.js's redirect() and notFound() signals reach Next.js as thrown, uncommitted", async () => {
    const { manager, store } = setup();
    const seen: unknown[] = [];
    for (const digest of ['NEXT_REDIRECT;replace;/login;307;', 'NEXT_HTTP_ERROR_FALLBACK;404']) {
      // What redirect() and notFound() throw: an Error whose digest Next.js recognizes.
      const signal = Object.assign(new Error(digest), { digest });
      const GET = withSession(
        manager,
        (_request, session) => {
          session.set('a', 'lost');
          throw signal;
        },
        {
          onError: (error) => {
            seen.push(error);
            return new Response('handled', { status: 500 });
          },
        },
      );
      await assert.rejects(GET(new Request(url), {}), (error) => error === signal);
    }
    assert.deepEqual(seen, [], 'onError is for failures only');
    assert.equal(store.writes.started, 0);
  });

  it('a store failure or a handler that throws answers 500 without details; onError replaces it', async (t) => {
    t.mock.method(console, 'error', () => {});
    const { manager, store } = setup();
    const token = await write(manager);
    const GET = withSession(manager, (_request, session) => {
      if (session.get('a') === 'throw') throw new Error('handler failed');
      return new Response('ok');
    });
    store.failing = true;
    const failed = await GET(new Request(url, { headers: { cookie: `sid=${token}` } }), undefined);
    assert.deepEqual([failed.status, await failed.text()], [500, 'Internal Server Error']);
    assert.deepEqual(failed.headers.getSetCookie(), []);

    const seen: unknown[] = [];
    const custom = withSession(manager, () => new Response('ok'), {
      onError: (error) => {
        seen.push(error);
        return new Response('later', { status: 503 });
      },
    });
    const replaced = await custom(new Request(url, { headers: { cookie: `sid=${token}` } }), {});
    assert.deepEqual([replaced.status, await replaced.text()], [503, 'later']);
    assert.ok(seen[0] instanceof StoreError);
  });
});

// Type tests (checked by `tsc -p tsconfig.json`): the data type flows from the manager through the
// helpers, and the store shape of cookies() fits.
interface Cart {
  visits: number;
  items: string[];
}
async function typeTests(manager: SessionManager<Cart>, cookies: MemoryCookies): Promise<void> {
  const session = await getSession(manager, cookies);
  session.set('visits', (session.get('visits') ?? 0) + 1);
  // @ts-expect-error an unknown key does not compile
  session.get('unknown-key');
  // @ts-expect-error a wrongly typed value does not compile
  session.set('items', 'apple');
  await commitSession(manager, cookies, session);
  // @ts-expect-error a read-only store (no set) cannot commit
  await commitSession(manager, { get: () => undefined }, session);
  // @ts-expect-error a session of another data type does not commit through this manager
  await commitSession(manager, cookies, await getSession(setup().manager, cookies));
  const handler = withSession(manager, (_request, routeSession) => {
    // @ts-expect-error wrong type through the route handler
    routeSession.set('visits', true);
    return new Response(String(routeSession.get('visits') ?? 0));
  });
  await handler(new Request('http://localhost/'), undefined);
}
void typeTests;
