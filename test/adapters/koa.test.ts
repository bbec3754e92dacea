/**
 * The Koa adapter (`pithos/koa`): the shared scenarios served by Koa, plus what is special to it:
 * `ctx.session` typed through `app.use`, `ctx.redirect` and `ctx.cookies` beside the session
 * cookie, `ctx.throw` downstream, `ctx.respond = false`, and Koa's `app.proxy` left out.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import Koa from 'koa';
import {
  createSessionMiddleware,
  type KoaSessionMiddleware,
  type SessionContext,
} from '../../src/adapters/koa.ts';
import { ConfigError, type SessionManager, StoreError } from '../../src/index.ts';
import { describeAdapterScenarios, type Reply } from './scenarios.ts';
import {
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

/** Sends a scenario reply the way Koa code usually does. */
function send(reply: Reply, ctx: Koa.Context): void {
  switch (reply.kind) {
    case 'text':
      ctx.status = reply.status;
      ctx.type = 'text/plain';
      ctx.body = reply.body;
      return;
    case 'redirect':
      ctx.redirect(reply.location);
      return;
    case 'stream':
      ctx.type = 'text/plain';
      ctx.body = Readable.from(reply.chunks);
      return;
  }
}

describeAdapterScenarios('koa', (manager, options) => {
  const app = new Koa();
  const onError = options.onError;
  if (onError !== undefined) {
    // Koa's way to replace error responses: a middleware in front that catches.
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const reply = onError(error);
        ctx.status = reply.status;
        ctx.type = 'text/plain';
        ctx.body = reply.body;
      }
    });
  }
  const sessions = createSessionMiddleware(
    manager,
    options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy },
  );
  app.use(sessions).use(async (ctx) => {
    send(await options.route(ctx.session, new URL(ctx.url, 'http://127.0.0.1')), ctx);
  });
  return listen(app.callback());
});

type Data = { a?: string; visits?: number };

interface Served {
  app: RunningApp;
  store: WatchedStore;
  manager: SessionManager<Data>;
  /** Errors Koa emitted on the app. */
  errors: unknown[];
}

/** Serves a Koa app: the pithos middleware, then what `setup` adds. */
async function serve(
  t: TestContext,
  setup: (
    app: Koa<Koa.DefaultState, SessionContext<Data>>,
    sessions: KoaSessionMiddleware<Data>,
  ) => void,
  options: { bindIP?: boolean; proxy?: boolean } = {},
): Promise<Served> {
  const store = watchedStore();
  const manager = scenarioManager<Data>(store, {
    cookie: { name: 'sid', secure: false },
    ...(options.bindIP ? { bindIP: true } : {}),
  });
  const sessions = createSessionMiddleware(manager);
  const app = new Koa<Koa.DefaultState, SessionContext<Data>>();
  const errors: unknown[] = [];
  app.on('error', (error) => errors.push(error));
  app.proxy = options.proxy ?? false;
  app.use(sessions);
  setup(app, sessions);
  const running = await listen(app.callback());
  t.after(async () => {
    store.release();
    await running.close();
  });
  return { app: running, store, manager, errors };
}

