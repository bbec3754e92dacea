/**
 * The adapter scenario suite: the same real-HTTP scenarios (issue 4, items 1-10) against every
 * adapter. An adapter's test file calls `describeAdapterScenarios(name, startApp)`, where
 * `startApp(manager, options)` serves an app on 127.0.0.1 that answers EVERY request by calling
 * `options.route(session, url)` with the request's session and full URL, and sending the `Reply`
 * it resolves to, the way that framework's users would:
 *
 * - `{ kind: 'text', status, body }`: that status and body (`text/plain`).
 * - `{ kind: 'redirect', location }`: a `302` to `location` (relative; an absolute URL is fine).
 * - `{ kind: 'stream', chunks }`: a `200` whose body is written chunk by chunk as `chunks` yields,
 *   with the response already under way (headers sent) after the first chunk. If `chunks` throws,
 *   the response must be cut off (connection closed), never finished as if complete.
 * - If `route` throws (or rejects), the request fails through the framework's error path.
 *
 * It passes `options.trustProxy` to the adapter, and maps `options.onError` (when given) to the
 * adapter's error hook: answer with `{ status, body }` it returns. `startApp` resolves to
 * `{ url, close }`; `close` ends the server and its connections.
 *
 * The routes (`scenarioRoute` below; adapters never implement them, they only send the replies):
 *
 * - `/none`: never touches the session; `none`.
 * - `/write?key=K&value=V`: `set(K, V)`; `ok`.
 * - `/read?key=K`: JSON `{ value: get(K) ?? null, isNew, size }`.
 * - `/redirect-write?key=K&value=V`: `set(K, V)`; a redirect to `/read?key=K`.
 * - `/regenerate`: `manager.regenerate(session)`; `ok`.
 * - `/destroy`: `manager.destroy(session)`, then `set('after', 'destroy')`; `ok`.
 * - `/stream?key=K&value=V[&fail=1]`: `set(K, V)`; streams `one`, waits until the test releases
 *   it, then `set('late', 'yes')` and `two`, `three`. With `fail=1` it throws at the release.
 * - `/throw?key=K&value=V`: `set(K, V)`, then throws before replying.
 * - anything else: `404`.
 *
 * Every scenario uses a fixed clock (nothing expires, nothing needs a touch) and a memory store
 * wrapped to count, hold and fail writes. No scenario sleeps.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import type { TrustProxy } from '../../src/core/ip.ts';
import type { Session } from '../../src/core/session.ts';
import { type SessionManager, type SessionManagerOptions, StoreError } from '../../src/index.ts';
import {
  type Answer,
  type Deferred,
  deferred,
  get,
  NOW,
  OTHER_SECRET,
  open,
  parseSetCookie,
  type RunningApp,
  type SendOptions,
  STORE_FAILURE,
  scenarioManager,
  sessionCookie,
  settle,
  type WatchedStore,
  watchedStore,
} from './support.ts';

export type { RunningApp } from './support.ts';

/** The data of every scenario session: strings by name. */
export type ScenarioData = Record<string, string>;

/** What a route answers, in terms every framework can express. */
export type Reply =
  | { readonly kind: 'text'; readonly status: number; readonly body: string }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'stream'; readonly chunks: AsyncIterable<string> };

/** Answers one request from its session and full URL; throws for `/throw`. */
export type Route = (session: Session<ScenarioData>, url: URL) => Promise<Reply>;

/** The response an `onError` hook asks for. */
export interface ErrorReply {
  status: number;
  body: string;
}

/** What `startApp` passes to the adapter besides the manager. */
export interface AppOptions {
  /** Answers every request: call it with the request's session and URL, send its reply. */
  route: Route;
  /** The adapter's `trustProxy` (absent: trust no proxy). */
  trustProxy?: TrustProxy;
  /** When present, replaces the adapter's default error response with `{ status, body }`. */
  onError?: (error: unknown) => ErrorReply;
}

/** Starts an app for one adapter. */
export type StartApp = (
  manager: SessionManager<ScenarioData>,
  options: AppOptions,
) => Promise<RunningApp>;

const text = (body: string, status = 200): Reply => ({ kind: 'text', status, body });

async function* streamChunks(
  session: Session<ScenarioData>,
  release: Promise<void>,
  fail: boolean,
): AsyncGenerator<string> {
  yield 'one';
  await release;
  if (fail) throw new Error('stream failed after the headers left');
  session.set('late', 'yes');
  yield 'two';
  yield 'three';
}

