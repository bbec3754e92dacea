/**
 * The Next.js (App Router) adapter: `getSession`/`commitSession` over the cookie store of
 * `cookies()` from `next/headers`, for server actions, route handlers and (reading only) server
 * components; and `withSession` for route handlers written with `Request`/`Response`. Nothing is
 * imported from `next`: the cookie store is matched structurally. Available from `pithos/next`.
 *
 * @module
 */
import type { LoadOptions, SessionManager } from '../core/manager.ts';
import type { Session } from '../core/session.ts';
import { type FetchSessionOptions, withSession as withFetchSession } from './fetch.ts';
import { ERROR_BODY } from './headers.ts';

/** A cookie as `cookies().get(name)` returns it. */
export interface NextCookie {
  name: string;
  value: string;
}

/** The attributes `commitSession` passes to `cookies().set(name, value, options)`. */
export interface NextCookieOptions {
  /** Seconds; absent for a browser-session cookie (`persistent: false`), `0` when clearing. */
  maxAge?: number;
  /** Only when clearing: the epoch, for clients that ignore `Max-Age`. */
  expires?: Date;
  path: string;
  domain?: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: 'lax' | 'strict' | 'none';
  partitioned?: boolean;
}

/** What `getSession` reads from the cookie store of `cookies()`. */
export interface NextCookieReader {
  get(name: string): NextCookie | undefined;
}

/**
 * What `commitSession` writes to: the cookie store of `cookies()` in a server action or route
 * handler (a server component's store throws on `set`: read there, commit elsewhere).
 */
export interface NextCookieStore extends NextCookieReader {
  set(name: string, value: string, options: NextCookieOptions): unknown;
}

/**
 * The session of the current request, from the session cookie in `cookieStore` (the result of
 * `await cookies()`). A missing, tampered or expired cookie gives a new empty session; a store
 * failure rejects with `StoreError`. Load once per request and pass the session along.
 *
 * The cookie store carries neither the client's address nor its `User-Agent`: pass them in
 * `options` from `headers()` when you use them (`ip` for `bindIP`, from a header that only your
 * platform or proxy sets; `userAgent` for `pithos/auth`'s device list).
 *
 * @example
 * ```ts
 * const session = await getSession(manager, await cookies());
 * const user = session.get('user');
 * ```
 */
export function getSession<Data extends object>(
  manager: SessionManager<Data>,
  cookieStore: NextCookieReader,
  options: LoadOptions = {},
): Promise<Session<Data>> {
  const value = cookieStore.get(manager.cookieName)?.value;
  // An emptied cookie (cleared earlier in this request) is no cookie at all.
  const header = value ? `${manager.cookieName}=${value}` : undefined;
  return manager.load(header, options);
}

const SAME_SITE = new Set(['lax', 'strict', 'none']);

/** The `set()` arguments that send a `Set-Cookie` value made by the manager. */
function cookieOptionsOf(setCookie: string): {
  name: string;
  value: string;
  options: NextCookieOptions;
} {
  const [pair = '', ...attributes] = setCookie.split(';').map((part) => part.trim());
  const equals = pair.indexOf('=');
  const options: NextCookieOptions = { path: '/', httpOnly: false, secure: false, sameSite: 'lax' };
  for (const attribute of attributes) {
    const at = attribute.indexOf('=');
    const key = (at === -1 ? attribute : attribute.slice(0, at)).toLowerCase();
    const text = at === -1 ? '' : attribute.slice(at + 1);
    if (key === 'max-age') options.maxAge = Number(text);
    else if (key === 'expires') options.expires = new Date(text);
    else if (key === 'path') options.path = text;
    else if (key === 'domain') options.domain = text;
    else if (key === 'httponly') options.httpOnly = true;
    else if (key === 'secure') options.secure = true;
    else if (key === 'partitioned') options.partitioned = true;
    else if (key === 'samesite' && SAME_SITE.has(text.toLowerCase()))
      options.sameSite = text.toLowerCase() as NextCookieOptions['sameSite'];
  }
  return { name: pair.slice(0, equals), value: pair.slice(equals + 1), options };
}

