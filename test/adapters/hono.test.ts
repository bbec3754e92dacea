/**
 * The Hono adapter (`pithos/hono`), served through `@hono/node-server` on 127.0.0.1: the shared
 * scenarios, plus what only Hono does (c.redirect, the streaming helper, app.onError, sub-apps,
 * responses with immutable headers) and the types of `c.get('session')`.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { streamText } from 'hono/streaming';
import { createSessionMiddleware, type HonoSessionEnv } from '../../src/adapters/hono.ts';
import { listSessions, login } from '../../src/auth/index.ts';
import { type Session, type SessionManager, StoreError } from '../../src/index.ts';
import { describeAdapterScenarios, type Reply, type ScenarioData } from './scenarios.ts';
import {
  get,
  listen,
  parseSetCookie,
  type RunningApp,
  scenarioManager,
  sessionCookie,
  settle,
  type WatchedStore,
  watchedStore,
} from './support.ts';

type ScenarioEnv = HonoSessionEnv<ScenarioData>;

/** Serves a Hono app (of any environment) through @hono/node-server on 127.0.0.1. */
async function serveApp(app: Pick<Hono, 'fetch'>): Promise<RunningApp> {
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>(
    (resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve({ server, port: (info as AddressInfo).port }),
      );
    },
  );
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** A `ReadableStream` of the chunks, pulled as the server reads. */
function streamOf(chunks: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/** A scenario reply the way Hono code usually writes it. */
function respond(reply: Reply, c: Context<ScenarioEnv>): Response {
  switch (reply.kind) {
    case 'text':
      return c.text(reply.body, reply.status as 200);
    case 'redirect':
      return c.redirect(reply.location, 302);
    case 'stream':
      // c.body(stream) rather than the streaming helper: a helper's stream that throws is closed
      // as if complete, and the scenario wants a failing stream cut off.
      c.header('content-type', 'text/plain; charset=utf-8');
      return c.body(streamOf(reply.chunks));
  }
}

const peerAddress = (c: Context): string | undefined => getConnInfo(c).remote.address;

describeAdapterScenarios('hono', (manager, options) => {
  const app = new Hono<ScenarioEnv>();
  app.use(
    createSessionMiddleware(manager, {
      peerAddress,
      ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    }),
  );
  const onError = options.onError;
  if (onError !== undefined) {
    app.onError((error, c) => {
      const answer = onError(error);
      return c.text(answer.body, answer.status as 500);
    });
  }
  app.all('*', async (c) => respond(await options.route(c.get('session'), new URL(c.req.url)), c));
  return serveApp(app);
});

/** A store whose writes fail while reads work: the commit fails, the load does not. */
function failingWrites(store: WatchedStore): WatchedStore {
  const fail = (): Promise<never> => Promise.reject(new Error('write refused'));
  return Object.assign(Object.create(store) as WatchedStore, {
    set: fail,
    compareAndSet: fail,
    delete: fail,
  });
}

/** The watched store with the memory store's per-user index, which the device list needs. */
function withUserIndex(store: WatchedStore): WatchedStore {
  return Object.assign(store, {
    listByUser: (userKey: string) => store.memory.listByUser(userKey),
    deleteByUser: (userKey: string) => store.memory.deleteByUser(userKey),
  });
}

describe('hono: what only Hono does', () => {
  async function serveRoutes(
    t: TestContext,
    routes: (app: Hono<ScenarioEnv>) => void,
    store = watchedStore(),
  ): Promise<{ app: RunningApp; store: WatchedStore; manager: SessionManager<ScenarioData> }> {
    const manager = scenarioManager<ScenarioData>(store, {
      cookie: { name: 'sid', secure: false },
    });
    const app = new Hono<ScenarioEnv>();
    app.use(createSessionMiddleware(manager, { peerAddress }));
    routes(app);
    const running = await serveApp(app);
    t.after(() => running.close());
    return { app: running, store, manager };
  }

  it('chained with no environment declared: the routes after .use() see the session', async (t) => {
    const manager = scenarioManager<{ visits: number }>(watchedStore(), {
      cookie: { name: 'sid', secure: false },
    });
    // No `new Hono<HonoSessionEnv<...>>()`: the session type comes from the middleware.
    const app = new Hono()
      .use(createSessionMiddleware(manager, { peerAddress }))
      .get('/count', (c) => {
        const session = c.get('session');
        const visits = (session.get('visits') ?? 0) + 1;
        session.set('visits', visits);
        return c.json({ visits });
      });
    const running = await serveApp(app);
    t.after(() => running.close());
    const first = await get(running.url, '/count');
    const cookie = sessionCookie(first.setCookies, 'sid');
    const second = await get(running.url, '/count', { cookie: `sid=${cookie.value}` });
    assert.deepEqual(
      [first.status, JSON.parse(first.body), second.status, JSON.parse(second.body)],
      [200, { visits: 1 }, 200, { visits: 2 }],
    );
  });

  it('a Response a route shares between requests never carries one user’s cookie to another', async (t) => {
    const shared = new Response(null, { status: 204 });
    const { app } = await serveRoutes(t, (hono) => {
      hono.post('/like', (c) => {
        c.get('session').set('user', 'someone');
        return shared;
      });
    });
    const first = await fetch(`${app.url}/like`, { method: 'POST' });
    const second = await fetch(`${app.url}/like`, { method: 'POST' });
    assert.equal(first.headers.getSetCookie().length, 1);
    assert.equal(second.headers.getSetCookie().length, 1, 'only the second visitor’s own cookie');
    assert.notEqual(second.headers.getSetCookie()[0], first.headers.getSetCookie()[0]);
    assert.equal(shared.headers.get('set-cookie'), null, 'the shared object is left alone');
  });

  it('c.redirect after a write carries the cookie; the target sees the value', async (t) => {
    const { app } = await serveRoutes(t, (hono) => {
      hono.post('/login', (c) => {
        c.get('session').set('user', 'ada');
        return c.redirect('/me', 303);
      });
      hono.get('/me', (c) => c.json({ user: c.get('session').get('user') ?? null }));
    });
    const response = await fetch(`${app.url}/login`, { method: 'POST', redirect: 'manual' });
    assert.deepEqual([response.status, response.headers.get('location')], [303, '/me']);
    const cookie = sessionCookie(response.headers.getSetCookie(), 'sid');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const me = await get(app.url, '/me', { cookie: `sid=${cookie.value}` });
    assert.deepEqual(JSON.parse(me.body), { user: 'ada' });
  });

  it('the streaming helper: the cookie leaves with the headers, the body streams after', async (t) => {
    const { app } = await serveRoutes(t, (hono) => {
      hono.get('/stream', (c) => {
        c.get('session').set('a', '1');
        return streamText(c, async (stream) => {
          await stream.write('one');
          await stream.write('two');
        });
      });
    });
    const answer = await get(app.url, '/stream');
    assert.deepEqual([answer.status, answer.body], [200, 'onetwo']);
    sessionCookie(answer.setCookies, 'sid');
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.match(answer.headers.get('vary') ?? '', /Cookie/);
  });

  it('a handler that throws reaches app.onError; nothing is committed', async (t) => {
    const seen: unknown[] = [];
    const { app, store } = await serveRoutes(t, (hono) => {
      hono.onError((error, c) => {
        seen.push(error);
        return c.json({ failed: true }, 418);
      });
      hono.get('/boom', (c) => {
        c.get('session').set('a', '1');
        throw new Error('boom');
      });
    });
    const answer = await get(app.url, '/boom');
    assert.deepEqual(
      [answer.status, JSON.parse(answer.body), answer.setCookies],
      [418, { failed: true }, []],
    );
    assert.equal((seen[0] as Error).message, 'boom');
    assert.equal(store.writes.started, 0);
  });

  it('a failed commit after c.redirect: app.onError answers, without the Location or any cookie', async (t) => {
    const seen: unknown[] = [];
    const { app } = await serveRoutes(
      t,
      (hono) => {
        hono.onError((error, c) => {
          seen.push(error);
          return c.text('later', 503);
        });
        hono.get('/login', (c) => {
          c.get('session').set('user', 'ada');
          c.header('set-cookie', 'theme=dark; Path=/', { append: true });
          return c.redirect('/me');
        });
      },
      failingWrites(watchedStore()),
    );
    const answer = await get(app.url, '/login');
    assert.deepEqual([answer.status, answer.body, answer.setCookies], [503, 'later', []]);
    assert.equal(answer.headers.get('location'), null);
    assert.ok(seen[0] instanceof StoreError);
  });

  it("a failed commit with Hono's default error handler: 500 without details", async (t) => {
    t.mock.method(console, 'error', () => {});
    const { app } = await serveRoutes(
      t,
      (hono) => {
        hono.get('/write', (c) => {
          c.get('session').set('a', '1');
          return c.text('ok');
        });
      },
      failingWrites(watchedStore()),
    );
    const answer = await get(app.url, '/write');
    assert.deepEqual(
      [answer.status, answer.body, answer.setCookies],
      [500, 'Internal Server Error', []],
    );
  });

  it('Response.redirect() (immutable headers) gets the cookie, no-store and Vary', async (t) => {
    const { app } = await serveRoutes(t, (hono) => {
      hono.get('/go', (c) => {
        c.get('session').set('a', '1');
        return Response.redirect(new URL('/next', c.req.url), 302);
      });
    });
    const answer = await get(app.url, '/go');
    assert.equal(answer.status, 302);
    assert.equal(answer.headers.get('location'), `${app.url}/next`);
    sessionCookie(answer.setCookies, 'sid');
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.headers.get('vary'), 'Cookie');
  });

  it('a proxied fetch() response keeps its own cookies and Vary, and ours wins over its caching', async (t) => {
    const upstream = await listen((_request, response) => {
      response.setHeader('set-cookie', ['upstream=1; Path=/']);
      response.setHeader('cache-control', 'public, max-age=600');
      response.setHeader('vary', 'Accept');
      response.end('from upstream');
    });
    t.after(() => upstream.close());
    const { app } = await serveRoutes(t, (hono) => {
      hono.get('/proxy', (c) => {
        c.get('session').set('a', '1');
        return fetch(upstream.url);
      });
    });
    const answer = await get(app.url, '/proxy');
    assert.deepEqual([answer.status, answer.body], [200, 'from upstream']);
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['sid', 'upstream']);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.headers.get('vary'), 'Accept, Cookie');
  });

  it("the request's User-Agent reaches the device list of pithos/auth", async (t) => {
    const { app, manager } = await serveRoutes(
      t,
      (hono) => {
        hono.post('/login', async (c) => {
          await login(c.get('session'), 'user-1', 'checkvalue-1');
          return c.text('ok');
        });
      },
      withUserIndex(watchedStore()),
    );
    const headers = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' };
    const response = await fetch(`${app.url}/login`, { method: 'POST', headers });
    assert.equal(response.status, 200);
    const devices = await listSessions(manager, 'user-1');
    assert.deepEqual(
      devices.map((device) => device.userAgent),
      ['Firefox on Linux'],
    );
  });

  it('a sub-app mounted with app.route() sees the session', async (t) => {
    const { app } = await serveRoutes(t, (hono) => {
      const api = new Hono<ScenarioEnv>();
      api.get('/write', (c) => {
        c.get('session').set('from', 'api');
        return c.text('ok');
      });
      api.get('/read', (c) => c.json({ from: c.get('session').get('from') ?? null }));
      hono.route('/api', api);
    });
    const cookie = sessionCookie((await get(app.url, '/api/write')).setCookies, 'sid');
    const read = await get(app.url, '/api/read', { cookie: `sid=${cookie.value}` });
    assert.deepEqual(JSON.parse(read.body), { from: 'api' });
    await settle();
  });
});

