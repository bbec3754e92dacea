/**
 * Express 5 servers of `bench/adapters.ts`: `node --import tsx bench/adapter-servers/express.ts
 * plain|floor|required|pithos|express-session`.
 *
 * - `plain`: the route alone, no sessions (Express's ceiling).
 * - `floor`: the route and, inline, only the irreducible work of a session cycle.
 * - `required`: the floor plus only what issue 2 requires of every cycle, awaited.
 * - `pithos`: `createSessionMiddleware` from `pithos/express`, memory store.
 * - `express-session`: express-session with its `MemoryStore`, `resave: false`,
 *   `saveUninitialized: false`, a cookie with `maxAge` as pithos's (so each change is saved and
 *   the cookie sent again, as pithos does).
 */
import { createServer } from 'node:http';
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import { createSessionMiddleware } from '../../dist/adapters/express.js';
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

const mode = modeOf(['plain', 'floor', 'required', 'pithos', 'express-session'] as const);
const app = express();
const respond = (response: Response): void => {
  response.type('text/plain').send(BODY);
};

if (mode === 'plain') {
  app.get('/', (_request, response) => {
    countRequest();
    respond(response);
  });
} else if (mode === 'floor') {
  app.get('/', (request, response) => {
    floorRequest(request.headers.cookie);
    respond(response);
  });
} else if (mode === 'required') {
  app.get('/', async (request, response) => {
    await requiredRequest(request.headers.cookie);
    respond(response);
  });
} else if (mode === 'pithos') {
  const sessions = createSessionMiddleware(pithosManager());
  app.use(sessions);
  app.get('/', (request, response) => {
    const session = sessions.getSession(request);
    changeSession(
      session.isNew,
      (key) => session.get(key),
      (key, value) => session.set(key, value as JSONValue),
    );
    respond(response);
  });
} else {
  app.use(
    session({
      secret: BENCH_SECRET,
      store: new session.MemoryStore(),
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE_MS, httpOnly: true, sameSite: 'lax' },
    }),
  );
  app.get('/', (request: Request, response) => {
    const data = request.session as unknown as Record<string, unknown>;
    changeSession(
      data.counter === undefined,
      (key) => data[key],
      (key, value) => {
        data[key] = value;
      },
    );
    respond(response);
  });
}

serve(createServer(app));
