/**
 * Plain `node:http` servers of `bench/adapters.ts`: `node --import tsx
 * bench/adapter-servers/node.ts plain|floor|required|pithos|iron-session`.
 *
 * - `plain`: the handler alone, no sessions (node's ceiling).
 * - `floor`: the handler and, inline, only the irreducible work of a session cycle.
 * - `required`: the floor plus only what issue 2 requires of every cycle, awaited.
 * - `pithos`: `withSession` from `pithos/node`, memory store.
 * - `iron-session`: `getIronSession` on node's request and response, then `session.save()`
 *   (the data sealed in the cookie; there is no store).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { getIronSession } from 'iron-session';
import { withSession } from '../../dist/adapters/node.js';
import type { JSONValue } from '../../dist/index.js';
import { BENCH_SECRET } from '../data.ts';
import {
  BODY,
  changeSession,
  countRequest,
  floorRequest,
  HEADERS,
  MAX_AGE_MS,
  modeOf,
  pithosManager,
  requiredRequest,
  serve,
} from './serve.ts';

const mode = modeOf(['plain', 'floor', 'required', 'pithos', 'iron-session'] as const);

function plain(_request: IncomingMessage, response: ServerResponse): void {
  countRequest();
  response.writeHead(200, HEADERS).end(BODY);
}

function floor(request: IncomingMessage, response: ServerResponse): void {
  floorRequest(request.headers.cookie);
  response.writeHead(200, HEADERS).end(BODY);
}

async function required(request: IncomingMessage, response: ServerResponse): Promise<void> {
  await requiredRequest(request.headers.cookie);
  response.writeHead(200, HEADERS).end(BODY);
}

const pithos = withSession(pithosManager(), (_request, response, session) => {
  changeSession(
    session.isNew,
    (key) => session.get(key),
    (key, value) => session.set(key, value as JSONValue),
  );
  response.writeHead(200, HEADERS).end(BODY);
});

const ironOptions = {
  password: BENCH_SECRET,
  cookieName: 'iron',
  ttl: MAX_AGE_MS / 1000,
  cookieOptions: { secure: false, httpOnly: true, sameSite: 'lax' as const, path: '/' },
};

async function iron(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const session = await getIronSession<Record<string, unknown>>(request, response, ironOptions);
  changeSession(
    session.counter === undefined,
    (key) => session[key],
    (key, value) => {
      session[key] = value;
    },
  );
  await session.save();
  response.writeHead(200, HEADERS).end(BODY);
}

const handlers = { plain, floor, required, pithos, 'iron-session': iron };
serve(createServer(handlers[mode]));