describe('koa: what is special to Koa', () => {
  it('ctx.session and getSession(ctx) are typed by the manager', async (t) => {
    const { app } = await serve(t, (koa, sessions) => {
      koa.use(async (ctx) => {
        const visits: number | undefined = ctx.session.get('visits');
        ctx.session.set('visits', (visits ?? 0) + 1);
        assert.equal(sessions.getSession(ctx), ctx.session);
        const wrongUses = (): void => {
          // @ts-expect-error an unknown key does not compile
          ctx.session.get('unknownKey');
          // @ts-expect-error a wrongly typed value does not compile
          ctx.session.set('visits', 'many');
          // @ts-expect-error the same through getSession
          sessions.getSession(ctx).set('a', 1);
        };
        void wrongUses;
        ctx.body = String(ctx.session.get('visits'));
      });
    });
    const first = await get(app.url, '/');
    assert.equal(first.body, '1');
    const cookie = `sid=${sessionCookie(first.setCookies, 'sid').value}`;
    assert.equal((await get(app.url, '/', { cookie })).body, '2');
  });

  it('app.use(sessions) gives the next middleware a typed ctx.session without declaring it', () => {
    const manager = scenarioManager<Data>(watchedStore(), { cookie: { name: 'sid' } });
    new Koa().use(createSessionMiddleware(manager)).use(async (ctx) => {
      const wrongUses = (): void => {
        // @ts-expect-error an unknown key does not compile
        ctx.session.get('unknownKey');
        // @ts-expect-error a wrongly typed value does not compile
        ctx.session.set('a', 2);
      };
      void wrongUses;
      ctx.body = ctx.session.get('a') ?? '';
    });
  });

  it('getSession without the middleware throws a ConfigError', () => {
    const manager = scenarioManager<Data>(watchedStore(), { cookie: { name: 'sid' } });
    assert.throws(() => createSessionMiddleware(manager).getSession({}), ConfigError);
  });

  it('ctx.redirect after a write keeps ctx.cookies beside the session cookie', async (t) => {
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        if (ctx.path === '/login') {
          ctx.session.set('a', 'ada');
          ctx.cookies.set('theme', 'dark', { signed: false });
          ctx.redirect('/home');
        } else {
          ctx.body = ctx.session.get('a') ?? 'nobody';
        }
      });
    });
    const answer = await get(served.app.url, '/login');
    assert.equal(answer.status, 302);
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['sid', 'theme']);
    const cookie = `sid=${sessionCookie(answer.setCookies, 'sid').value}`;
    assert.equal((await get(served.app.url, '/home', { cookie })).body, 'ada');
  });

  it('caching headers set downstream: Vary gets Cookie added, Cache-Control becomes no-store', async (t) => {
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        ctx.session.set('a', '1');
        ctx.vary('Accept-Encoding');
        ctx.set('Cache-Control', 'public, max-age=600');
        ctx.body = 'ok';
      });
    });
    const answer = await get(served.app.url, '/');
    assert.equal(answer.headers.get('vary'), 'Accept-Encoding, Cookie');
    assert.equal(answer.headers.get('cache-control'), 'no-store');
  });

  it('a downstream ctx.throw(403) keeps the changes made before it and sends the cookie', async (t) => {
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        if (ctx.path === '/read') {
          ctx.body = ctx.session.get('a') ?? 'none';
          return;
        }
        ctx.session.set('a', 'tried');
        ctx.throw(403, 'no entry');
      });
    });
    const answer = await get(served.app.url, '/');
    assert.deepEqual([answer.status, answer.body], [403, 'no entry']);
    const cookie = `sid=${sessionCookie(answer.setCookies, 'sid').value}`;
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal((await get(served.app.url, '/read', { cookie })).body, 'tried');
  });

  it('after a downstream ctx.throw(403), an error middleware in front answers or sees the store failure', async (t) => {
    const store = watchedStore();
    const manager = scenarioManager<Data>(store, { cookie: { name: 'sid', secure: false } });
    const app = new Koa<Koa.DefaultState, SessionContext<Data>>();
    const caught: unknown[] = [];
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        caught.push(error);
        const status = (error as { status?: number }).status ?? 500;
        ctx.status = status;
        ctx.body = status >= 500 ? 'sorry\n' : 'not you\n';
      }
    });
    app.use(createSessionMiddleware(manager)).use(async (ctx) => {
      ctx.session.set('a', 'tried');
      ctx.throw(403, 'no entry');
    });
    const running = await listen(app.callback());
    t.after(async () => {
      store.release();
      await running.close();
    });
    // The middleware's own answer keeps the session cookie.
    const answered = await get(running.url, '/');
    assert.deepEqual([answered.status, answered.body], [403, 'not you\n']);
    assert.equal(sessionCookie(answered.setCookies, 'sid').value.length > 0, true);
    // A store that fails: the middleware sees the StoreError, not the 403.
    store.failing = true;
    const failed = await get(running.url, '/');
    assert.deepEqual([failed.status, failed.body, failed.setCookies], [500, 'sorry\n', []]);
    assert.ok(caught.at(-1) instanceof StoreError);
  });

  it('after a downstream 401, a middleware in front that logs out sends no session cookie', async (t) => {
    const store = watchedStore();
    const manager = scenarioManager<Data>(store, { cookie: { name: 'sid', secure: false } });
    const app = new Koa<Koa.DefaultState, SessionContext<Data>>();
    const sessions = createSessionMiddleware(manager);
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch {
        await manager.destroy(sessions.getSession(ctx));
        ctx.status = 401;
        ctx.body = 'logged out\n';
      }
    });
    app.use(sessions).use(async (ctx) => {
      ctx.session.set('a', 'tried');
      ctx.throw(401);
    });
    const running = await listen(app.callback());
    t.after(async () => {
      store.release();
      await running.close();
    });
    const answer = await get(running.url, '/');
    assert.equal(answer.status, 401);
    const last = answer.setCookies.map((cookie) => parseSetCookie(cookie)).at(-1);
    assert.equal(last?.name, 'sid');
    assert.match(answer.setCookies.at(-1) ?? '', /Max-Age=0/, 'the last cookie clears it');
  });

  it('an error object thrown for two clients carries neither one’s cookie to the other', async (t) => {
    const forbidden = Object.assign(new Error('no entry'), { status: 403, expose: true });
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        if (ctx.path === '/mine') ctx.session.set('a', 'alice');
        throw forbidden;
      });
    });
    const alice = await get(served.app.url, '/mine');
    assert.equal(alice.status, 403);
    assert.equal(alice.setCookies.length, 1, 'alice gets her cookie');
    const stranger = await get(served.app.url, '/other');
    assert.deepEqual([stranger.status, stranger.setCookies], [403, []]);
  });

  it('a downstream ctx.throw(500) saves nothing', async (t) => {
    t.mock.method(console, 'error', () => {});
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        ctx.session.set('a', 'tried');
        ctx.throw(500);
      });
    });
    const answer = await get(served.app.url, '/');
    assert.deepEqual([answer.status, answer.setCookies], [500, []]);
    assert.equal(served.store.writes.started, 0);
  });

  it('a store failure on commit is thrown into Koa: app error event and a plain 500', async (t) => {
    t.mock.method(console, 'error', () => {});
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        ctx.session.set('a', '1');
        ctx.body = 'ok';
      });
    });
    served.store.failing = true;
    const answer = await get(served.app.url, '/');
    assert.deepEqual(
      [answer.status, answer.body, answer.setCookies],
      [500, 'Internal Server Error', []],
    );
    assert.ok(served.errors[0] instanceof StoreError);
  });

  it('ctx.respond = false: the session is committed at the first write to ctx.res', async (t) => {
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        if (ctx.path === '/read') {
          ctx.body = ctx.session.get('a') ?? 'none';
          return;
        }
        ctx.respond = false;
        // Written after the middleware chain returned, as code that streams by hand does; the
        // change made just before the first write is saved.
        setImmediate(() => {
          ctx.session.set('a', 'raw');
          ctx.res.writeHead(200, { 'content-type': 'text/plain' });
          ctx.res.end('raw body');
        });
      });
    });
    const answer = await get(served.app.url, '/');
    assert.deepEqual([answer.status, answer.body], [200, 'raw body']);
    const cookie = `sid=${sessionCookie(answer.setCookies, 'sid').value}`;
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal((await get(served.app.url, '/read', { cookie })).body, 'raw');
  });

  it("ctx.respond = false and a failing store: Koa's onerror answers 500", async (t) => {
    t.mock.method(console, 'error', () => {});
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        ctx.session.set('a', 'raw');
        ctx.respond = false;
        setImmediate(() => ctx.res.end('raw body'));
      });
    });
    served.store.failing = true;
    const answer = await get(served.app.url, '/');
    assert.deepEqual([answer.status, answer.setCookies], [500, []]);
    assert.ok(served.errors[0] instanceof StoreError);
  });

  it('a stream piped into ctx.body: the cookie leaves with its headers', async (t) => {
    const served = await serve(t, (koa) => {
      koa.use(async (ctx) => {
        ctx.session.set('a', '1');
        ctx.body = Readable.from(['one', 'two']);
      });
    });
    const response = await open(served.app.url, '/');
    sessionCookie(response.headers.getSetCookie(), 'sid');
    assert.equal(await response.text(), 'onetwo');
  });

  it('the middleware mounted twice loads the session once', async (t) => {
    const served = await serve(t, (koa, sessions) => {
      koa.use(sessions).use(async (ctx) => {
        ctx.session.set('a', '1');
        ctx.body = 'ok';
      });
    });
    const answer = await get(served.app.url, '/');
    assert.equal(answer.setCookies.length, 1);
    assert.equal(served.store.writes.started, 1);
  });

  it("Koa's app.proxy does not make a forged X-Forwarded-For pass IP binding", async (t) => {
    const served = await serve(
      t,
      (koa) => {
        koa.use(async (ctx) => {
          if (ctx.path === '/write') ctx.session.set('a', '1');
          ctx.body = ctx.session.get('a') ?? 'none';
        });
      },
      { bindIP: true, proxy: true },
    );
    const written = await get(served.app.url, '/write', { forwardedFor: '203.0.113.7' });
    const cookie = `sid=${sessionCookie(written.setCookies, 'sid').value}`;
    const forged = await get(served.app.url, '/read', {
      cookie,
      localAddress: '127.0.0.2',
      forwardedFor: '203.0.113.7',
    });
    assert.equal(forged.body, 'none', 'bound to the peer, not to the claimed address');
    assert.equal((await get(served.app.url, '/read', { cookie })).body, '1');
    await settle();
  });
});
