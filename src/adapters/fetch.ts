/**
 * The Web Fetch adapter: sessions for `(request: Request) => Response` handlers (Deno, Bun,
 * Cloudflare Workers, Hono's `fetch`, Node with a Fetch server). Available from `pithos/fetch`.
 *
 * @module
 */
import { clientAddress, compileTrustProxy, type TrustProxy } from '../core/ip.ts';
import type { SessionManager } from '../core/manager.ts';
import type { Session } from '../core/session.ts';
import { CACHE_CONTROL, ERROR_BODY, varyWithCookie } from './headers.ts';

/** A Fetch handler that receives the request's session. */
export type FetchSessionHandler<Data extends object> = (
  request: Request,
  session: Session<Data>,
) => Response | Promise<Response>;

/** Options of the Fetch adapter. */
export interface FetchSessionOptions {
  /**
   * The address of the peer that sent the request, from your runtime (a Fetch `Request` does not
   * carry it): e.g. Bun's `server.requestIP(request)?.address`, Deno's `info.remoteAddr.hostname`.
   * Needed for IP binding. Default: none.
   */
  peerAddress?: (request: Request) => string | undefined;
  /** Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges, or a predicate). Default: none. */
  trustProxy?: TrustProxy;
  /**
   * Turns an error (a store failure, or anything the handler threw) into a response. Default: a
   * plain `500 Internal Server Error` without details, and the error logged with `console.error`.
   */
  onError?: (error: unknown, request: Request) => Response | Promise<Response>;
}

function defaultOnError(error: unknown): Response {
  console.error('pithos: request failed', error);
  return new Response(ERROR_BODY, {
    status: 500,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });
}

function addCookie(headers: Headers, setCookie: string): void {
  headers.append('set-cookie', setCookie);
  headers.set('cache-control', CACHE_CONTROL);
  headers.set('vary', varyWithCookie(headers.get('vary')));
}

/**
 * A copy of the response with the cookie added. Never the handler's own object: a handler may
 * return a `Response` it shares between requests (a module-level constant), and one user's cookie
 * added to it would go out to every later user. Only a response that cannot be copied (a status
 * below 200, such as a runtime's WebSocket upgrade, or a body already read) gets it in place.
 */
export function withSetCookie(response: Response, setCookie: string): Response {
  let copy: Response;
  try {
    copy = new Response(response.body, response);
  } catch {
    addCookie(response.headers, setCookie);
    return response;
  }
  addCookie(copy.headers, setCookie);
  return copy;
}

/**
 * Wraps a Fetch handler: loads the session from the request's cookie, runs the handler, commits,
 * and adds `Set-Cookie` (with `Cache-Control: no-store` and `Vary: Cookie`) to its response.
 *
 * @example
 * ```ts
 * const handle = withSession(manager, async (request, session) => {
 *   session.set('visits', (session.get('visits') ?? 0) + 1);
 *   return new Response(`visits: ${session.get('visits')}`);
 * });
 * Bun.serve({ fetch: handle });
 * ```
 */
export function withSession<Data extends object>(
  manager: SessionManager<Data>,
  handler: FetchSessionHandler<Data>,
  options: FetchSessionOptions = {},
): (request: Request) => Promise<Response> {
  const isTrusted = compileTrustProxy(options.trustProxy);
  const onError = options.onError ?? defaultOnError;
  return async (request) => {
    let response: Response | undefined;
    try {
      const peer = options.peerAddress?.(request);
      const ip = clientAddress(peer, request.headers.get('x-forwarded-for'), isTrusted);
      const session = await manager.load(request.headers.get('cookie'), {
        ip,
        userAgent: request.headers.get('user-agent') ?? undefined,
      });
      response = await handler(request, session);
      const setCookie = await manager.commit(session);
      return setCookie === undefined ? response : withSetCookie(response, setCookie);
    } catch (error) {
      // The handler's response is dropped: release its body (an open file, an upstream fetch).
      if (response?.body && !response.bodyUsed) response.body.cancel().catch(() => {});
      return onError(error, request);
    }
  };
}