/** The routes of the contract above; `/stream` waits for `streamRelease`. */
export function scenarioRoute(
  manager: SessionManager<ScenarioData>,
  streamRelease: Promise<void>,
): Route {
  return async (session, url) => {
    const key = url.searchParams.get('key') ?? 'value';
    const value = url.searchParams.get('value') ?? 'yes';
    switch (url.pathname) {
      case '/none':
        return text('none');
      case '/write':
        session.set(key, value);
        return text('ok');
      case '/read': {
        const read = { value: session.get(key) ?? null, isNew: session.isNew, size: session.size };
        return text(JSON.stringify(read));
      }
      case '/redirect-write':
        session.set(key, value);
        return { kind: 'redirect', location: `/read?key=${encodeURIComponent(key)}` };
      case '/regenerate':
        await manager.regenerate(session);
        return text('ok');
      case '/destroy':
        await manager.destroy(session);
        session.set('after', 'destroy');
        return text('ok');
      case '/stream':
        session.set(key, value);
        return {
          kind: 'stream',
          chunks: streamChunks(session, streamRelease, url.searchParams.has('fail')),
        };
      case '/throw':
        session.set(key, value);
        throw new Error('route failed before replying');
      default:
        return text('not found', 404);
    }
  };
}

/** One running app with its store, and shortcuts for talking to it. */
interface Fixture {
  app: RunningApp;
  store: WatchedStore;
  manager: SessionManager<ScenarioData>;
  cookieName: string;
  /** Resolve to let `/stream` go past its first chunk. */
  stream: Deferred;
  get(path: string, options?: SendOptions): Promise<Answer>;
  /** GET `path` with the session cookie `value`. */
  getWith(value: string, path: string, options?: SendOptions): Promise<Answer>;
  /** `/read?key=K` with the session cookie `value`, parsed. */
  read(value: string | undefined, key: string, options?: SendOptions): Promise<ReadResult>;
}

interface ReadResult {
  status: number;
  value: string | null;
  isNew: boolean;
  setCookies: string[];
}

interface FixtureOptions {
  manager?: Partial<SessionManagerOptions>;
  trustProxy?: TrustProxy;
  onError?: AppOptions['onError'];
  store?: WatchedStore;
}

/** The cookie of plain-HTTP scenarios (`__Host-` needs Secure, which plain HTTP cannot test). */
const PLAIN_COOKIE = { name: 'sid', secure: false, sameSite: 'strict' } as const;

