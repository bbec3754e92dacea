/**
 * Fastify 5 servers of `bench/adapters.ts` without a third-party session library:
 * `node --import tsx bench/adapter-servers/fastify.ts plain|floor|required|pithos`. `@fastify/session` and
 * `@fastify/secure-session` have their own files, since each declares its own `request.session`.
 *
 * - `plain`: the route alone, no sessions (Fastify's ceiling).
 * - `floor`: the route and, inline, only the irreducible work of a session cycle.
 * - `required`: the floor plus only what issue 2 requires of every cycle, awaited.
 * - `pithos`: `createSessionPlugin` from `pithos/fastify`, memory store.
 */
import Fastify from 'fastify';
import { createSessionPlugin } from '../../dist/adapters/fastify.js';
import type { JSONValue } from '../../dist/index.js';
import {
  BODY,
  changeSession,
  countRequest,
  floorRequest,
  modeOf,
  pithosManager,
  requiredRequest,
  serve,
} from './serve.ts';

const mode = modeOf(['plain', 'floor', 'required', 'pithos'] as const);
const app = Fastify();

if (mode === 'plain') {
  app.get('/', async (_request, reply) => {
    countRequest();
    return reply.type('text/plain').send(BODY);
  });
} else if (mode === 'floor') {
  app.get('/', async (request, reply) => {
    floorRequest(request.headers.cookie);
    return reply.type('text/plain').send(BODY);
  });
} else if (mode === 'required') {
  app.get('/', async (request, reply) => {
    await requiredRequest(request.headers.cookie);
    return reply.type('text/plain').send(BODY);
  });
} else {
  const sessions = createSessionPlugin(pithosManager());
  app.register(sessions);
  app.get('/', async (request, reply) => {
    const session = sessions.getSession(request);
    changeSession(
      session.isNew,
      (key) => session.get(key),
      (key, value) => session.set(key, value as JSONValue),
    );
    return reply.type('text/plain').send(BODY);
  });
}

await app.ready();
serve(app.server);
