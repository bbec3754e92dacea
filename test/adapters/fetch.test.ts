/**
 * The Web Fetch adapter (`pithos/fetch`), served with node:http through a small bridge (as a
 * Fetch runtime would): the shared scenarios, plus what only a `Response` can do (immutable
 * headers from `Response.redirect`, caching headers of its own).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { type FetchSessionOptions, withSession } from '../../src/adapters/fetch.ts';
import { describeAdapterScenarios, type Reply, type ScenarioData } from './scenarios.ts';
import {
  get,
  listen,
  parseSetCookie,
  type RunningApp,
  scenarioManager,
  sessionCookie,
  watchedStore,
} from './support.ts';

/** The Fetch `Request` of a node:http request, body streamed. */
function toRequest(incoming: IncomingMessage): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < incoming.rawHeaders.length; i += 2) {
    headers.append(incoming.rawHeaders[i] as string, incoming.rawHeaders[i + 1] as string);
  }
  const method = incoming.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (hasBody) {
    init.body = Readable.toWeb(incoming) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(new URL(incoming.url ?? '/', `http://${incoming.headers.host}`), init);
}

/** Writes a Fetch `Response` to node:http, streaming its body; a body that fails cuts it off. */
async function sendResponse(response: Response, outgoing: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  outgoing.writeHead(response.status, headers);
  if (response.body === null) {
    outgoing.end();
    return;
  }
  const reader = response.body.getReader();
  outgoing.on('close', () => void reader.cancel().catch(() => {}));
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      outgoing.write(chunk.value);
    }
    outgoing.end();
  } catch {
    outgoing.destroy();
  }
}

/** Serves a Fetch handler on 127.0.0.1; `peers` learns each request's socket address. */
function serveFetch(
  handle: (request: Request) => Promise<Response>,
  peers: WeakMap<Request, string>,
): Promise<RunningApp> {
  return listen(async (incoming, outgoing) => {
    const request = toRequest(incoming);
    if (incoming.socket.remoteAddress !== undefined)
      peers.set(request, incoming.socket.remoteAddress);
    let response: Response;
    try {
      response = await handle(request);
    } catch {
      response = new Response('bridge: the handler failed', { status: 500 });
    }
    await sendResponse(response, outgoing);
  });
}

/** A `ReadableStream` of the chunks, pulled as the bridge reads. */
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

/** A scenario reply the way Fetch code usually writes it. */
function toResponse(reply: Reply, request: Request): Response {
  const type = { 'content-type': 'text/plain; charset=utf-8' };
  switch (reply.kind) {
    case 'text':
      return new Response(reply.body, { status: reply.status, headers: type });
    case 'redirect':
      return Response.redirect(new URL(reply.location, request.url), 302);
    case 'stream':
      return new Response(streamOf(reply.chunks), { headers: type });
  }
}

describeAdapterScenarios('fetch', (manager, options) => {
  const peers = new WeakMap<Request, string>();
  const onError = options.onError;
  const fetchOptions: FetchSessionOptions = {
    peerAddress: (request) => peers.get(request),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(onError === undefined
      ? {}
      : {
          onError: (error) => {
            const reply = onError(error);
            return new Response(reply.body, { status: reply.status });
          },
        }),
  };
  const handle = withSession(
    manager,
    async (request, session) =>
      toResponse(await options.route(session, new URL(request.url)), request),
    fetchOptions,
  );
  return serveFetch(handle, peers);
});

describe('fetch: what only a Response can do', () => {
  async function serve(
    t: TestContext,
    respond: (request: Request) => Response,
  ): Promise<RunningApp> {
    const manager = scenarioManager<ScenarioData>(watchedStore(), {
      cookie: { name: 'sid', secure: false },
    });
    const handle = withSession(manager, (request, session) => {
      session.set('a', '1');
      return respond(request);
    });
    const app = await serveFetch(handle, new WeakMap());
    t.after(() => app.close());
    return app;
  }

  it('a failed commit cancels the streaming body it drops', async () => {
    const store = watchedStore();
    const manager = scenarioManager<ScenarioData>(store, {
      cookie: { name: 'sid', secure: false },
    });
    let cancelled = 0;
    const handle = withSession(
      manager,
      (_request, session) => {
        session.set('a', '1');
        store.failing = true;
        const body = new ReadableStream({
          pull: (controller) => controller.enqueue(new Uint8Array(16)),
          cancel: () => {
            cancelled++;
          },
        });
        return new Response(body);
      },
      { onError: () => new Response('unavailable', { status: 503 }) },
    );
    const response = await handle(new Request('http://127.0.0.1/file'));
    assert.equal(response.status, 503);
    assert.equal(await response.text(), 'unavailable');
    assert.equal(cancelled, 1);
  });

  it('a Response the handler shares between requests never carries one user’s cookie to another', async (t) => {
    const shared = new Response(null, { status: 204 });
    const app = await serve(t, () => shared);
    const first = await get(app.url, '/');
    const second = await get(app.url, '/');
    assert.equal(first.setCookies.length, 1);
    assert.equal(second.setCookies.length, 1, 'the second visitor gets only their own cookie');
    assert.notEqual(second.setCookies[0], first.setCookies[0]);
    assert.equal(shared.headers.get('set-cookie'), null, 'the shared object is left alone');
  });

  it('Response.redirect() (immutable headers) still gets the cookie, no-store and Vary', async (t) => {
    const app = await serve(t, (request) => Response.redirect(new URL('/next', request.url), 303));
    const answer = await get(app.url, '/');
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.get('location'), `${app.url}/next`);
    sessionCookie(answer.setCookies, 'sid');
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.headers.get('vary'), 'Cookie');
  });

  it("a response's own cookies and Vary are kept; its Cache-Control gives way to no-store", async (t) => {
    const app = await serve(t, () => {
      const headers = new Headers({ 'cache-control': 'public, max-age=600', vary: 'Accept' });
      headers.append('set-cookie', 'theme=dark; Path=/');
      return new Response('ok', { headers });
    });
    const answer = await get(app.url, '/');
    const names = answer.setCookies.map((cookie) => parseSetCookie(cookie).name).sort();
    assert.deepEqual(names, ['sid', 'theme']);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.headers.get('vary'), 'Accept, Cookie');
  });
});
