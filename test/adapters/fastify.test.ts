/**
 * The Fastify adapter (`pithos/fastify`): the shared scenarios over real HTTP, plus what only
 * Fastify does (reply.redirect, setErrorHandler, streams given to reply.send, encapsulation) and
 * the types of `request.session` and `getSession(request)`.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { createSessionPlugin } from '../../src/adapters/fastify.ts';
import { listSessions, login } from '../../src/auth/index.ts';
import { PithosError, type SessionManager, StoreError, type TrustProxy } from '../../src/index.ts';
import { describeAdapterScenarios, type Reply, type ScenarioData } from './scenarios.ts';
import {
  get,
  parseSetCookie,
  type RunningApp,
  scenarioManager,
  sessionCookie,
  settle,
  type WatchedStore,
  watchedStore,
} from './support.ts';

/** Sends a scenario reply the way Fastify code usually does. */
function send(reply: Reply, fastifyReply: FastifyReply): FastifyReply {
  switch (reply.kind) {
    case 'text':
      return fastifyReply.code(reply.status).type('text/plain; charset=utf-8').send(reply.body);
    case 'redirect':
      return fastifyReply.redirect(reply.location);
    case 'stream':
      return fastifyReply.type('text/plain; charset=utf-8').send(Readable.from(reply.chunks));
  }
}

async function start(app: FastifyInstance): Promise<RunningApp> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: address, close: () => app.close() };
}

/** Fastify takes the same addresses or predicate, as a mutable array. */
const fastifyTrust = (trust: TrustProxy): string[] | ((address: string) => boolean) =>
  typeof trust === 'function' ? trust : [...trust];

