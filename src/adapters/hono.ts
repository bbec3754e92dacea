/**
 * The Hono adapter: a middleware that puts the session in `c.get('session')` and commits it
 * after the handlers, adding the cookie to `c.res`. Web APIs only, so it runs wherever Hono runs
 * (Node through `@hono/node-server`, Bun, Deno, Cloudflare Workers). Hono's types are matched
 * structurally: nothing is imported from `hono`. Available from `pithos/hono`.
 *
 * @module
 */
import { clientAddress, compileTrustProxy, type TrustProxy } from '../core/ip.ts';
import type { SessionManager } from '../core/manager.ts';
import type { Session } from '../core/session.ts';
import { withSetCookie } from './fetch.ts';

/**
 * The Hono environment the middleware provides: type your app with it (or add `session` to your
 * own `Variables`) and `c.get('session')` is typed by the manager's data type.
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

/** What the middleware reads from any Hono `Context`, and what options receive. */
export interface HonoRequestContext {
  readonly req: { readonly raw: Request };
}

/** The part of Hono's `Context` the middleware uses. */
export interface HonoSessionContext<Data extends object> extends HonoRequestContext {
  get res(): Response;
  set res(response: Response | undefined);
  /** Set by Hono when a handler threw (and `app.onError` answered). */
  readonly error: Error | undefined;
  readonly set: (key: 'session', value: Session<Data>) => void;
}

/** A Hono middleware (`MiddlewareHandler`) that provides `HonoSessionEnv<Data>`. */
export type HonoSessionMiddleware<Data extends object> = (
  c: HonoSessionContext<Data>,
  next: () => Promise<void>,
) => Promise<void>;

/** Options of the Hono middleware. */
export interface HonoSessionOptions {
  /**
   * The address of the peer that sent the request, which a Fetch `Request` does not carry. Needed
   * for IP binding. On Node: `(c: Context) => getConnInfo(c).remote.address` with `getConnInfo`
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
function dropResponse<Data extends object>(c: HonoSessionContext<Data>): void {
  c.res.body?.cancel().catch(() => {});
  c.res = undefined;
  c.res = new Response(null);
}

/** Adds the cookie; assigning `c.res` only for a copy, as Hono merges the old headers into it. */
function addCookie<Data extends object>(c: HonoSessionContext<Data>, setCookie: string): void {
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
 * const app = new Hono<HonoSessionEnv<{ visits: number }>>();
 * app.use(createSessionMiddleware(manager, { peerAddress: (c: Context) => getConnInfo(c).remote.address }));
 * app.get('/', (c) => {
 *   const session = c.get('session');
 *   session.set('visits', (session.get('visits') ?? 0) + 1);
 *   return c.text(`visits: ${session.get('visits')}`);
 * });
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
