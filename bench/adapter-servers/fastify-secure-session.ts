/**
 * Fastify 5 with `@fastify/secure-session` (the data sealed with libsodium in the cookie, no store),
 * for reference, in `bench/adapters.ts`: `node --import tsx
 * bench/adapter-servers/fastify-secure-session.ts`. It registers `@fastify/cookie` itself.
 */
import { createHash } from 'node:crypto';
import fastifySecureSession from '@fastify/secure-session';
import Fastify from 'fastify';
import { BENCH_SECRET } from '../data.ts';
import { BODY, changeSession, MAX_AGE_MS, serve } from './serve.ts';

const app = Fastify();
app.register(fastifySecureSession, {
  key: createHash('sha256').update(BENCH_SECRET).digest(),
  expiry: MAX_AGE_MS / 1000,
  cookie: { path: '/', secure: false, httpOnly: true, sameSite: 'lax', maxAge: MAX_AGE_MS / 1000 },
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
