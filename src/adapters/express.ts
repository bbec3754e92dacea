/**
 * The Express adapter: a middleware that loads the session and commits it before the response's
 * headers are written. Available from `pithos/express`. For Express 5 and 4; Express is not a
 * dependency (the few fields used are typed structurally).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { findContext } from '../core/context.ts';
import { ConfigError } from '../core/errors.ts';
import { compileTrustProxy, type TrustProxy } from '../core/ip.ts';
import type { SessionManager } from '../core/manager.ts';
import { Session, stateOf } from '../core/session.ts';
import { commitBeforeHeaders, requestAddress } from './node.ts';

/** Options of the Express adapter. */
export interface ExpressSessionOptions {
  /**
   * Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges, or a predicate). When
   * given, pithos finds the client address itself and Express's `trust proxy` setting plays no
   * part. Default: `req.ip`, that is whatever Express's `trust proxy` setting makes of the request
   * (the socket's peer while that setting is off, as it is by default).
   *
   * @example
   * ```ts
   * createSessionMiddleware(manager, { trustProxy: ['10.0.0.0/8'] });
   * ```
   */
  trustProxy?: TrustProxy;
}

/** The part of Express's `Request` the adapter reads. */
export interface ExpressRequest extends IncomingMessage {
  /** Express's client address, which follows its `trust proxy` setting. */
  readonly ip?: string | undefined;
}

/** Express's `next`: `next()` continues, `next(error)` goes to the error handlers. */
export type ExpressNext = (error?: unknown) => void;

/** An Express middleware, typed by what it uses so that pithos does not depend on Express. */
export type ExpressMiddleware = (
  request: ExpressRequest,
  response: ServerResponse,
  next: ExpressNext,
) => void;

/**
 * The middleware `createSessionMiddleware` returns: `app.use(sessions)` before the routes that use
 * sessions; `sessions.getSession(req)` gives a request's session, typed by the manager's data.
 */
export interface ExpressSessionMiddleware<Data extends object> extends ExpressMiddleware {
  /**
   * The session of a request, typed by the manager's data: `req.session`, which must be left in
   * place. Throws `ConfigError` when the middleware did not run for that request, or when
   * `req.session` was replaced.
   */
  readonly getSession: (request: IncomingMessage) => Session<Data>;
}

/** A 5xx response means the request failed: its session changes are not kept. */
const isServerError = (status: number): boolean => status >= 500;

/**
 * Creates the Express middleware for `manager`, with the typed accessor of its sessions.
 *
 * The session is committed when the response starts (its first `writeHead`, `write`, `end` or
 * `flushHeaders`), so the store write is done before a redirect leaves. Store failures go to
 * `next(error)`. A response whose status is 5xx when it starts saves nothing.
 *
 * @example
 * ```ts
 * const sessions = createSessionMiddleware(manager);
 * app.use(sessions);
 * app.get('/', (req, res) => {
 *   const session = sessions.getSession(req);
 *   session.set('visits', (session.get('visits') ?? 0) + 1);
 *   res.send(`visit number ${session.get('visits')}`);
 * });
 * ```
 */
export function createSessionMiddleware<Data extends object>(
  manager: SessionManager<Data>,
  options: ExpressSessionOptions = {},
): ExpressSessionMiddleware<Data> {
  // The session is `req.session`, which the middleware must set anyway, recognised as a session of
  // this manager. Not a second property: Express sets the request's prototype on every request,
  // and V8 stores properties on such an object through its slow path (see `commitBeforeHeaders`).
  // Not a WeakMap from requests: V8's young-generation collector keeps a WeakMap's values alive
  // whatever becomes of their keys, so every session with all it holds outlived its request until
  // a full collection (about 8 µs per request on the Express server of `bench:adapters`).
  const context = findContext(manager);
  const isOwn = (session: unknown): session is Session<Data> =>
    session instanceof Session &&
    // A manager not made by createSessionManager (a wrapper) has no context to compare.
    (context === undefined || stateOf(session).context === context);
  // Where this middleware keeps its session when `req.session` holds another manager's (two
  // pithos middlewares on one request): rare, so the slower store on the request is fine there.
  const ownKey = Symbol('pithos.session');
  const sessionOf = (request: IncomingMessage): Session<Data> | undefined => {
    const session = (request as { session?: unknown }).session;
    if (isOwn(session)) return session;
    if (!(session instanceof Session)) return undefined;
    const kept = (request as unknown as Record<symbol, unknown>)[ownKey];
    return isOwn(kept) ? kept : undefined;
  };
  const isTrusted =
    options.trustProxy === undefined ? undefined : compileTrustProxy(options.trustProxy);
  const addressOf = (request: ExpressRequest): string | undefined => {
    if (isTrusted !== undefined) return requestAddress(request, isTrusted);
    // With Express's `trust proxy` off (its default), `req.ip` is the socket's peer: read it
    // directly rather than through the getter, which parses X-Forwarded-For on every call.
    const app = (request as { app?: { get?: (setting: string) => unknown } }).app;
    if (app?.get?.('trust proxy') === false) return request.socket.remoteAddress;
    return request.ip ?? request.socket.remoteAddress;
  };

  async function start(
    request: ExpressRequest,
    response: ServerResponse,
    next: ExpressNext,
  ): Promise<void> {
    let session: Session<Data>;
    try {
      session = await manager.load(request.headers.cookie, {
        ip: addressOf(request),
        userAgent: request.headers['user-agent'],
      });
    } catch (error) {
      next(error);
      return;
    }
    if ((request as { session?: unknown }).session instanceof Session) {
      (request as unknown as Record<symbol, unknown>)[ownKey] = session;
    } else {
      (request as { session?: unknown }).session = session;
    }
    // A commit failure goes to the error handlers of the router that answered the route (Express
    // keeps its `next` as `req.next`), as the route's own errors do, not to those around pithos.
    const forward = (error: unknown): void => {
      const routerNext = (request as { next?: ExpressNext }).next;
      (typeof routerNext === 'function' ? routerNext : next)(error);
    };
    const commit = (): Promise<string | undefined> =>
      isServerError(hook.status()) ? Promise.resolve(undefined) : manager.commit(session);
    const onFailure = (error: unknown): unknown => {
      if (!hook.hasEnded()) {
        // The handler is still streaming: its next chunks would follow any error page. Cut the
        // response off; the error handlers still hear of the failure.
        response.destroy();
        forward(error);
        return;
      }
      // The handler's response is void: none of its headers may reach the error page.
      for (const name of response.getHeaderNames()) response.removeHeader(name);
      response.statusCode = 500;
      forward(error);
      // Express's own final handler answers only once the request is read: let it through later.
      return 'pass';
    };
    const hook = commitBeforeHeaders(response, commit, onFailure, { sharedPrototype: true });
    next();
  }

  const middleware: ExpressMiddleware = (request, response, next) => {
    if (sessionOf(request) !== undefined) next();
    else void start(request, response, next);
  };
  const getSession = (request: IncomingMessage): Session<Data> => {
    const session = sessionOf(request);
    if (session === undefined) {
      throw new ConfigError(
        'getSession(req): no pithos session on this request; add app.use(sessions) before this route, and do not replace req.session',
      );
    }
    return session;
  };
  return Object.assign(middleware, { getSession });
}
