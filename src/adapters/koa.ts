/**
 * The Koa adapter: a middleware that loads the session before the rest of the chain and commits
 * it before Koa responds. Available from `pithos/koa`. For Koa 2 and 3; Koa is not a dependency
 * (the few context fields used are typed structurally).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError } from '../core/errors.ts';
import { compileTrustProxy, type TrustProxy } from '../core/ip.ts';
import type { SessionManager } from '../core/manager.ts';
import type { Session } from '../core/session.ts';
import { CACHE_CONTROL } from './headers.ts';
import { commitBeforeHeaders, requestAddress } from './node.ts';

/** Options of the Koa adapter. */
export interface KoaSessionOptions {
  /**
   * Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges, or a predicate).
   * Default: none, the client address is the socket's peer. Koa's `app.proxy` is not used: it
   * believes `X-Forwarded-For` from any peer.
   *
   * @example
   * ```ts
   * createSessionMiddleware(manager, { trustProxy: ['10.0.0.0/8'] });
   * ```
   */
  trustProxy?: TrustProxy;
}

/** The part of Koa's context the adapter uses. */
export interface KoaContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** `false` when the application writes the response to `ctx.res` itself. */
  respond?: boolean | undefined;
  append(field: string, value: string): void;
  set(field: string, value: string): void;
  vary(field: string): void;
  /** Koa's last-resort error path: emits `error` on the app and answers `500`. */
  onerror(error: Error): void;
}

/** The context of the middleware after the pithos middleware: `ctx.session`, typed. */
export interface SessionContext<Data extends object> {
  session: Session<Data>;
}

/**
 * The middleware `createSessionMiddleware` returns: `app.use(sessions)` before the middleware that
 * uses sessions; `sessions.getSession(ctx)` gives a context's session, typed by the manager's data.
 */
export interface KoaSessionMiddleware<Data extends object> {
  (ctx: KoaContext & SessionContext<Data>, next: () => Promise<unknown>): Promise<void>;
  /**
   * The session of a context, typed by the manager's data. Throws `ConfigError` when the
   * middleware did not run for that context. The same session is `ctx.session`.
   */
  readonly getSession: (ctx: object) => Session<Data>;
}

/** A deliberate client error (`ctx.throw(403)`): the session changes made before it are kept. */
function isClientError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = status ?? statusCode;
  return typeof code === 'number' && code >= 400 && code < 500;
}

function sendCookie(ctx: KoaContext, setCookie: string): void {
  ctx.append('Set-Cookie', setCookie);
  ctx.set('Cache-Control', CACHE_CONTROL);
  ctx.vary('Cookie');
}

/**
 * Creates the Koa middleware for `manager`, with the typed accessor of its sessions.
 *
 * The session is loaded before `next()` and committed after it, before Koa writes the response,
 * with `Set-Cookie`, `Cache-Control: no-store` and `Vary: Cookie` set on the context. Store
 * failures are thrown into Koa's error handling (a `500` by default). An error thrown further
 * down saves nothing, unless it is a client error (`4xx`, as `ctx.throw(403)` makes).
 *
 * @example
 * ```ts
 * const sessions = createSessionMiddleware(manager);
 * app.use(sessions).use(async (ctx) => {
 *   ctx.session.set('visits', (ctx.session.get('visits') ?? 0) + 1);
 *   ctx.body = `visit number ${ctx.session.get('visits')}`;
 * });
 * ```
 */
export function createSessionMiddleware<Data extends object>(
  manager: SessionManager<Data>,
  options: KoaSessionOptions = {},
): KoaSessionMiddleware<Data> {
  // Each context's session under a symbol of this middleware (cheaper than a WeakMap entry).
  const sessionKey = Symbol('pithos.session');
  const sessionOf = (ctx: object): Session<Data> | undefined =>
    (ctx as Record<symbol, Session<Data> | undefined>)[sessionKey];
  const isTrusted = compileTrustProxy(options.trustProxy);

  async function middleware(
    ctx: KoaContext & SessionContext<Data>,
    next: () => Promise<unknown>,
  ): Promise<void> {
    if (sessionOf(ctx) !== undefined) {
      await next();
      return;
    }
    // The hook commits when something writes to ctx.res directly (ctx.respond = false, a stream
    // piped by hand); a failure there is past the middleware chain, so Koa's onerror answers.
    const session = await manager.load(ctx.req.headers.cookie, {
      ip: requestAddress(ctx.req, isTrusted),
      userAgent: ctx.req.headers['user-agent'],
    });
    const onCommitFailure = (error: unknown): void =>
      ctx.onerror(error instanceof Error ? error : new Error(String(error)));
    const hook = commitBeforeHeaders(ctx.res, () => manager.commit(session), onCommitFailure);
    (ctx as unknown as Record<symbol, Session<Data>>)[sessionKey] = session;
    ctx.session = session;
    try {
      await next();
    } catch (error) {
      // A response already started commits through the hook; one that failed saves nothing.
      if (!hook.isPristine()) throw error;
      hook.release();
      // A client error keeps this request's changes. Committed here, so that a store failure goes
      // up the chain as a StoreError, to the app's error middleware like any other error.
      if (isClientError(error)) {
        const setCookie = await manager.commit(session);
        // The cookie goes out with whatever answers the error (Koa's onerror, which first clears
        // the headers, or a middleware in front), added as that response starts; never on the
        // error object, which an app may throw again for other clients. Committed once more
        // then: that middleware may have changed or destroyed the session (a logout on a 401).
        if (setCookie !== undefined) {
          const again = async () => (await manager.commit(session)) ?? setCookie;
          commitBeforeHeaders(ctx.res, again, onCommitFailure);
        }
      }
      throw error;
    }
    if (!hook.isPristine() || ctx.respond === false) return;
    hook.release();
    const setCookie = await manager.commit(session);
    if (setCookie !== undefined) sendCookie(ctx, setCookie);
  }

  const getSession = (ctx: object): Session<Data> => {
    const session = sessionOf(ctx);
    if (session === undefined) {
      throw new ConfigError(
        'getSession(ctx): the pithos middleware did not run for this request; add app.use(sessions) before this middleware',
      );
    }
    return session;
  };
  return Object.assign(middleware, { getSession });
}
