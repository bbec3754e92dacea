/**
 * The response hold of the node, Express and Koa adapters, while the commit runs: a handler that
 * answers twice, or an error handler that answers after a reply began, must neither crash the
 * process (a write after the end emits 'error') nor splice a second response into the first.
 * Each case first proves it reaches the hold: the session write is committed with the response.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import express, { type ErrorRequestHandler } from 'express';
import Koa from 'koa';
import { createSessionMiddleware as expressSessions } from '../../src/adapters/express.ts';
import { createSessionMiddleware as koaSessions } from '../../src/adapters/koa.ts';
import { withSession } from '../../src/adapters/node.ts';
import {
  get,
  listen,
  type RunningApp,
  scenarioManager,
  sessionCookie,
  settle,
  type WatchedStore,
  watchedStore,
} from './support.ts';

type Data = { visits: number };
const COOKIE = { name: 'sid', secure: false };

function manager() {
  return managerOn(watchedStore());
}

/** A manager on `store`, with the tests' cookie. */
function managerOn(store: WatchedStore) {
  return scenarioManager<Data>(store, { cookie: COOKIE });
}

async function serve(
  t: TestContext,
  listener: (request: IncomingMessage, response: ServerResponse) => unknown,
): Promise<RunningApp> {
  const app = await listen(listener);
  t.after(() => app.close());
  return app;
}

/** Two requests on one keep-alive connection, as raw HTTP: what the client really reads. */
function rawPair(base: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    const url = new URL(base);
    let text = '';
    const outgoing = request({ host: url.hostname, port: url.port, path, agent: false });
    outgoing.on('response', (incoming) => {
      text += `${incoming.statusCode} ${JSON.stringify(incoming.headers['content-length'] ?? null)}\n`;
      incoming.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      incoming.on('end', () => resolve(text));
      incoming.on('error', () => resolve(`${text}\n[cut off]`));
      incoming.on('aborted', () => resolve(`${text}\n[cut off]`));
    });
    outgoing.on('error', () => resolve(`${text}\n[cut off]`));
    outgoing.end();
  });
}

describe('node: a handler that answers again while the commit runs', () => {
  it('sees headersSent and writableEnded after its end, and its guarded error reply is skipped', async (t) => {
    const seen: boolean[] = [];
    const app = await serve(
      t,
      withSession(manager(), (_request, response, session) => {
        session.set('visits', 1);
        response.end('{"ok":true}');
        seen.push(response.headersSent, response.writableEnded);
        if (!response.headersSent) {
          response.statusCode = 500;
          response.end('error');
        }
      }),
    );
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, '{"ok":true}');
    assert.equal(answer.setCookies.length, 1, 'the write was committed with the response');
    assert.deepEqual(seen, [true, true]);
  });

  it('drops an unguarded second answer: the first one arrives whole, the server lives on', async (t) => {
    const callbackErrors: string[] = [];
    const app = await serve(
      t,
      withSession(manager(), (_request, response, session) => {
        session.set('visits', 1);
        response.setHeader('content-length', '5');
        response.end('first');
        response.statusCode = 500;
        response.setHeader('content-length', '6');
        response.write('second', (error) =>
          callbackErrors.push(String((error as NodeJS.ErrnoException | null | undefined)?.code)),
        );
        response.end();
      }),
    );
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'first');
    assert.equal(answer.headers.get('content-length'), '5');
    assert.equal(answer.setCookies.length, 1);
    assert.equal((await get(app.url, '/')).body, 'first', 'the server still answers');
    assert.deepEqual(callbackErrors, ['ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_WRITE_AFTER_END']);
  });
});

