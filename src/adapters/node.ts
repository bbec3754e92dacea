/**
 * The `node:http` adapter: sessions for `(request, response)` handlers, committed before the
 * response's headers are written. Available from `pithos/node`. The Express and Koa adapters
 * build on it.
 *
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { clientAddress, compileTrustProxy, type TrustProxy } from '../core/ip.ts';
import type { SessionManager } from '../core/manager.ts';
import type { Session } from '../core/session.ts';
import { CACHE_CONTROL, ERROR_BODY, varyWithCookie } from './headers.ts';

/** A `node:http` handler that receives the request's session. */
export type NodeSessionHandler<Data extends object> = (
  request: IncomingMessage,
  response: ServerResponse,
  session: Session<Data>,
) => unknown;

/** Options of the `node:http` adapter. */
export interface NodeSessionOptions {
  /** Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges, or a predicate). Default: none. */
  trustProxy?: TrustProxy;
  /**
   * Answers when loading or committing the session fails (a `StoreError`), or the handler throws
   * before responding. Default: a plain `500 Internal Server Error` without details, and the error
   * logged with `console.error`. Called only while the response's headers can still be written.
   */
  onError?: (error: unknown, request: IncomingMessage, response: ServerResponse) => void;
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';
const METHODS: readonly Method[] = ['writeHead', 'write', 'end', 'flushHeaders'];
type AnyFunction = (...args: unknown[]) => unknown;

function defaultOnError(error: unknown, _request: IncomingMessage, response: ServerResponse): void {
  console.error('pithos: request failed', error);
  sendError(response);
}

function sendError(response: ServerResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  for (const name of response.getHeaderNames()) response.removeHeader(name);
  response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(ERROR_BODY);
}

/** The client address of a request: the socket's peer, or behind trusted proxies the forwarded one. */
export function requestAddress(
  request: IncomingMessage,
  isTrusted: (address: string) => boolean,
): string | undefined {
  return clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'], isTrusted);
}

function addCookie(
  response: ServerResponse,
  setCookie: string,
  writeHeadArgs: unknown[] | undefined,
): void {
  response.appendHeader('set-cookie', setCookie);
  response.setHeader('cache-control', CACHE_CONTROL);
  response.setHeader('vary', varyWithCookie(response.getHeader('vary') as string | undefined));
  // Headers passed to writeHead() override those set before; keep the cookie if it names Set-Cookie.
  const headers = writeHeadArgs?.find((arg) => typeof arg === 'object' && arg !== null) as
    | OutgoingHttpHeaders
    | undefined;
  if (headers !== undefined && !Array.isArray(headers)) {
    const key = Object.keys(headers).find((name) => name.toLowerCase() === 'set-cookie');
    if (key !== undefined) headers[key] = [headers[key] ?? []].flat().map(String).concat(setCookie);
  }
}

/**
 * Holds back the first `writeHead`/`write`/`end`/`flushHeaders` of a response until `commit`
 * resolves, then adds its `Set-Cookie` and replays the calls in order: a redirect never leaves
 * before the store write. If `commit` fails, the held calls are dropped and `onFailure` answers.
 */
export function commitBeforeHeaders(
  response: ServerResponse,
  commit: () => Promise<string | undefined>,
  onFailure: (error: unknown) => void,
): { readonly isPristine: () => boolean; readonly release: () => void } {
  const target = response as unknown as Record<Method, AnyFunction>;
  const originals = new Map<Method, AnyFunction>();
  const held: [Method, unknown[]][] = [];
  // armed: nothing written yet; holding: commit running; passing: calls go straight through;
  // absorbing: the commit failed and the error response went out, later calls are dropped.
  let phase: 'armed' | 'holding' | 'passing' | 'absorbing' = 'armed';
  const call = (name: Method, args: unknown[]): unknown =>
    originals.get(name)?.apply(response, args);
  const run = async (): Promise<void> => {
    let setCookie: string | undefined;
    try {
      setCookie = await commit();
    } catch (error) {
      held.length = 0;
      phase = 'passing';
      try {
        onFailure(error);
      } finally {
        phase = 'absorbing';
      }
      return;
    }
    phase = 'passing';
    const writeHeadArgs = held.find(([name]) => name === 'writeHead')?.[1];
    if (setCookie !== undefined && !response.headersSent)
      addCookie(response, setCookie, writeHeadArgs);
    for (const [name, args] of held.splice(0)) call(name, args);
  };
  // The wrappers stay in place (never deleted), so middleware that wrapped them later keeps working.
  for (const name of METHODS) {
    originals.set(name, target[name]);
    target[name] = (...args: unknown[]) => {
      if (phase === 'passing') return call(name, args);
      if (phase === 'absorbing') return name === 'write' ? false : response;
      held.push([name, args]);
      if (phase === 'armed') {
        phase = 'holding';
        void run();
      }
      return name === 'write' ? true : response;
    };
  }
  return {
    isPristine: () => phase === 'armed',
    release: () => {
      if (phase === 'armed') phase = 'passing';
    },
  };
}

/**
 * Loads the session of a `node:http` request and arranges for it to be committed before the
 * response's headers are written. The building block of the Express and Koa adapters.
 */
export async function attachSession<Data extends object>(
  manager: SessionManager<Data>,
  request: IncomingMessage,
  response: ServerResponse,
  options: { isTrusted: (address: string) => boolean; onError: (error: unknown) => void },
): Promise<{ session: Session<Data>; hook: ReturnType<typeof commitBeforeHeaders> }> {
  const session = await manager.load(request.headers.cookie, {
    ip: requestAddress(request, options.isTrusted),
  });
  const hook = commitBeforeHeaders(response, () => manager.commit(session), options.onError);
  return { session, hook };
}

/**
 * Wraps a `node:http` handler: loads the session, runs the handler, and commits before the
 * response's headers are written, adding `Set-Cookie`, `Cache-Control: no-store` and `Vary: Cookie`.
 *
 * @example
 * ```ts
 * createServer(withSession(manager, (request, response, session) => {
 *   session.set('visits', (session.get('visits') ?? 0) + 1);
 *   response.end(`visits: ${session.get('visits')}`);
 * })).listen(3000, '127.0.0.1');
 * ```
 */
export function withSession<Data extends object>(
  manager: SessionManager<Data>,
  handler: NodeSessionHandler<Data>,
  options: NodeSessionOptions = {},
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const isTrusted = compileTrustProxy(options.trustProxy);
  const onError = options.onError ?? defaultOnError;
  return async (request, response) => {
    const fail = (error: unknown): void => {
      try {
        onError(error, request, response);
      } catch (hookError) {
        console.error('pithos: onError threw', hookError);
        sendError(response);
      }
    };
    let attached: Awaited<ReturnType<typeof attachSession<Data>>>;
    try {
      attached = await attachSession(manager, request, response, { isTrusted, onError: fail });
    } catch (error) {
      fail(error);
      return;
    }
    try {
      await handler(request, response, attached.session);
    } catch (error) {
      if (attached.hook.isPristine()) {
        // Nothing was written yet: answer with the error path and never commit this request.
        attached.hook.release();
        fail(error);
      } else {
        console.error('pithos: handler threw after it began to respond', error);
        if (!response.writableEnded) response.end();
      }
    }
  };
}
