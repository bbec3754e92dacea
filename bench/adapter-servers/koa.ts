/**
 * Koa 3 servers of `bench/adapters.ts`: `node --import tsx bench/adapter-servers/koa.ts
 * plain|floor|required|pithos|koa-session|koa-session-store`.
 *
 * - `plain`: the middleware alone, no sessions (Koa's ceiling).
 * - `floor`: the middleware and, inline, only the irreducible work of a session cycle.
 * - `required`: the floor plus only what issue 2 requires of every cycle, awaited.
 * - `pithos`: `createSessionMiddleware` from `pithos/koa`, memory store.
 * - `koa-session`: koa-session in its default mode, the data in a signed cookie (two cookies:
 *   `koa.sess` and `koa.sess.sig`).
 * - `koa-session-store`: koa-session with an external store kept in a `Map` of JSON strings (as a
 *   real external store would serialise it); the cookie holds the signed external key.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import session from 'koa-session';
import { createSessionMiddleware } from '../../dist/adapters/koa.js';
import type { JSONValue } from '../../dist/index.js';
import { BENCH_SECRET } from '../data.ts';
import {
  BODY,
  changeSession,
  countRequest,
  floorRequest,
  MAX_AGE_MS,
  modeOf,
  pithosManager,
  requiredRequest,
  serve,
} from './serve.ts';

const mode = modeOf([
  'plain',
  'floor',
  'required',
  'pithos',
  'koa-session',
  'koa-session-store',
] as const);
const app = new Koa();
app.keys = [BENCH_SECRET];

function mapStore() {
  const records = new Map<string, string>();
  return {
    get: async (key: string) => {
      const json = records.get(key);
      return json === undefined ? undefined : JSON.parse(json);
    },
    set: async (key: string, data: unknown) => {
      records.set(key, JSON.stringify(data));
    },
    destroy: async (key: string) => {
      records.delete(key);
    },
  };
}

if (mode === 'plain') {
  app.use((ctx) => {
    countRequest();
    ctx.type = 'text/plain';
    ctx.body = BODY;
  });
} else if (mode === 'floor') {
  app.use((ctx) => {
    floorRequest(ctx.get('cookie'));
    ctx.type = 'text/plain';
    ctx.body = BODY;
  });
} else if (mode === 'required') {
  app.use(async (ctx) => {
    await requiredRequest(ctx.get('cookie'));
    ctx.type = 'text/plain';
    ctx.body = BODY;
  });
} else if (mode === 'pithos') {
  const sessions = createSessionMiddleware(pithosManager());
  app.use(sessions).use((ctx) => {
    const session = sessions.getSession(ctx);
    changeSession(
      session.isNew,
      (key) => session.get(key),
      (key, value) => session.set(key, value as JSONValue),
    );
    ctx.type = 'text/plain';
    ctx.body = BODY;
  });
} else {
  const options = { maxAge: MAX_AGE_MS, httpOnly: true, sameSite: 'lax' as const };
  const store = mode === 'koa-session-store' ? { store: mapStore() } : {};
  app.use(session({ ...options, ...store }, app)).use((ctx) => {
    const data = ctx.session as unknown as Record<string, unknown>;
    changeSession(
      data.counter === undefined,
      (key) => data[key],
      (key, value) => {
        data[key] = value;
      },
    );
    ctx.type = 'text/plain';
    ctx.body = BODY;
  });
}

serve(createServer(app.callback()));
