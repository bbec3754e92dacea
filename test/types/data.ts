// Type tests, checked by `tsc -p test/types` against the BUILT package (imported by name), so the
// published declarations and the exports map are what is tested. Each @ts-expect-error must fail
// to compile; tsc reports an unused one as an error.
import { createSessionManager, type Session } from 'pithos';
import { withSession as withFetchSession } from 'pithos/fetch';
import { memoryStore } from 'pithos/memory';
import { withSession as withNodeSession } from 'pithos/node';

interface Cart {
  visits: number;
  cart: string[];
  profile?: { name: string; tags: readonly string[] };
  when?: string;
}

const secret = 'a-type-test-secret-that-is-long-enough!!';
const manager = createSessionManager<Cart>({ store: memoryStore(), secret });
const session: Session<Cart> = await manager.load(undefined);

const visits: number | undefined = session.get('visits');
session.set('visits', (visits ?? 0) + 1);
session.set('cart', ['apple']);
session.set('profile', { name: 'Ada', tags: ['x'] });
session.get('cart')?.push('pear');

// @ts-expect-error an unknown key does not compile
session.get('unknown-key');
// @ts-expect-error a wrongly typed value does not compile
session.set('visits', 'many');
// @ts-expect-error a wrongly typed array does not compile
session.set('cart', [1, 2]);

// Types that JSON cannot carry are refused for the whole data type.
// @ts-expect-error functions
createSessionManager<{ callback: () => void }>({ store: memoryStore(), secret });
// @ts-expect-error Dates (stored as ISO strings: declare them as string)
createSessionManager<{ at: Date }>({ store: memoryStore(), secret });
// @ts-expect-error Maps
createSessionManager<{ tags: Map<string, string> }>({ store: memoryStore(), secret });
// @ts-expect-error bigints
createSessionManager<{ big: bigint }>({ store: memoryStore(), secret });
// @ts-expect-error undefined inside arrays
createSessionManager<{ list: (number | undefined)[] }>({ store: memoryStore(), secret });

// The data type flows through the adapters.
withFetchSession(manager, async (_request, fetchSession) => {
  // @ts-expect-error wrong type through the fetch adapter
  fetchSession.set('visits', true);
  return new Response(String(fetchSession.get('visits') ?? 0));
});
withNodeSession(manager, (_request, response, nodeSession) => {
  // @ts-expect-error unknown key through the node adapter
  nodeSession.get('nope');
  response.end(String(nodeSession.get('cart')?.length));
});

// Without a type argument, any JSON value is accepted.
const loose = createSessionManager({ store: memoryStore(), secret });
(await loose.load(undefined)).set('anything', { nested: [1, 'two', null] });

// Framework adapters, by package name: the data type flows from the manager.
import type { IncomingMessage } from 'node:http';
import { createSessionMiddleware as expressSessions } from 'pithos/express';
import { createSessionPlugin } from 'pithos/fastify';
import { createSessionMiddleware as honoSessions } from 'pithos/hono';
import { createSessionMiddleware as koaSessions } from 'pithos/koa';
import { getSession as nextSession } from 'pithos/next';

declare const expressRequest: IncomingMessage;
const express = expressSessions(manager);
// @ts-expect-error unknown key through the Express accessor
express.getSession(expressRequest).get('nope');
express.getSession(expressRequest).set('visits', 3);

const fastify = createSessionPlugin(manager);
// @ts-expect-error wrongly typed value through the Fastify accessor
fastify.getSession({} as Parameters<typeof fastify.getSession>[0]).set('cart', 'not an array');

const koa = koaSessions(manager);
// @ts-expect-error unknown key through the Koa accessor
koa.getSession({} as Parameters<typeof koa.getSession>[0]).get('nope');

const hono = honoSessions(manager);
void hono;

const cookieStore = { get: () => undefined, set: () => {} };
const nextSessionValue = await nextSession(manager, cookieStore);
// @ts-expect-error wrongly typed value through the Next.js helper
nextSessionValue.set('visits', 'one');
