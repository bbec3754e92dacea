/**
 * The Express adapter (`pithos/express`): the shared scenarios served by Express, plus what is
 * special to it: the typed `getSession`, errors reaching Express error handlers through
 * `next(err)` (also ones that answer later), the 5xx rule, `res.redirect` and `res.cookie`, and
 * the two ways to find the client address (`trust proxy` or the adapter's `trustProxy`).
 */
// express-session's types merge a `session` of their own into every Express `Request`: this
// import proves that the adapter and its `getSession` still type-check beside them.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import express, { type ErrorRequestHandler, type Express, type Response } from 'express';
import type {} from 'express-session';
import {
  createSessionMiddleware,
  type ExpressSessionMiddleware,
  type ExpressSessionOptions,
} from '../../src/adapters/express.ts';
import { ConfigError, type SessionManager, StoreError } from '../../src/index.ts';
import { describeAdapterScenarios, type Reply } from './scenarios.ts';
import {
  deferred,
  get,
  listen,
  open,
  parseSetCookie,
  type RunningApp,
  scenarioManager,
  sessionCookie,
  settle,
  type WatchedStore,
  watchedStore,
} from './support.ts';

/** Sends a scenario reply the way Express code usually does. */
async function send(reply: Reply, response: Response): Promise<void> {
  switch (reply.kind) {
    case 'text':
      response.status(reply.status).type('text/plain').send(reply.body);
      return;
    case 'redirect':
      response.redirect(reply.location);
      return;
    case 'stream':
      response.type('text/plain');
      for await (const chunk of reply.chunks) response.write(chunk);
      response.end();
      return;
  }
}

/** An Express app in production mode: its final handler never shows a stack trace. */
function expressApp(): Express {
  const app = express();
  app.set('env', 'production');
  return app;
}

describeAdapterScenarios('express', (manager, options) => {
  const app = expressApp();
  // Express's own setting is the native way: the adapter reads `req.ip`.
  if (options.trustProxy !== undefined) app.set('trust proxy', options.trustProxy);
  const sessions = createSessionMiddleware(manager);
  app.use(sessions);
  app.use(async (request, response) => {
    const url = new URL(request.originalUrl, 'http://127.0.0.1');
    await send(await options.route(sessions.getSession(request), url), response);
  });
  const onError = options.onError;
  if (onError !== undefined) {
    app.use(((error, _request, response, next) => {
      if (response.headersSent) return next(error);
      const reply = onError(error);
      response.status(reply.status).type('text/plain').send(reply.body);
    }) satisfies ErrorRequestHandler);
  }
  return listen(app);
});

type Data = { a?: string; visits?: number };

interface Served {
  app: RunningApp;
  store: WatchedStore;
  manager: SessionManager<Data>;
  /** Errors that reached the Express error handler. */
  errors: unknown[];
}

/**
 * Serves an Express app: the pithos middleware, the routes `setup` adds, and an error handler
 * that records the error and answers `503 failed` (after a turn of the loop when `later`).
 */
async function serve(
  t: TestContext,
  setup: (app: Express, sessions: ExpressSessionMiddleware<Data>) => void,
  options: { adapter?: ExpressSessionOptions; bindIP?: boolean; later?: boolean } = {},
): Promise<Served> {
  const store = watchedStore();
  const manager = scenarioManager<Data>(store, {
    cookie: { name: 'sid', secure: false },
    ...(options.bindIP ? { bindIP: true } : {}),
  });
  const sessions = createSessionMiddleware(manager, options.adapter);
  const errors: unknown[] = [];
  const app = expressApp();
  app.use(sessions);
  setup(app, sessions);
  app.use(((error, _request, response, next) => {
    errors.push(error);
    if (response.headersSent) return next(error);
    const answer = (): void => {
      response.status(503).type('text/plain').send('failed');
    };
    if (options.later) setImmediate(answer);
    else answer();
  }) satisfies ErrorRequestHandler);
  const running = await listen(app);
  t.after(async () => {
    store.release();
    await running.close();
  });
  return { app: running, store, manager, errors };
}