async function launch(
  t: TestContext,
  startApp: StartApp,
  options: FixtureOptions = {},
): Promise<Fixture> {
  const store = options.store ?? watchedStore();
  const manager = scenarioManager<ScenarioData>(store, {
    cookie: PLAIN_COOKIE,
    idleTimeout: 3600,
    ...options.manager,
  });
  const stream = deferred();
  const app = await startApp(manager, {
    route: scenarioRoute(manager, stream.promise),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  t.after(async () => {
    store.release();
    stream.resolve();
    await app.close();
  });
  const cookieName = manager.cookieName;
  const getWith = (value: string, path: string, send: SendOptions = {}): Promise<Answer> =>
    get(app.url, path, { ...send, cookie: `${cookieName}=${value}` });
  return {
    app,
    store,
    manager,
    cookieName,
    stream,
    get: (path, send) => get(app.url, path, send),
    getWith,
    async read(value, key, send = {}) {
      const path = `/read?key=${encodeURIComponent(key)}`;
      const answer =
        value === undefined ? await get(app.url, path, send) : await getWith(value, path, send);
      assert.equal(answer.status, 200, `GET ${path} answered ${answer.status}: ${answer.body}`);
      const body = JSON.parse(answer.body) as { value: string | null; isNew: boolean };
      return { status: answer.status, setCookies: answer.setCookies, ...body };
    },
  };
}

/** Creates a stored session holding `key=value` through the app; returns its token. */
async function createSession(
  fixture: Fixture,
  key = 'a',
  value = '1',
  send: SendOptions = {},
): Promise<string> {
  const answer = await fixture.get(`/write?key=${key}&value=${value}`, send);
  assert.equal(answer.status, 200);
  return sessionCookie(answer.setCookies, fixture.cookieName).value;
}

/** An error response says nothing: no stack, no store detail, no cookie or token. */
function assertNoDetails(body: string, secrets: readonly string[]): void {
  assert.doesNotMatch(body, /\n\s+at /, 'no stack trace');
  assert.ok(!body.includes(STORE_FAILURE) && !body.includes('StoreError'), 'no error detail');
  for (const secret of secrets) assert.ok(!body.includes(secret), 'no cookie or token');
}

function assertNoStoreCaching(answer: { headers: Headers }): void {
  assert.equal(answer.headers.get('cache-control'), 'no-store');
  assert.match(answer.headers.get('vary') ?? '', /(^|,)\s*cookie\s*(,|$)/i);
}

/** A token with the character at `at` changed. */
function flip(token: string, at: number): string {
  return `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
}

/**
 * Registers the scenario suite for one adapter under `describe('<name>: adapter scenarios')`.
 *
 * @example
 * ```ts
 * describeAdapterScenarios('node', (manager, options) => listen(withSession(manager, …)));
 * ```
 */
export function describeAdapterScenarios(name: string, startApp: StartApp): void {
  describe(`${name}: adapter scenarios`, () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => {
      rejections.push(reason);
    };
    before(() => process.on('unhandledRejection', onRejection));
    after(() => process.off('unhandledRejection', onRejection));
    afterEach(async () => {
      await settle();
      assert.deepEqual(rejections.splice(0), [], 'no unhandled rejection');
    });
    const start = (t: TestContext, options?: FixtureOptions): Promise<Fixture> =>
      launch(t, startApp, options);

    registerCookieScenarios(start);
    registerLifecycleScenarios(start);
    registerBadInputScenarios(start);
    registerFailureScenarios(start);
    registerStreamingScenarios(start, rejections);
    registerConcurrencyScenarios(start);
    registerIPScenarios(start);
  });
}

type Start = (t: TestContext, options?: FixtureOptions) => Promise<Fixture>;

function registerCookieScenarios(start: Start): void {
  it('1. a handler that does not touch the session sends no cookie and writes nothing', async (t) => {
    const fixture = await start(t);
    const fresh = await fixture.get('/none');
    assert.deepEqual([fresh.status, fresh.body, fresh.setCookies], [200, 'none', []]);
    assert.equal(fixture.store.writes.started, 0, 'no store write');
    assert.equal(fixture.store.memory.size, 0, 'no record');

    const token = await createSession(fixture);
    const writes = fixture.store.writes.started;
    const untouched = await fixture.getWith(token, '/none');
    assert.deepEqual([untouched.status, untouched.setCookies], [200, []]);
    const read = await fixture.read(token, 'a');
    assert.deepEqual([read.value, read.setCookies], ['1', []]);
    assert.equal(fixture.store.writes.started, writes, 'an unchanged session is not written');
  });

  it('2. a write sets the configured cookie, no-store and Vary: Cookie; the next request sees it', async (t) => {
    const fixture = await start(t);
    const answer = await fixture.get('/write?key=color&value=teal');
    assert.equal(answer.status, 200);
    assert.equal(answer.setCookies.length, 1, 'exactly one Set-Cookie');
    const cookie = sessionCookie(answer.setCookies, 'sid');
    assert.match(cookie.value, /^[A-Za-z0-9_-]{64}$/);
    assert.deepEqual(cookie.attributes, {
      'max-age': '3600',
      path: '/',
      httponly: true,
      samesite: 'Strict',
    });
    assertNoStoreCaching(answer);
    const next = await fixture.read(cookie.value, 'color');
    assert.deepEqual([next.value, next.isNew], ['teal', false]);
  });

  it('2. a later write keeps the unchanged cookie until touchInterval has passed, then re-sends it', async (t) => {
    let now = NOW;
    const fixture = await start(t, { manager: { clock: () => now } });
    const token = await createSession(fixture);
    now += 30_000;
    const within = await fixture.getWith(token, '/write?key=color&value=plum');
    assert.deepEqual([within.status, within.setCookies], [200, []], 'no Set-Cookie');
    assert.equal((await fixture.read(token, 'color')).value, 'plum', 'the write is saved');
    now += 31_000;
    const past = await fixture.getWith(token, '/write?key=color&value=sage');
    assert.equal(past.status, 200);
    const cookie = sessionCookie(past.setCookies, 'sid');
    assert.deepEqual([cookie.value, cookie.attributes['max-age']], [token, '3600']);
    assertNoStoreCaching(past);
    assert.equal((await fixture.read(token, 'color')).value, 'sage');
  });

  it('2. with the default cookie: __Host-pithos, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async (t) => {
    const fixture = await start(t, { manager: { cookie: {}, idleTimeout: 86_400 } });
    const answer = await fixture.get('/write?key=a&value=1');
    assert.equal(answer.status, 200);
    const cookie = sessionCookie(answer.setCookies, '__Host-pithos');
    assert.match(cookie.value, /^[A-Za-z0-9_-]{64}$/);
    assert.deepEqual(cookie.attributes, {
      'max-age': '86400',
      path: '/',
      httponly: true,
      secure: true,
      samesite: 'Lax',
    });
    assertNoStoreCaching(answer);
  });
}

function registerLifecycleScenarios(start: Start): void {
  it('3. redirect after a write: the write finishes before the headers leave; the target sees it', async (t) => {
    const fixture = await start(t);
    fixture.store.hold();
    let finishedAtHeaders: number | undefined;
    const pending = open(fixture.app.url, '/redirect-write?key=k&value=v').then((response) => {
      finishedAtHeaders = fixture.store.writes.finished;
      return response;
    });
    await fixture.store.whenHeld(1);
    // A full round trip on another connection and a few turns of the loop: headers the adapter
    // let go early would have arrived by now.
    assert.equal((await fixture.get('/none')).status, 200);
    await settle();
    assert.equal(finishedAtHeaders, undefined, 'no headers while the store write is held');
    fixture.store.release();
    const response = await pending;
    await response.arrayBuffer();
    assert.equal(response.status, 302);
    assert.ok((finishedAtHeaders ?? 0) >= 1, 'the store write finished before the headers');
    const cookie = sessionCookie(response.headers.getSetCookie(), fixture.cookieName);
    assertNoStoreCaching(response);
    const location = new URL(response.headers.get('location') ?? '', fixture.app.url);
    assert.equal(
      `${location.origin}${location.pathname}${location.search}`,
      `${fixture.app.url}/read?key=k`,
    );
    const target = await fixture.getWith(cookie.value, `${location.pathname}${location.search}`);
    assert.equal(JSON.parse(target.body).value, 'v');
  });

  it('4. regenerate: a new cookie value, the old cookie gives an empty session, the data is kept', async (t) => {
    const fixture = await start(t);
    const token = await createSession(fixture, 'user', 'ada');
    const answer = await fixture.getWith(token, '/regenerate');
    assert.equal(answer.status, 200);
    const renewed = sessionCookie(answer.setCookies, fixture.cookieName);
    assert.notEqual(renewed.value, token);
    assertNoStoreCaching(answer);
    const old = await fixture.read(token, 'user');
    assert.deepEqual([old.value, old.isNew, old.setCookies], [null, true, []]);
    const kept = await fixture.read(renewed.value, 'user');
    assert.deepEqual([kept.value, kept.isNew], ['ada', false]);
  });

  it('5. destroy: the cookie is cleared in the same response and stays gone after a later set', async (t) => {
    const fixture = await start(t);
    const token = await createSession(fixture);
    const answer = await fixture.getWith(token, '/destroy');
    assert.equal(answer.status, 200);
    assert.equal(answer.setCookies.length, 1, 'exactly one Set-Cookie');
    const cleared = sessionCookie(answer.setCookies, fixture.cookieName);
    assert.deepEqual([cleared.value, cleared.attributes['max-age']], ['', '0']);
    assertNoStoreCaching(answer);
    const old = await fixture.read(token, 'a');
    assert.deepEqual([old.value, old.isNew, old.setCookies], [null, true, []]);
    assert.equal((await fixture.read(token, 'after')).value, null, 'the set after destroy is gone');
    assert.equal(fixture.store.memory.size, 0, 'no record left');
  });
}

function registerBadInputScenarios(start: Start): void {
  it('6. tampered, truncated, foreign and malformed cookies: 200, an empty session, no write', async (t) => {
    const store = watchedStore();
    const fixture = await start(t, { store });
    const token = await createSession(fixture);
    const foreign = scenarioManager<ScenarioData>(store, {
      secret: OTHER_SECRET,
      cookie: PLAIN_COOKIE,
      clock: () => NOW,
    });
    const session = await foreign.load(undefined);
    session.set('a', 'foreign');
    const foreignToken = parseSetCookie((await foreign.commit(session)) ?? '').value;
    const writes = store.writes.started;
    const headers: [string, string][] = [
      ['tampered key', `sid=${flip(token, 40)}`],
      ['tampered ID', `sid=${flip(token, 5)}`],
      ['truncated', `sid=${token.slice(0, -1)}`],
      ['over-long', `sid=${token}A`],
      ['foreign deployment', `sid=${foreignToken}`],
      ['malformed', 'sid=not-a-token!$%&()*+-./:<>?@[]^`{|}~'],
      ['duplicated', `sid=${token}; sid=${token}`],
      ['garbage header', ';;=;sid;=sid=;"'],
    ];
    for (const [label, cookie] of headers) {
      const answer = await fixture.get('/read?key=a', { cookie });
      assert.equal(answer.status, 200, label);
      assert.deepEqual(JSON.parse(answer.body), { value: null, isNew: true, size: 0 }, label);
      assert.deepEqual(answer.setCookies, [], label);
    }
    assert.equal(store.writes.started, writes, 'bad cookies never write to the store');
    const replaced = await fixture.get('/write?key=b&value=2', {
      cookie: `sid=${flip(token, 40)}`,
    });
    const issued = sessionCookie(replaced.setCookies, 'sid').value;
    assert.ok(issued !== token && issued !== flip(token, 40), 'a fresh token, never an echo');
    assert.equal((await fixture.read(token, 'a')).value, '1', 'the real session is untouched');
  });
}

