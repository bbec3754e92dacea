/**
 * Fastify 5 with `@fastify/session` (and `@fastify/cookie`), its default memory store, for
 * `bench/adapters.ts`: `node --import tsx bench/adapter-servers/fastify-session.ts`. The cookie is
 * not `Secure` (the benchmark speaks plain HTTP) and has pithos's `maxAge`; `saveUninitialized`
 * is off, so only sessions that hold data are stored.
 */
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { BENCH_SECRET } from '../data.ts';
import { BODY, changeSession, MAX_AGE_MS, serve } from './serve.ts';

const app = Fastify();
app.register(fastifyCookie);
app.register(fastifySession, {
  secret: BENCH_SECRET,
  saveUninitialized: false,
  cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: MAX_AGE_MS },
});
app.get('/', async (request, reply) => {
  const session = request.session as unknown as {
    get(key: string): unknown;
    set(key: string, value: unknown): void;
  };
  changeSession(
    session.get('counter') === undefined,
    (key) => session.get(key),
    (key, value) => session.set(key, value),
  );
  return reply.type('text/plain').send(BODY);
});

await app.ready();
serve(app.server);