describe('express: what is special to Express', () => {
  it('getSession is typed by the manager; req.session is the same session', async (t) => {
    let same = false;
    const { app } = await serve(t, (router, { getSession }) => {
      router.get('/', (request, response) => {
        const session = getSession(request);
        const visits: number | undefined = session.get('visits');
        session.set('visits', (visits ?? 0) + 1);
        const wrongUses = (): void => {
          // @ts-expect-error an unknown key does not compile
          session.get('unknownKey');
          // @ts-expect-error a wrongly typed value does not compile
          session.set('visits', 'many');
        };
        void wrongUses;
        same = (request as { session?: unknown }).session === session;
        response.send(String(session.get('visits')));
      });
    });
    const first = await get(app.url, '/');
    const cookie = sessionCookie(first.setCookies, 'sid');
    assert.equal(first.body, '1');
    assert.ok(same, 'req.session is the session getSession returns');
    assert.equal((await get(app.url, '/', { cookie: `sid=${cookie.value}` })).body, '2');
  });

  it('getSession without the middleware: a ConfigError through next(err)', async (t) => {
    const manager = scenarioManager<Data>(watchedStore(), { cookie: { name: 'sid' } });
    const { getSession } = createSessionMiddleware(manager);
    const errors: unknown[] = [];
    const app = expressApp();
    app.get('/', (request, response) => {
      response.send(String(getSession(request).get('a')));
    });
    app.use(((error, _request, response, _next) => {
      errors.push(error);
      response.status(500).send('no session');
    }) satisfies ErrorRequestHandler);
    const running = await listen(app);
    t.after(() => running.close());
    assert.equal((await get(running.url, '/')).status, 500);
    assert.ok(errors[0] instanceof ConfigError);
  });

  it('getSession still finds the session once the response has finished', async (t) => {
    const seen = deferred<unknown>();
    const { app } = await serve(t, (router, { getSession }) => {
      router.get('/', (request, response) => {
        getSession(request).set('visits', 1);
        // What a logging middleware does: read the session after the response went out.
        response.on('finish', () => {
          try {
            seen.resolve(getSession(request).get('visits'));
          } catch (error) {
            seen.resolve(error);
          }
        });
        response.send('ok');
      });
    });
    assert.equal((await get(app.url, '/')).status, 200);
    assert.equal(await seen.promise, 1);
  });

  it("getSession of another manager's middleware does not take this one's session", async (t) => {
    const other = createSessionMiddleware(
      scenarioManager<Data>(watchedStore(), { cookie: { name: 'other' } }),
    );
    const served = await serve(t, (router) => {
      router.get('/', (request, response) => {
        response.send(String(other.getSession(request).get('visits')));
      });
    });
    assert.equal((await get(served.app.url, '/')).status, 503);
    assert.ok(served.errors[0] instanceof ConfigError);
  });

  it('getSession after req.session was replaced: a ConfigError, not some other object', async (t) => {
    const served = await serve(t, (router, { getSession }) => {
      router.get('/', (request, response) => {
        (request as { session?: unknown }).session = { get: () => 'forged' };
        response.send(String(getSession(request).get('visits')));
      });
    });
    assert.equal((await get(served.app.url, '/')).status, 503);
    assert.ok(served.errors[0] instanceof ConfigError);
    assert.match((served.errors[0] as Error).message, /do not replace req\.session/);
  });
  it('a store failure on load reaches the Express error handler; the route never runs', async (t) => {
    let ran = false;
    const served = await serve(t, (app) => {
      app.get('/', (_request, response) => {
        ran = true;
        response.send('ok');
      });
    });
    served.store.failing = true;
    const answer = await get(served.app.url, '/', { cookie: `sid=${'A'.repeat(64)}` });
    assert.deepEqual([answer.status, answer.body, answer.setCookies], [503, 'failed', []]);
    assert.equal(ran, false);
    assert.ok(served.errors[0] instanceof StoreError);
  });

  it('a commit failure reaches an error handler that answers later; none of the route headers leak', async (t) => {
    const served = await serve(
      t,
      (app, { getSession }) => {
        app.get('/', (request, response) => {
          getSession(request).set('a', '1');
          response.set('X-Route', 'yes').cookie('theme', 'dark').redirect('/elsewhere');
        });
      },
      { later: true },
    );
    served.store.failing = true;
    const answer = await get(served.app.url, '/');
    assert.deepEqual([answer.status, answer.body, answer.setCookies], [503, 'failed', []]);
    assert.equal(answer.headers.get('location'), null);
    assert.equal(answer.headers.get('x-route'), null);
    assert.ok(served.errors[0] instanceof StoreError);
  });

  it("a commit failure with Express's own final handler: a plain 500", async (t) => {
    t.mock.method(console, 'error', () => {});
    const store = watchedStore();
    const manager = scenarioManager<Data>(store, { cookie: { name: 'sid', secure: false } });
    const sessions = createSessionMiddleware(manager);
    const app = expressApp();
    app.use(sessions);
    app.get('/', (request, response) => {
      sessions.getSession(request).set('a', '1');
      response.send('ok');
    });
    const running = await listen(app);
    t.after(() => running.close());
    store.failing = true;
    const answer = await get(running.url, '/');
    assert.equal(answer.status, 500);
    assert.deepEqual(answer.setCookies, []);
    assert.doesNotMatch(answer.body, /ECONNREFUSED|StoreError|\n\s+at /);
    await settle(); // Express logs the error a turn of the loop later
  });

  it('a commit failure at the first chunk of a stream cuts it off and reaches the error handler', async (t) => {
    const release = deferred();
    const served = await serve(t, (app, { getSession }) => {
      app.get('/', async (request, response) => {
        getSession(request).set('a', '1');
        response.write('one');
        await release.promise;
        response.write('two');
        response.end('three');
      });
    });
    served.store.failing = true;
    const pending = open(served.app.url, '/');
    await assert.rejects(pending.then((response) => response.text()));
    release.resolve();
    await settle();
    assert.ok(served.errors[0] instanceof StoreError);
    served.store.failing = false;
    assert.equal((await get(served.app.url, '/none')).status, 404, 'the server still answers');
  });

  it('res.redirect after a write keeps the route cookies beside the session cookie', async (t) => {
    const served = await serve(t, (app, { getSession }) => {
      app.get('/login', (request, response) => {
        getSession(request).set('a', 'ada');
        response.cookie('theme', 'dark').redirect(303, '/home');
      });
      app.get('/home', (request, response) => {
        response.send(getSession(request).get('a') ?? 'nobody');
      });
    });
    const answer = await get(served.app.url, '/login');
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.get('location'), '/home');
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['sid', 'theme']);
    const cookie = sessionCookie(answer.setCookies, 'sid');
    assert.equal(
      (await get(served.app.url, '/home', { cookie: `sid=${cookie.value}` })).body,
      'ada',
    );
  });

  it('a route that answers 5xx itself saves nothing', async (t) => {
    const served = await serve(t, (app, { getSession }) => {
      app.get('/', (request, response) => {
        getSession(request).set('a', '1');
        response.status(502).send('upstream down');
      });
    });
    const answer = await get(served.app.url, '/');
    assert.deepEqual([answer.status, answer.setCookies], [502, []]);
    assert.equal(served.store.writes.started, 0);
  });

  it('the middleware mounted twice loads the session once', async (t) => {
    const served = await serve(t, (app, sessions) => {
      app.get('/', sessions, (request, response) => {
        sessions.getSession(request).set('a', '1');
        response.send('ok');
      });
    });
    const answer = await get(served.app.url, '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.setCookies.length, 1);
    assert.equal(served.store.writes.started, 1);
  });

  it("the trustProxy option replaces Express's trust proxy setting for sessions", async (t) => {
    const served = await serve(
      t,
      (app, { getSession }) => {
        // Express believes every hop: req.ip would be the client-written left-most one.
        app.set('trust proxy', true);
        app.get('/write', (request, response) => {
          getSession(request).set('a', '1');
          response.send('ok');
        });
        app.get('/read', (request, response) => {
          response.send(getSession(request).get('a') ?? 'none');
        });
      },
      { adapter: { trustProxy: ['127.0.0.1'] }, bindIP: true },
    );
    const written = await get(served.app.url, '/write', { forwardedFor: '203.0.113.7' });
    const cookie = `sid=${sessionCookie(written.setCookies, 'sid').value}`;
    const read = (forwardedFor: string) => get(served.app.url, '/read', { cookie, forwardedFor });
    assert.equal((await read('198.51.100.9, 203.0.113.7')).body, '1', 'a claimed hop is ignored');
    assert.equal((await read('203.0.113.7, 198.51.100.9')).body, 'none');
  });

  describe('the hold on the shared response prototype', () => {
    /** Serves the app `build` makes around a fresh middleware, whatever order it uses it in. */
    async function serveBuilt(
      t: TestContext,
      build: (sessions: ExpressSessionMiddleware<Data>) => Express,
    ): Promise<{ running: RunningApp; store: WatchedStore }> {
      const store = watchedStore();
      const manager = scenarioManager<Data>(store, { cookie: { name: 'sid', secure: false } });
      const running = await listen(build(createSessionMiddleware(manager)));
      t.after(async () => {
        store.release();
        await running.close();
      });
      return { running, store };
    }

    it('a route before the middleware answers as usual, with no session cookie', async (t) => {
      const ownMethods: boolean[] = [];
      const { running, store } = await serveBuilt(t, (sessions) => {
        const app = expressApp();
        app.get('/plain', (_request, response) => {
          response.status(201).type('text/plain').send('plain');
        });
        app.use(sessions);
        app.get('/write', (request, response) => {
          sessions.getSession(request).set('a', '1');
          // The hold's wrappers live on the shared prototype, not on each response.
          ownMethods.push(Object.hasOwn(response, 'end') || Object.hasOwn(response, 'writeHead'));
          response.send('written');
        });
        return app;
      });
      // Twice each, in turn: the wrappers stay on the prototype between requests.
      for (let i = 0; i < 2; i++) {
        const plain = await get(running.url, '/plain');
        assert.equal(plain.status, 201);
        assert.equal(plain.body, 'plain');
        assert.deepEqual(plain.setCookies, []);
        const written = await get(running.url, '/write');
        assert.equal(written.body, 'written');
        assert.equal(sessionCookie(written.setCookies, 'sid').name, 'sid');
      }
      assert.equal(store.writes.started, 2);
      assert.deepEqual(ownMethods, [false, false]);
    });

    it('a middleware that wrapped res.end before it still commits before the headers', async (t) => {
      let wrappedEnds = 0;
      const { running, store } = await serveBuilt(t, (sessions) => {
        const app = expressApp();
        // As compression and similar middleware do: an own `end` on the response, set first.
        app.use((_request, response, next) => {
          const end = response.end;
          response.end = function (this: Response, ...args: unknown[]) {
            wrappedEnds++;
            return (end as (...a: unknown[]) => Response).apply(this, args);
          } as Response['end'];
          next();
        });
        app.use(sessions);
        app.get('/', (request, response) => {
          sessions.getSession(request).set('a', 'kept');
          response.send('ok');
        });
        app.get('/read', (request, response) => {
          response.send(sessions.getSession(request).get('a') ?? 'none');
        });
        return app;
      });
      const written = await get(running.url, '/');
      assert.equal(written.body, 'ok');
      const cookie = sessionCookie(written.setCookies, 'sid');
      assert.equal(store.writes.started, 1);
      const read = await get(running.url, '/read', { cookie: `sid=${cookie.value}` });
      assert.equal(read.body, 'kept');
      assert.equal(wrappedEnds, 2, "the other middleware's end ran for both responses");
    });

    it('a session middleware inside a sub-app commits when the parent app answers', async (t) => {
      const { running, store } = await serveBuilt(t, (sessions) => {
        const sub = express();
        sub.use(sessions);
        sub.use((request, _response, next) => {
          sessions.getSession(request).set('a', 'from the sub-app');
          next();
        });
        const app = expressApp();
        app.use(sub);
        // Express gives the response its parent prototype back before this runs.
        app.get('/', (_request, response) => {
          response.send('parent');
        });
        return app;
      });
      const first = await get(running.url, '/');
      assert.equal(first.body, 'parent');
      const cookie = sessionCookie(first.setCookies, 'sid');
      assert.equal(store.writes.started, 1);
      const again = await get(running.url, '/', { cookie: `sid=${cookie.value}` });
      assert.equal(again.status, 200);
    });

    it("leaves node's own ServerResponse.prototype alone", async (t) => {
      const { ServerResponse } = await import('node:http');
      const before = [ServerResponse.prototype.end, ServerResponse.prototype.writeHead];
      const { app } = await serve(t, (router, { getSession }) => {
        router.get('/', (request, response) => {
          getSession(request).set('a', '1');
          response.send('ok');
        });
      });
      assert.equal((await get(app.url, '/')).body, 'ok');
      assert.deepEqual([ServerResponse.prototype.end, ServerResponse.prototype.writeHead], before);
    });
  });
});