function registerFailureScenarios(start: Start): void {
  it('7. a failing store: 500 without details on load and on commit, never an empty session', async (t) => {
    t.mock.method(console, 'error', () => {});
    const fixture = await start(t);
    const token = await createSession(fixture);
    fixture.store.failing = true;
    const requests: [string, SendOptions][] = [
      ['/read?key=a', { cookie: `sid=${token}` }],
      ['/write?key=b&value=2', {}],
      ['/redirect-write?key=b&value=2', {}],
      ['/none', { cookie: `sid=${token}` }],
    ];
    for (const [path, send] of requests) {
      const answer = await fixture.get(path, send);
      assert.equal(answer.status, 500, path);
      assert.deepEqual(answer.setCookies, [], path);
      assert.equal(answer.headers.get('location'), null, path);
      assertNoDetails(answer.body, [token]);
    }
    fixture.store.failing = false;
    assert.equal((await fixture.read(token, 'a')).value, '1', 'the session survived the outage');
  });

  it('7. an onError hook replaces the error response', async (t) => {
    const seen: unknown[] = [];
    const fixture = await start(t, {
      onError: (error) => {
        seen.push(error);
        return { status: 503, body: 'try again soon' };
      },
    });
    const token = await createSession(fixture);
    fixture.store.failing = true;
    for (const [path, send] of [
      ['/read?key=a', { cookie: `sid=${token}` }],
      ['/write?key=b&value=2', {}],
    ] as const) {
      const answer = await fixture.get(path, send);
      assert.deepEqual(
        [answer.status, answer.body, answer.setCookies],
        [503, 'try again soon', []],
      );
    }
    assert.equal(seen.length, 2);
    for (const error of seen) {
      assert.ok(error instanceof StoreError, 'the hook receives the StoreError');
      assert.equal(error.code, 'STORE_FAILED');
    }
  });
}

