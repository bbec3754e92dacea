/**
 * The `node:http` adapter (`pithos/node`): the shared scenarios, plus what only `ServerResponse`
 * can do (headers handed to `writeHead`, in object and array form).
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { type NodeSessionOptions, withSession } from '../../src/adapters/node.ts';
import type { SessionManager } from '../../src/index.ts';
import { describeAdapterScenarios, type Reply, type ScenarioData } from './scenarios.ts';
import {
  get,
  listen,
  parseSetCookie,
  type RunningApp,
  scenarioManager,
  sessionCookie,
  settle,
  watchedStore,
} from './support.ts';

/** Sends a scenario reply the way node:http code usually does. */
async function send(reply: Reply, response: ServerResponse): Promise<void> {
  switch (reply.kind) {
    case 'text':
      response.statusCode = reply.status;
      response.setHeader('content-type', 'text/plain; charset=utf-8');
      response.end(reply.body);
      return;
    case 'redirect':
      response.writeHead(302, { Location: reply.location }).end();
      return;
    case 'stream':
      response.setHeader('content-type', 'text/plain; charset=utf-8');
      for await (const chunk of reply.chunks) response.write(chunk);
      response.end();
      return;
  }
}

describeAdapterScenarios('node', (manager, options) => {
  const onError = options.onError;
  const nodeOptions: NodeSessionOptions = {
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(onError === undefined
      ? {}
      : {
          onError: (error, _request, response) => {
            const reply = onError(error);
            response.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body);
          },
        }),
  };
  return listen(
    withSession(
      manager,
      async (request, response, session) => {
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        await send(await options.route(session, url), response);
      },
      nodeOptions,
    ),
  );
});

describe('node: what only ServerResponse can do', () => {
  async function serve(
    t: TestContext,
    respond: (response: ServerResponse, manager: SessionManager<ScenarioData>) => void,
  ): Promise<RunningApp> {
    const manager = scenarioManager<ScenarioData>(watchedStore(), {
      cookie: { name: 'sid', secure: false },
    });
    const app = await listen(
      withSession(manager, (_request, response, session) => {
        session.set('a', '1');
        respond(response, manager);
      }),
    );
    t.after(() => app.close());
    return app;
  }

  it('writeHead(302, { Location }) then end() carries the cookie, and the redirect target sees it', async (t) => {
    const app = await serve(t, (response) => {
      response.writeHead(302, { Location: '/elsewhere' });
      response.end();
    });
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 302);
    assert.equal(answer.headers.get('location'), '/elsewhere');
    sessionCookie(answer.setCookies, 'sid');
    assert.equal(answer.headers.get('cache-control'), 'no-store');
  });

  it('headers given to writeHead keep their cookies and add ours; no-store and Vary win', async (t) => {
    const app = await serve(t, (response) => {
      response.setHeader('Set-Cookie', 'early=1; Path=/');
      response.writeHead(200, {
        'Set-Cookie': ['theme=dark; Path=/', 'lang=en; Path=/'],
        'Cache-Control': 'public, max-age=600',
        Vary: 'Accept-Encoding',
      });
      response.end('ok');
    });
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 200);
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['lang', 'sid', 'theme']);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.headers.get('vary'), 'Accept-Encoding, Cookie');
  });

  it('headers given to writeHead as a flat array keep every cookie', async (t) => {
    const app = await serve(t, (response) => {
      response.writeHead(200, [
        'Set-Cookie',
        'theme=dark',
        'Set-Cookie',
        'lang=en',
        'Vary',
        'Origin',
      ]);
      response.end('ok');
    });
    const answer = await get(app.url, '/');
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['lang', 'sid', 'theme']);
    assert.equal(answer.headers.get('vary'), 'Origin, Cookie');
    assert.equal(answer.headers.get('cache-control'), 'no-store');
  });

  it('a Vary header set as an array gets Cookie added', async (t) => {
    const app = await serve(t, (response) => {
      response.setHeader('Vary', ['Accept', 'Origin']);
      response.end('ok');
    });
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('vary'), 'Accept, Origin, Cookie');
  });

  it('a handler that throws after end() still delivers its whole response', async (t) => {
    t.mock.method(console, 'error', () => {});
    const manager = scenarioManager<ScenarioData>(watchedStore(), {
      cookie: { name: 'sid', secure: false },
    });
    const app = await listen(
      withSession(manager, (_request, response, session) => {
        session.set('a', '1');
        response.end('complete');
        throw new Error('after the end');
      }),
    );
    t.after(() => app.close());
    const answer = await get(app.url, '/');
    assert.deepEqual([answer.status, answer.body], [200, 'complete']);
    sessionCookie(answer.setCookies, 'sid');
  });

  it('a writeHead that node rejects after the commit answers 500 instead of crashing', async (t) => {
    t.mock.method(console, 'error', () => {});
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => {
      rejections.push(reason);
    };
    process.on('unhandledRejection', onRejection);
    t.after(() => process.off('unhandledRejection', onRejection));
    const app = await serve(t, (response) => {
      response.writeHead(200, { 'X-Broken': 'line\nbreak' }).end('ok');
    });
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 500);
    assert.deepEqual(answer.setCookies, []);
    await settle();
    assert.deepEqual(rejections, []);
  });
});