describe('express: routers and several managers', () => {
  it("a commit failure reaches the error handler of the route's own router", async (t) => {
    const store = watchedStore();
    const sessions = createSessionMiddleware(
      scenarioManager<Data>(store, { cookie: { name: 'sid', secure: false } }),
    );
    const app = expressApp();
    app.use(sessions);
    const api = express.Router();
    api.get('/set', (request, response) => {
      sessions.getSession(request).set('a', '1');
      response.json({ ok: true });
    });
    const apiErrors: ErrorRequestHandler = (error, _request, response, _next) => {
      response.status(503).json({ api: (error as Error).message });
    };
    api.use(apiErrors);
    app.use('/api', api);
    const appErrors: ErrorRequestHandler = (_error, _request, response, _next) => {
      response.status(500).send('app handler');
    };
    app.use(appErrors);
    const running = await listen(app);
    t.after(() => running.close());
    store.failing = true;
    const answer = await get(running.url, '/api/set');
    assert.equal(answer.status, 503);
    assert.match(answer.body, /"api":/);
    assert.deepEqual(answer.setCookies, []);
  });

  it('two managers on one request: each getSession finds its own session, both commit', async (t) => {
    const users = createSessionMiddleware(
      scenarioManager<Data>(watchedStore(), { cookie: { name: 'sid', secure: false } }),
    );
    const admins = createSessionMiddleware(
      scenarioManager<Data>(watchedStore(), { cookie: { name: 'adm', secure: false } }),
    );
    const app = expressApp();
    app.use(users);
    app.use('/admin', admins);
    app.get('/admin/x', (request, response) => {
      admins.getSession(request).set('visits', 2);
      users.getSession(request).set('visits', 1);
      response.send('ok');
    });
    const running = await listen(app);
    t.after(() => running.close());
    const answer = await get(running.url, '/admin/x');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.setCookies.map((line) => line.split('=')[0]).sort(), ['adm', 'sid']);
  });
});