/**
 * Commits the session and, when a cookie must be sent, sets it through `cookieStore` with all its
 * attributes. After `manager.destroy(session)` that is an expired, empty cookie with the same
 * attributes (rather than `delete(name)`, whose removal a browser refuses for a `__Host-` cookie,
 * as it lacks `Secure`). Call it before `redirect()`, which ends the action by throwing. A store
 * failure rejects with `StoreError`.
 *
 * @example
 * ```ts
 * const cookieStore = await cookies();
 * const session = await getSession(manager, cookieStore);
 * session.set('theme', 'dark');
 * await commitSession(manager, cookieStore, session);
 * ```
 */
export async function commitSession<Data extends object>(
  manager: SessionManager<Data>,
  cookieStore: NextCookieStore,
  session: Session<Data>,
): Promise<void> {
  const setCookie = await manager.commit(session);
  if (setCookie === undefined) return;
  const { name, value, options } = cookieOptionsOf(setCookie);
  cookieStore.set(name, value, options);
}

/** A route handler that receives the request's session and Next.js's context (`params`). */
export type NextRouteHandler<Data extends object, R extends Request, Context> = (
  request: R,
  session: Session<Data>,
  context: Context,
) => Response | Promise<Response>;

/**
 * Whether `error` is Next.js control flow rather than a failure: `redirect()`, `notFound()` and
 * dynamic-rendering bailouts throw objects with a `digest`, and React's postpone a tagged object.
 */
function isNextSignal(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const signal = error as { digest?: unknown; $$typeof?: unknown };
  return typeof signal.digest === 'string' || signal.$$typeof === Symbol.for('react.postpone');
}

/** `options.onError`, or a plain 500; Next.js's own signals are rethrown to Next.js. */
function routeOnError(options: FetchSessionOptions): FetchSessionOptions['onError'] {
  return (error, request) => {
    if (isNextSignal(error)) throw error;
    if (options.onError !== undefined) return options.onError(error, request);
    console.error('pithos: request failed', error);
    return new Response(ERROR_BODY, {
      status: 500,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  };
}

/**
 * Wraps an App Router route handler written with `Request`/`Response` (as `pithos/fetch` does):
 * loads the session, runs the handler, commits, and adds `Set-Cookie`, `Cache-Control: no-store`
 * and `Vary: Cookie` to its response. A store failure or a handler that throws goes to
 * `options.onError` (default: a plain 500), except Next.js's own signals (`redirect()`,
 * `notFound()`), which reach Next.js as thrown, without a commit: to keep changes and redirect,
 * return a redirect `Response` instead.
 *
 * @example
 * ```ts
 * // app/api/visits/route.ts
 * export const POST = withSession(manager, async (request, session) => {
 *   session.set('visits', (session.get('visits') ?? 0) + 1);
 *   return Response.json({ visits: session.get('visits') });
 * });
 * ```
 */
export function withSession<Data extends object, R extends Request = Request, Context = unknown>(
  manager: SessionManager<Data>,
  handler: NextRouteHandler<Data, R, Context>,
  options: FetchSessionOptions = {},
): (request: R, context: Context) => Promise<Response> {
  const contexts = new WeakMap<Request, { context: Context }>();
  const handle = withFetchSession(
    manager,
    (request, session) =>
      handler(request as R, session, (contexts.get(request) as { context: Context }).context),
    { ...options, onError: routeOnError(options) },
  );
  return async (request, context) => {
    contexts.set(request, { context });
    try {
      return await handle(request);
    } finally {
      // Now rather than when the request is collected: V8's minor collections keep a WeakMap's
      // values alive whatever becomes of their keys.
      contexts.delete(request);
    }
  };
}