// Type tests (checked by `tsc -p tsconfig.json`): the data type flows from the manager to
// c.get('session') in an app typed with HonoSessionEnv, or with `session` among its Variables.
interface Cart {
  visits: number;
  items: string[];
}
function typeTests(manager: SessionManager<Cart>, next: () => Promise<void>): void {
  const app = new Hono<HonoSessionEnv<Cart>>();
  app.use(createSessionMiddleware(manager, { peerAddress, trustProxy: ['10.0.0.0/8'] }));
  app.get('/', (c) => {
    const session = c.get('session');
    session.set('visits', (session.get('visits') ?? 0) + 1);
    // @ts-expect-error an unknown key does not compile
    session.get('unknown-key');
    // @ts-expect-error a wrongly typed value does not compile
    session.set('visits', 'many');
    return c.text('ok');
  });

  const mixed = new Hono<{
    Bindings: { TOKEN: string };
    Variables: { session: Session<Cart>; user: string };
  }>();
  mixed.use(createSessionMiddleware(manager));
  mixed.get('/', (c) => c.text(`${c.get('user')} ${c.get('session').get('items')?.length}`));

  // @ts-expect-error the middleware reads the request: not a context without one
  createSessionMiddleware(manager)({ res: new Response(), error: undefined, set: () => {} }, next);
  // @ts-expect-error peerAddress returns a string
  createSessionMiddleware(manager, { peerAddress: () => 42 });
}
void typeTests;
