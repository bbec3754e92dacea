/**
 * The Hono adapter: a middleware that puts the session in `c.get('session')` and commits it
 * after the handlers, adding the cookie to `c.res`. Web APIs only, so it runs wherever Hono runs
 * (Node through `@hono/node-server`, Bun, Deno, Cloudflare Workers). Only Hono's types are
 * imported (`hono` is an optional peer dependency), so the middleware is Hono's own
 * `MiddlewareHandler` and its variables flow into the routes chained after it; nothing from
 * `hono` is loaded at run time. Available from `pithos/hono`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import { clientAddress, compileTrustProxy, type TrustProxy } from '../core/ip.ts';
import type { SessionManager } from '../core/manager.ts';
import type { Session } from '../core/session.ts';
import { withSetCookie } from './fetch.ts';

/**
 * The Hono environment the middleware provides. Routes chained after `.use(middleware)` get it
 * without being told; declare it (or add `session` to your own `Variables`) when routes are
 * registered on the app in separate statements.
 *
 * @example
 * ```ts
 * const app = new Hono<HonoSessionEnv<{ visits: number }>>();
 * // with bindings and variables of your own:
 * const app = new Hono<{ Bindings: Env; Variables: { session: Session<Data>; user: User } }>();
 * ```
 */
export interface HonoSessionEnv<Data extends object> {
  Variables: { session: Session<Data> };
}

/** What options receive: Hono's `Context`, whatever the app's environment. */
export type HonoRequestContext = Context;

/** The context the middleware runs in: Hono's `Context` with `HonoSessionEnv<Data>`. */
export type HonoSessionContext<Data extends object> = Context<HonoSessionEnv<Data>>;

/**
 * The middleware: Hono's `MiddlewareHandler` providing `HonoSessionEnv<Data>`, so that
 * `app.use(middleware)` returns an app whose routes see `c.get('session')` as `Session<Data>`.
 */
export type HonoSessionMiddleware<Data extends object> = MiddlewareHandler<HonoSessionEnv<Data>>;

/** Options of the Hono middleware. */
export interface HonoSessionOptions {
  /**
   * The address of the peer that sent the request, which a Fetch `Request` does not carry. Needed
   * for IP binding. On Node: `(c) => getConnInfo(c).remote.address` with `getConnInfo`
   * from `@hono/node-server/conninfo`; elsewhere your runtime's conninfo helper, or a header that
   * only your platform sets (`cf-connecting-ip` on Cloudflare). Default: none.
   */
  peerAddress?(c: HonoRequestContext): string | undefined;
  /**
   * Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges, or a predicate),
   * checked against `peerAddress`. Default: none.
   */
  trustProxy?: TrustProxy;
}

/**
 * The response the handlers built is never sent once the commit failed: its stream is released,
 * and `c.res` is replaced by an empty response, so the error response (whose headers Hono merges
 * from `c.res`) inherits no Location or cookie from it.
 */
function dropResponse(c: Context): void {
  c.res.body?.cancel().catch(() => {});
  c.res = undefined;
  c.res = new Response(null);
}

/**
 * Adds the cookie to a copy of `c.res` (see `withSetCookie`), cleared first: Hono would merge the
 * old response's headers into the new one.
 */
function addCookie(c: Context, setCookie: string): void {
  const response = withSetCookie(c.res, setCookie);
  if (response === c.res) return;
  c.res = undefined;
  c.res = response;
}

/**
 * Creates the session middleware. It loads the session before the handlers run and commits it
 * after they return, so the cookie (with `Cache-Control: no-store` and `Vary: Cookie`) is on the
 * response before it leaves, streamed or not. A store failure is thrown, so it reaches Hono's
 * error handler (`app.onError`; Hono's default answers 500). When a handler throws, the session
 * is not committed.
 *
 * @example
 * ```ts
 * const app = new Hono()
 *   .use(createSessionMiddleware(manager, { peerAddress: (c) => getConnInfo(c).remote.address }))
 *   .get('/', (c) => {
 *     const session = c.get('session'); // Session<Data>, from the manager
 *     session.set('visits', (session.get('visits') ?? 0) + 1);
 *     return c.text(`visits: ${session.get('visits')}`);
 *   });
 * ```
 */
export function createSessionMiddleware<Data extends object>(
  manager: SessionManager<Data>,
  options: HonoSessionOptions = {},
): HonoSessionMiddleware<Data> {
  const isTrusted = compileTrustProxy(options.trustProxy);
  return async (c, next) => {
    const headers = c.req.raw.headers;
    const ip = clientAddress(options.peerAddress?.(c), headers.get('x-forwarded-for'), isTrusted);
    const session = await manager.load(headers.get('cookie'), {
      ip,
      userAgent: headers.get('user-agent') ?? undefined,
    });
    c.set('session', session);
    await next();
    // Hono sets c.error when a handler threw (and app.onError answered): nothing is committed.
    if (c.error !== undefined) return;
    let setCookie: string | undefined;
    try {
      setCookie = await manager.commit(session);
    } catch (error) {
      dropResponse(c);
      throw error;
    }
    if (setCookie !== undefined) addCookie(c, setCookie);
  };
}