function registerStreamingScenarios(start: Start, rejections: unknown[]): void {
  it('8. a streamed response: the cookie leaves with the headers, once; a late change breaks nothing', async (t) => {
    const fixture = await start(t);
    let finishedAtHeaders: number | undefined;
    const response = await open(fixture.app.url, '/stream?key=s&value=1').then((response) => {
      finishedAtHeaders = fixture.store.writes.finished;
      return response;
    });
    assert.equal(response.status, 200);
    assert.ok((finishedAtHeaders ?? 0) >= 1, 'committed before the headers left');
    const cookie = sessionCookie(response.headers.getSetCookie(), fixture.cookieName);
    assertNoStoreCaching(response);
    fixture.stream.resolve();
    assert.equal(await response.text(), 'onetwothree');
    await settle();
    assert.deepEqual(rejections, []);
    // Whether the change made after the headers left is saved is up to the adapter; the session
    // and the server must be intact either way.
    assert.equal((await fixture.read(cookie.value, 's')).value, '1');
  });

  it('8. a stream that fails after the headers left is cut off, not completed; no crash', async (t) => {
    t.mock.method(console, 'error', () => {});
    const fixture = await start(t);
    const response = await open(fixture.app.url, '/stream?key=s&value=1&fail=1');
    assert.equal(response.status, 200);
    fixture.stream.resolve();
    await assert.rejects(response.text(), 'a response cut short must not look complete');
    await settle();
    assert.deepEqual(rejections, []);
    assert.equal((await fixture.get('/none')).status, 200, 'the server still answers');
  });

  it('8. a handler that throws before replying: 500, no cookie, nothing saved', async (t) => {
    t.mock.method(console, 'error', () => {});
    const fixture = await start(t);
    const token = await createSession(fixture);
    const writes = fixture.store.writes.started;
    for (const send of [{}, { cookie: `sid=${token}` }]) {
      const answer = await fixture.get('/throw?key=a&value=2', send);
      assert.deepEqual([answer.status, answer.setCookies], [500, []]);
      assertNoDetails(answer.body, [token]);
    }
    await settle();
    assert.deepEqual(rejections, []);
    assert.equal(fixture.store.writes.started, writes, 'a failed request saves nothing');
    assert.equal((await fixture.read(token, 'a')).value, '1');
  });
}