describeAdapterScenarios('fastify', async (manager, options) => {
  const app = Fastify({
    // The client address is request.ip: Fastify's own trustProxy decides it.
    ...(options.trustProxy === undefined ? {} : { trustProxy: fastifyTrust(options.trustProxy) }),
    forceCloseConnections: true,
  });
  const sessions = createSessionPlugin(manager);
  app.register(sessions);
  const onError = options.onError;
  if (onError !== undefined) {
    app.setErrorHandler((error, _request, reply) => {
      const answer = onError(error);
      return reply.code(answer.status).type('text/plain').send(answer.body);
    });
  }
  app.get('/*', async (request, reply) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    return send(await options.route(sessions.getSession(request), url), reply);
  });
  return start(app);
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

interface Served {
  app: RunningApp;
  store: WatchedStore;
  manager: SessionManager<ScenarioData>;
}

describe('fastify: what only Fastify does', () => {
  async function serve(
    t: TestContext,
    routes: (
      app: FastifyInstance,
      sessions: ReturnType<typeof createSessionPlugin<ScenarioData>>,
    ) => void,
    store = watchedStore(),
  ): Promise<Served> {
    const manager = scenarioManager<ScenarioData>(store, {
      cookie: { name: 'sid', secure: false },
    });
    const app = Fastify({ forceCloseConnections: true });
    const sessions = createSessionPlugin(manager);
    app.register(sessions);
    routes(app, sessions);
    const running = await start(app);
    t.after(() => running.close());
    return { app: running, store, manager };
  }

  it('cookies the route set on reply.raw are kept beside the session cookie', async (t) => {
    const { app } = await serve(t, (fastify, sessions) => {
      fastify.get('/theme', async (request, reply) => {
        sessions.getSession(request).set('theme', 'dark');
        reply.raw.setHeader('Set-Cookie', ['theme=dark; Path=/', 'lang=en; Path=/']);
        return 'ok';
      });
    });
    const answer = await get(app.url, '/theme');
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['lang', 'sid', 'theme']);
  });

  it('reply.redirect(url, 303) after a write carries the cookie; the target sees the value', async (t) => {
    const { app } = await serve(t, (fastify, sessions) => {
      fastify.get('/login', (request, reply) => {
        sessions.getSession(request).set('user', 'ada');
        return reply.redirect('/me', 303);
      });
      fastify.get('/me', async (request) => ({ user: sessions.getSession(request).get('user') }));
    });
    const answer = await get(app.url, '/login');
    assert.deepEqual([answer.status, answer.headers.get('location')], [303, '/me']);
    const cookie = sessionCookie(answer.setCookies, 'sid');
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const me = await get(app.url, '/me', { cookie: `sid=${cookie.value}` });
    assert.deepEqual(JSON.parse(me.body), { user: 'ada' });
  });

  it('a route that throws reaches setErrorHandler; nothing is committed', async (t) => {
    const seen: unknown[] = [];
    const { app, store } = await serve(t, (fastify, sessions) => {
      fastify.setErrorHandler((error, _request, reply) => {
        seen.push(error);
        return reply.code(418).send({ failed: true });
      });
      fastify.get('/boom', (request) => {
        sessions.getSession(request).set('a', '1');
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

  it('a failed commit reaches setErrorHandler with the StoreError; the stream and Location are dropped', async (t) => {
    const seen: unknown[] = [];
    let destroyed = false;
    const { app } = await serve(
      t,
      (fastify, sessions) => {
        fastify.setErrorHandler((error, _request, reply) => {
          seen.push(error);
          return reply.code(503).send('later');
        });
        fastify.get('/stream', (request, reply) => {
          sessions.getSession(request).set('a', '1');
          const body = Readable.from(['never', 'sent']);
          body.on('close', () => {
            destroyed = true;
          });
          return reply.code(302).header('location', '/elsewhere').send(body);
        });
      },
      failingWrites(watchedStore()),
    );
    const answer = await get(app.url, '/stream');
    assert.deepEqual([answer.status, answer.body, answer.setCookies], [503, 'later', []]);
    assert.equal(answer.headers.get('location'), null, 'the failed redirect is not followed');
    assert.ok(seen[0] instanceof StoreError);
    await settle();
    assert.ok(destroyed, 'the stream that will never be sent is destroyed');
  });

  it('a commit that fails goes to the default error handler: 500, no cookie, no stack', async (t) => {
    const { app } = await serve(
      t,
      (fastify, sessions) => {
        fastify.get('/write', async (request) => {
          sessions.getSession(request).set('a', '1');
          return 'ok';
        });
      },
      failingWrites(watchedStore()),
    );
    const answer = await get(app.url, '/write');
    assert.deepEqual([answer.status, answer.setCookies], [500, []]);
    assert.doesNotMatch(answer.body, /write refused|\n\s+at /);
  });

  it('reply.send(stream): the cookie, no-store and Vary leave with the headers', async (t) => {
    const { app } = await serve(t, (fastify, sessions) => {
      fastify.get('/stream', (request, reply) => {
        sessions.getSession(request).set('a', '1');
        reply.header('vary', 'Accept-Encoding').header('set-cookie', 'theme=dark; Path=/');
        return reply.type('text/plain').send(Readable.from(['one', 'two']));
      });
    });
    const answer = await get(app.url, '/stream');
    assert.deepEqual([answer.status, answer.body], [200, 'onetwo']);
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['sid', 'theme']);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.headers.get('vary'), 'Accept-Encoding, Cookie');
  });

  it('routes in encapsulated child plugins see the session (the plugin is not encapsulated)', async (t) => {
    const { app } = await serve(t, (fastify) => {
      fastify.register(async (child) => {
        child.get('/child', async (request) => {
          request.session.set('from', 'child');
          return 'ok';
        });
        child.get('/read', async (request) => ({ from: request.session.get('from') ?? null }));
      });
    });
    const cookie = sessionCookie((await get(app.url, '/child')).setCookies, 'sid');
    const read = await get(app.url, '/read', { cookie: `sid=${cookie.value}` });
    assert.deepEqual(JSON.parse(read.body), { from: 'child' });
  });

  it('getSession() explains itself when the plugin is not registered', async (t) => {
    const manager = scenarioManager<ScenarioData>(watchedStore());
    const sessions = createSessionPlugin(manager);
    const app = Fastify();
    let thrown: unknown;
    app.get('/', async (request) => {
      try {
        sessions.getSession(request);
      } catch (error) {
        thrown = error;
      }
      return 'ok';
    });
    t.after(() => app.close());
    await app.inject({ url: '/' });
    assert.ok(thrown instanceof PithosError);
    assert.equal(thrown.code, 'CONFIG_INVALID');
    assert.match(thrown.message, /register the pithos plugin/);
  });

  it("the request's User-Agent reaches the device list of pithos/auth", async (t) => {
    const { app, manager } = await serve(
      t,
      (fastify, sessions) => {
        fastify.post('/login', async (request) => {
          await login(sessions.getSession(request), 'user-1', 'checkvalue-1');
          return 'ok';
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

  it('a 404 of a request that wrote nothing sends no cookie', async (t) => {
    const { app, store } = await serve(t, () => {});
    const answer = await get(app.url, '/missing');
    assert.deepEqual([answer.status, answer.setCookies], [404, []]);
    assert.equal(store.writes.started, 0);
  });
});

// Type tests (checked by `tsc -p tsconfig.json`): the data type flows from the manager through
// getSession(request); request.session is typed by FastifySessionData (not merged here: any JSON).
interface Cart {
  visits: number;
  items: string[];
}
function typeTests(manager: SessionManager<Cart>, app: FastifyInstance): void {
  const sessions = createSessionPlugin(manager);
  app.register(sessions);
  app.get<{ Querystring: { item: string } }>('/', async (request) => {
    const session = sessions.getSession(request);
    session.set('visits', (session.get('visits') ?? 0) + 1);
    session.get('items')?.push(request.query.item);
    // @ts-expect-error an unknown key does not compile
    session.get('unknown-key');
    // @ts-expect-error a wrongly typed value does not compile
    session.set('visits', 'many');
    request.session.set('anything', { nested: [1, 'two'] });
    // @ts-expect-error request.session holds JSON only
    request.session.set('callback', () => {});
    return 'ok';
  });
}
void typeTests;

describe('fastify: two managers in sibling contexts', () => {
  it("getSession of one plugin never hands out the other manager's session", async (t) => {
    const users = createSessionPlugin(
      scenarioManager<ScenarioData>(watchedStore(), { cookie: { name: 'sid', secure: false } }),
    );
    const admins = createSessionPlugin(
      scenarioManager<ScenarioData>(watchedStore(), { cookie: { name: 'adm', secure: false } }),
    );
    const app = Fastify();
    let thrown: unknown;
    app.register(async (child) => {
      child.register(users);
      child.get('/u', async (request) => {
        users.getSession(request).set('a', 'user');
        try {
          admins.getSession(request);
        } catch (error) {
          thrown = error;
        }
        return 'ok';
      });
    });
    app.register(async (child) => {
      child.register(admins);
      child.get('/a', async (request) => admins.getSession(request).get('a') ?? 'none');
    });
    t.after(() => app.close());
    const answer = await app.inject({ url: '/u' });
    assert.equal(answer.statusCode, 200);
    assert.ok(thrown instanceof PithosError);
    assert.equal(thrown.code, 'CONFIG_INVALID');
    assert.equal((await app.inject({ url: '/a' })).body, 'none');
  });
});
