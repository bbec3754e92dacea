// Type tests of `pithos/hono`, by package name against the built declarations: the middleware is
// Hono's own MiddlewareHandler, so the session type flows from the manager into the routes
// chained after `.use()`, with no environment declared. Each @ts-expect-error must fail to
// compile; tsc reports an unused one as an error.
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type MiddlewareHandler } from 'hono';
import { createSessionManager, type Session } from 'pithos';
import {
  createSessionMiddleware,
  type HonoRequestContext,
  type HonoSessionContext,
  type HonoSessionEnv,
  type HonoSessionMiddleware,
  type HonoSessionOptions,
} from 'pithos/hono';
import { memoryStore } from 'pithos/memory';

interface Basket {
  visits: number;
  items: string[];
}

const manager = createSessionManager<Basket>({
  store: memoryStore(),
  secret: 'a-type-test-secret-that-is-long-enough!!',
});

// Chained, no environment declared: `use` merges the middleware's environment into the app.
const chained = new Hono().use(createSessionMiddleware(manager)).get('/', (c) => {
  const session: Session<Basket> = c.get('session');
  const visits: number | undefined = session.get('visits');
  session.set('visits', (visits ?? 0) + 1);
  // @ts-expect-error the data type reaches the route: visits is not a string
  const wrong: string | undefined = c.get('session').get('visits');
  // @ts-expect-error an unknown key does not compile
  c.get('session').get('unknown-key');
  // @ts-expect-error a wrongly typed value does not compile
  c.get('session').set('visits', 'many');
  // @ts-expect-error a wrongly typed array does not compile
  c.get('session').set('items', [1, 2]);
  void wrong;
  return c.json({ visits: c.get('session').get('visits') ?? 0 });
});
void chained;

// The app kept from `new Hono().use(...)`: routes in later statements are typed too.
const kept = new Hono().use(createSessionMiddleware(manager));
kept.get('/', (c) => {
  // @ts-expect-error wrongly typed value through the app kept from .use()
  c.get('session').set('visits', true);
  return c.text(String(c.get('session').get('visits')));
});

// Chained onto an app with bindings of its own: both reach the route.
new Hono<{ Bindings: { TOKEN: string } }>()
  .use(createSessionMiddleware(manager))
  .get('/', (c) => c.text(`${c.env.TOKEN} ${c.get('session').get('items')?.length}`));

// Listed in the route itself: the handlers after it are typed too.
new Hono().get('/', createSessionMiddleware(manager), (c) => {
  // @ts-expect-error unknown key through a route-level middleware
  c.get('session').get('nope');
  return c.text(String(c.get('session').get('visits')));
});

// Declared environment, routes in separate statements: still compiles.
const declared = new Hono<HonoSessionEnv<Basket>>();
declared.use(createSessionMiddleware(manager));
declared.get('/', (c) => {
  // @ts-expect-error wrongly typed value through the declared environment
  c.get('session').set('items', 'not an array');
  return c.text(String(c.get('session').get('visits')));
});

// A custom environment with `session` among its variables: still compiles.
const custom = new Hono<{
  Bindings: { TOKEN: string };
  Variables: { session: Session<Basket>; user: string };
}>();
custom.use(createSessionMiddleware(manager));
custom.get('/', (c) => c.text(`${c.get('user')} ${c.get('session').get('items')?.length}`));

// Separate statements without a declared environment: the app's type does not change, so the
// session is not typed there. That is the case the docs say to declare the environment for.
const undeclared = new Hono();
undeclared.use(createSessionMiddleware(manager));
undeclared.get('/', (c) => {
  // @ts-expect-error c.get('session') is not typed in an app that declared nothing
  c.get('session').get('visits');
  return c.text('ok');
});

// peerAddress receives Hono's Context: getConnInfo needs no annotation.
const options: HonoSessionOptions = {
  peerAddress: (c) => getConnInfo(c).remote.address,
  trustProxy: ['10.0.0.0/8'],
};
createSessionMiddleware(manager, options);
// @ts-expect-error peerAddress returns a string
createSessionMiddleware(manager, { peerAddress: () => 42 });

// The exported names are Hono's own types.
const middleware: MiddlewareHandler<HonoSessionEnv<Basket>> = createSessionMiddleware(manager);
const named: HonoSessionMiddleware<Basket> = middleware;
const readSession = (c: HonoSessionContext<Basket>): Session<Basket> => c.get('session');
const readURL = (c: HonoRequestContext): string => c.req.url;
void [named, readSession, readURL];
// @ts-expect-error the middleware needs a Hono Context, not any object
createSessionMiddleware(manager)({ req: { raw: new Request('http://x/') } }, async () => {});