describe('node: more shapes of a held response', () => {
  it('a second writeHead from code that tests res._header (as compression does) is skipped', async (t) => {
    const app = await serve(
      t,
      withSession(manager(), (_request, response, session) => {
        session.set('visits', 1);
        const raw = response as ServerResponse & { _header?: unknown };
        response.write('a');
        if (!raw._header) response.writeHead(200);
        response.write('b');
        response.end();
      }),
    );
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'ab');
    assert.equal(answer.setCookies.length, 1);
  });

  it('two session managers on one response: both commit, no endless recursion', async (t) => {
    const users = manager();
    const admins = scenarioManager<Data>(watchedStore(), {
      cookie: { name: 'admin', secure: false },
    });
    const app = await serve(
      t,
      withSession(users, (request, response, session) => {
        session.set('visits', 1);
        return withSession(admins, (_request, inner, adminSession) => {
          adminSession.set('visits', 2);
          inner.end('ok');
        })(request, response);
      }),
    );
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'ok');
    assert.deepEqual(answer.setCookies.map((line) => line.split('=')[0]).sort(), ['admin', 'sid']);
  });

  it('a status message set after the first held call does not reach the wire', async (t) => {
    const app = await serve(
      t,
      withSession(manager(), (_request, response, session) => {
        session.set('visits', 1);
        response.write('partial;');
        response.statusCode = 500;
        response.statusMessage = 'Server Exploded';
        response.end('done');
      }),
    );
    const statusLine = await new Promise<string>((resolve, reject) => {
      const outgoing = request(`${app.url}/`, { agent: false }, (incoming) => {
        incoming.resume();
        incoming.on('end', () => resolve(`${incoming.statusCode} ${incoming.statusMessage}`));
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
    assert.equal(statusLine, '200 OK');
    const answer = await get(app.url, '/');
    assert.equal(answer.body, 'partial;done');
  });
});

describe('express: answers after a reply began', () => {
  it('an error passed on after the reply: the reply still arrives whole', async (t) => {
    const app = express().set('env', 'production');
    // The commit waits until released, so the final handler runs while the reply is held.
    const store = watchedStore();
    store.hold();
    const sessions = expressSessions(managerOn(store));
    app.use(sessions);
    app.get('/', (request, response, next) => {
      sessions.getSession(request).set('visits', 1);
      response.json({ ok: true });
      next(new Error('after the reply'));
    });
    const running = await serve(t, app);
    const errors = console.error;
    console.error = () => {};
    t.after(() => {
      console.error = errors;
    });
    const pending = get(running.url, '/');
    await store.whenHeld(1);
    await settle();
    store.release();
    const answer = await pending;
    assert.equal(answer.status, 200);
    assert.equal(answer.body, '{"ok":true}');
    assert.equal(answer.setCookies.length, 1);
  });

  it('a route that sends twice (a missing return): the first answer arrives whole', async (t) => {
    const app = express().set('env', 'production');
    const sessions = expressSessions(manager());
    app.use(sessions);
    app.get('/', (request, response) => {
      sessions.getSession(request).set('visits', 1);
      response.status(400).send('name required');
      try {
        response.send('hello');
      } catch {
        // Express refuses some second sends itself; either way nothing may reach the client.
      }
    });
    const running = await serve(t, app);
    const answer = await get(running.url, '/');
    assert.equal(answer.status, 400);
    assert.equal(answer.body, 'name required');
    assert.equal(answer.headers.get('content-length'), String('name required'.length));
    assert.equal(answer.setCookies.length, 1);
    assert.equal((await get(running.url, '/')).status, 400, 'the server still answers');
  });

  it('a stream that throws: the error page is not spliced into it, the response is cut off', async (t) => {
    const app = express().set('env', 'production');
    const sessions = expressSessions(manager());
    app.use(sessions);
    app.get('/', (request, response) => {
      sessions.getSession(request).set('visits', 1);
      response.type('text/plain').write('partial-');
      throw new Error('boom');
    });
    const handler: ErrorRequestHandler = (error, _request, response, next) => {
      if (response.headersSent) return next(error);
      response.status(500).type('text/plain').send('Something went wrong');
    };
    app.use(handler);
    const running = await serve(t, app);
    const errors = console.error;
    console.error = () => {};
    t.after(() => {
      console.error = errors;
    });
    const text = await rawPair(running.url, '/');
    assert.ok(!text.includes('Something went wrong'), text);
    assert.ok(!text.startsWith('500'), text);
  });
});

describe('koa: a middleware that writes to ctx.res itself', () => {
  it('respond = false, end, then a throw: the reply stands and the process lives on', async (t) => {
    const store = watchedStore();
    const app = new Koa();
    app.silent = true;
    app.use(koaSessions(managerOn(store)));
    app.use(async (ctx) => {
      ctx.session.set('visits', 1);
      ctx.respond = false;
      ctx.res.end('ok');
      throw new Error('after the reply');
    });
    const running = await serve(t, app.callback());
    const answer = await get(running.url, '/');
    assert.equal(answer.body, 'ok');
    assert.equal(answer.status, 404, "Koa's status when the reply was written");
    assert.equal(answer.setCookies.length, 1);
    assert.equal((await get(running.url, '/')).body, 'ok', 'the server still answers');
  });
});

describe('the hold with streams, slow stores and middleware above it', () => {
  it('gives backpressure while the commit runs: a pipe() waits instead of buffering its source', async (t) => {
    const store = watchedStore();
    const CHUNK = 64 * 1024;
    const TOTAL = 4 * 1024 * 1024;
    let pulled = 0;
    const app = await serve(
      t,
      withSession(managerOn(store), (_request, response, session) => {
        session.set('visits', 1);
        store.hold();
        new Readable({
          read() {
            pulled += CHUNK;
            this.push(pulled > TOTAL ? null : Buffer.alloc(CHUNK, 120));
          },
        }).pipe(response);
      }),
    );
    const answer = get(app.url, '/');
    await store.whenHeld(1);
    for (let i = 0; i < 20; i++) await settle();
    assert.ok(pulled <= 4 * CHUNK, `${pulled} bytes pulled while the commit waited`);
    store.release();
    const done = await answer;
    assert.equal(done.body.length, TOTAL, 'the whole body arrives once the commit is done');
    assert.equal(done.setCookies.length, 1);
  });

  it('a client that resets its connection while the commit hangs frees the connection', async (t) => {
    const store = watchedStore();
    const server = createServer(
      withSession(managerOn(store), (_request, response, session) => {
        session.set('visits', 1);
        store.hold();
        response.end('ok');
      }),
    );
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    t.after(() => {
      store.release();
      server.closeAllConnections();
      server.close();
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await store.whenHeld(1);
    socket.resetAndDestroy();
    const count = () => new Promise<number>((done) => server.getConnections((_e, n) => done(n)));
    for (let turn = 0; turn < 200 && (await count()) > 0; turn++) await settle();
    assert.equal(await count(), 0, 'the reset connection is gone, though the commit still hangs');
  });

  it('flushHeaders while the commit runs lets writeHead wrappers above it run first (as compression needs)', async (t) => {
    const order: string[] = [];
    const app = await serve(
      t,
      withSession(manager(), (_request, response, session) => {
        session.set('visits', 1);
        // What on-headers does for compression: a writeHead wrapper set after pithos's.
        const below = response.writeHead;
        response.writeHead = function (this: ServerResponse, ...args: unknown[]) {
          order.push('writeHead');
          this.setHeader('x-encoding', 'chosen');
          return (below as (...a: unknown[]) => ServerResponse).apply(this, args);
        } as typeof response.writeHead;
        response.flushHeaders();
        order.push('write');
        response.write('data: 1\n\n');
        response.end();
      }),
    );
    const answer = await get(app.url, '/');
    assert.deepEqual(order, ['writeHead', 'write']);
    assert.equal(answer.headers.get('x-encoding'), 'chosen');
    assert.equal(answer.body, 'data: 1\n\n');
    assert.equal(answer.setCookies.length, 1);
  });

  it('an onError that answers asynchronously after a failed commit is waited for', async (t) => {
    const store = watchedStore();
    const app = await serve(
      t,
      withSession(
        managerOn(store),
        (_request, response, session) => {
          session.set('visits', 1);
          store.failing = true;
          response.end('ok');
        },
        {
          onError: async (_error, _request, response) => {
            await settle();
            response.writeHead(503, { 'content-type': 'text/plain' }).end('try later');
          },
        },
      ),
    );
    const answer = await get(app.url, '/');
    assert.deepEqual([answer.status, answer.body, answer.setCookies], [503, 'try later', []]);
  });

  it('an async onError while the handler still streams: the response is cut off, not mixed', async (t) => {
    const store = watchedStore();
    const app = await serve(
      t,
      withSession(
        managerOn(store),
        async (_request, response, session) => {
          session.set('visits', 1);
          store.failing = true;
          response.write('chunk 1\n');
          await settle();
          response.write('chunk 2 (must never be sent)\n');
        },
        {
          onError: async (_error, _request, response) => {
            await settle();
            if (!response.headersSent) response.writeHead(503).end('try later');
          },
        },
      ),
    );
    const text = await rawPair(app.url, '/');
    assert.ok(!text.includes('chunk 2'), text);
    assert.match(text, /cut off/);
  });

  it('an async onError after a failed load or a throwing handler, or one that fails, still answers', async (t) => {
    const store = watchedStore();
    const manager = managerOn(store);
    const errors = console.error;
    console.error = () => {};
    t.after(() => {
      console.error = errors;
    });
    const hooks = [
      async () => {},
      async () => {
        throw new Error('the error page failed');
      },
    ];
    for (const onError of hooks) {
      const app = await serve(
        t,
        withSession(
          manager,
          (request, response, session) => {
            if (request.url === '/throw') throw new Error('the handler failed');
            session.set('visits', 1);
            response.end('ok');
          },
          { onError },
        ),
      );
      store.failing = false;
      const created = await get(app.url, '/');
      const cookie = sessionCookie(created.setCookies, 'sid');
      const thrown = await get(app.url, '/throw');
      assert.equal(thrown.status, 500, 'after a throwing handler');
      store.failing = true;
      const failed = await get(app.url, '/', { cookie: `sid=${cookie.value}` });
      assert.equal(failed.status, 500, 'after a failed load');
    }
  });

  it('a writer waiting for drain goes on when the commit fails', async (t) => {
    const store = watchedStore();
    let finished = 0;
    const app = await serve(
      t,
      withSession(
        managerOn(store),
        async (_request, response, session) => {
          session.set('visits', 1);
          store.failing = true;
          for (let i = 0; i < 8; i++) {
            const accepted = response.write(Buffer.alloc(64 * 1024));
            // The first, held write is over the high-water mark; the commit then fails.
            if (i === 0) assert.equal(accepted, false);
            if (!accepted) await once(response, 'drain');
          }
          response.end();
          finished++;
        },
        {
          onError: (_error, _request, response) => {
            response.writeHead(503).end('later');
          },
        },
      ),
    );
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 503);
    for (let turn = 0; turn < 50 && finished === 0; turn++) await settle();
    assert.equal(finished, 1, 'the handler ran to its end');
  });

  it('headers given to writeHead as a list keep every repeated value when the cookie is added', async (t) => {
    const app = await serve(
      t,
      withSession(manager(), (request, response, session) => {
        session.set('visits', 1);
        const flat = ['Link', '</a.css>', 'Link', '</b.js>', 'Content-Type', 'text/plain'];
        const tuples = [
          ['Link', '</a.css>'],
          ['Link', '</b.js>'],
          ['Content-Type', 'text/plain'],
        ];
        response.writeHead(200, request.url === '/tuples' ? (tuples as never) : flat).end('ok');
      }),
    );
    for (const path of ['/flat', '/tuples']) {
      const raw = await rawHeaders(app.url, path);
      assert.equal(raw.status, 200, path);
      assert.deepEqual(raw.values('link'), ['</a.css>', '</b.js>'], path);
      assert.equal(raw.values('set-cookie').length, 1, path);
    }
  });

  it('Express: res.writeHead(500) saves nothing, as a 5xx status does', async (t) => {
    const store = watchedStore();
    const sessions = expressSessions(managerOn(store));
    const app = express().use(sessions);
    app.get('/', (request, response) => {
      sessions.getSession(request).set('visits', 1);
      response.writeHead(500, { 'content-type': 'text/plain' }).end('failed');
    });
    const running = await serve(t, app);
    const answer = await get(running.url, '/');
    assert.deepEqual([answer.status, answer.setCookies], [500, []]);
    assert.equal(store.writes.started, 0);
  });
});

/** The raw header lines of one response, as the client received them. */
function rawHeaders(
  base: string,
  path: string,
): Promise<{ status: number; values(name: string): string[] }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const outgoing = request({ host: url.hostname, port: url.port, path, agent: false });
    outgoing.on('response', (incoming) => {
      incoming.resume();
      const lines = incoming.rawHeaders;
      resolve({
        status: incoming.statusCode ?? 0,
        values: (name) => {
          const found: string[] = [];
          for (let i = 0; i + 1 < lines.length; i += 2) {
            if (lines[i]?.toLowerCase() === name) found.push(lines[i + 1] as string);
          }
          return found;
        },
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}