function registerConcurrencyScenarios(start: Start): void {
  it('9. two concurrent requests changing different keys of one session: both survive', async (t) => {
    const fixture = await start(t);
    const token = await createSession(fixture, 'a', '0');
    fixture.store.hold();
    const first = fixture.getWith(token, '/write?key=x&value=1');
    const second = fixture.getWith(token, '/write?key=y&value=2');
    await fixture.store.whenHeld(2); // both loaded the same record and wait to write
    fixture.store.release();
    const answers = await Promise.all([first, second]);
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200],
    );
    for (const [key, value] of [
      ['a', '0'],
      ['x', '1'],
      ['y', '2'],
    ] as const) {
      assert.equal((await fixture.read(token, key)).value, value, key);
    }
  });
}

function registerIPScenarios(start: Start): void {
  it('10. IP binding without trusted proxies: a forged X-Forwarded-For neither passes nor breaks it', async (t) => {
    const fixture = await start(t, { manager: { bindIP: true } });
    const token = await createSession(fixture, 'a', '1', { forwardedFor: '203.0.113.7' });
    // Bound to the real peer (127.0.0.1), not to the forged address.
    assert.equal((await fixture.read(token, 'a')).value, '1');
    assert.equal((await fixture.read(token, 'a', { forwardedFor: '198.51.100.9' })).value, '1');
    for (const forwardedFor of ['127.0.0.1', '203.0.113.7']) {
      const other = await fixture.read(token, 'a', { localAddress: '127.0.0.2', forwardedFor });
      assert.deepEqual(
        [other.value, other.isNew],
        [null, true],
        `from 127.0.0.2 as ${forwardedFor}`,
      );
    }
    assert.equal((await fixture.read(token, 'a')).value, '1', 'the real client still has it');
  });

  it('10. IP binding behind a trusted proxy: the forwarded address is the one bound', async (t) => {
    const fixture = await start(t, { manager: { bindIP: true }, trustProxy: ['127.0.0.1'] });
    const token = await createSession(fixture, 'a', '1', { forwardedFor: '203.0.113.7' });
    const cases: [SendOptions, string | null][] = [
      [{ forwardedFor: '203.0.113.7' }, '1'],
      [{ forwardedFor: '198.51.100.9, 203.0.113.7' }, '1'], // the client's own claim is not believed
      [{ forwardedFor: '198.51.100.9' }, null],
      [{ forwardedFor: '203.0.113.7, 198.51.100.9' }, null],
      [{}, null], // the proxy's own address is not the client's
      [{ localAddress: '127.0.0.2', forwardedFor: '203.0.113.7' }, null], // not a trusted proxy
    ];
    for (const [send, expected] of cases) {
      assert.equal((await fixture.read(token, 'a', send)).value, expected, JSON.stringify(send));
    }
  });
}
