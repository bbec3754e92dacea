/**
 * The Fastify adapter: a plugin that decorates `request.session`, loads it in `onRequest` and
 * commits it in `onSend`, before the response's headers leave. Available from `pithos/fastify`.
 * Needs neither `fastify-plugin` nor `@fastify/cookie`; fastify itself is used for types only.
 *
 * @module
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { findContext } from '../core/context.ts';
import { PithosError } from '../core/errors.ts';
import type { JSONValue } from '../core/json.ts';
import type { SessionManager } from '../core/manager.ts';
import { Session, stateOf } from '../core/session.ts';
import { CACHE_CONTROL, varyWithCookie } from './headers.ts';

/**
 * The data type of `request.session`. Empty by default, which types `request.session` as
 * `Session<Record<string, JSONValue>>`; merge your data type into it to type `request.session`
 * everywhere, or use the plugin's `getSession(request)`, which needs no merging.
 *
 * @example
 * ```ts
 * declare module 'pithos/fastify' {
 *   interface FastifySessionData {
 *     visits: number;
 *   }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface applications extend by declaration merging
export interface FastifySessionData {}

/** `FastifySessionData` once merged, or any JSON data while it is still empty. */
export type RequestSessionData = keyof FastifySessionData extends never
  ? Record<string, JSONValue>
  : FastifySessionData;

/**
 * The type of `request.session`. Named apart because, inside the augmentation below, a name
 * resolves in fastify's scope first, where other plugins may have declared a `Session`.
 */
export type PithosRequestSession = Session<RequestSessionData>;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's session (from the pithos plugin). Typed by `FastifySessionData`; the plugin's
     * `getSession(request)` gives it typed by the manager instead.
     */
    session: PithosRequestSession;
  }
}

/** The pithos plugin, with a typed accessor for the sessions it loads. */
export interface FastifySessionPlugin<Data extends object> extends FastifyPluginCallback {
  /**
   * The session of `request`, typed by the manager's data type. Throws `PithosError`
   * (`CONFIG_INVALID`) when the plugin did not load one for this request (it is not registered on
   * this instance, or the route runs before its `onRequest` hook).
   */
  getSession(request: Pick<FastifyRequest, 'session'>): Session<Data>;
}

type Payload = { destroy?: () => void; cancel?: () => Promise<void> } | null | undefined;

/** Lets go of a stream payload that will never be sent (file handles, generators). */
function release(payload: unknown): void {
  const stream = payload as Payload;
  if (typeof stream?.destroy === 'function') stream.destroy();
  else if (typeof stream?.cancel === 'function') stream.cancel().catch(() => {});
}

/**
 * Before a failed commit goes to the error handler: the response the route built is never sent,
 * so its stream is released, and the headers that would make the error response act like it (a
 * redirect, cookies) are removed. Other headers (CORS, security headers) stay, as Fastify keeps
 * them for any error.
 */
function dropResponse(reply: FastifyReply, payload: unknown): void {
  release(payload);
  reply.removeHeader('location');
  reply.removeHeader('set-cookie');
}

function addCookie(reply: FastifyReply, setCookie: string): void {
  // Fastify's writeHead passes the reply's headers, which replace those of the same name set on
  // `reply.raw`: cookies the app set there would be lost only when the session sends its own.
  // So they move to the reply first.
  const raw = reply.raw.getHeader('set-cookie');
  if (raw !== undefined) {
    for (const value of [raw].flat()) reply.header('set-cookie', String(value));
    reply.raw.removeHeader('set-cookie');
  }
  // reply.header() appends Set-Cookie values instead of replacing them.
  reply.header('set-cookie', setCookie);
  reply.header('cache-control', CACHE_CONTROL);
  const vary = reply.getHeader('vary');
  reply.header('vary', varyWithCookie(Array.isArray(vary) ? vary.join(', ') : vary?.toString()));
}

/**
 * Creates the plugin for a manager. Register it before the routes that use sessions; it applies
 * to the whole app (it is not encapsulated, like a plugin wrapped in `fastify-plugin`).
 *
 * The client address (for `bindIP`) is `request.ip`, so it follows Fastify's own `trustProxy`
 * option. A store failure is thrown from the hook, so it reaches Fastify's error handler
 * (`setErrorHandler`). A request that fails (its route throws, or a hook does) is not committed.
 *
 * @example
 * ```ts
 * const app = Fastify({ trustProxy: ['10.0.0.1'] });
 * const sessions = createSessionPlugin(manager);
 * app.register(sessions);
 * app.get('/', async (request) => {
 *   const session = sessions.getSession(request);
 *   session.set('visits', (session.get('visits') ?? 0) + 1);
 *   return { visits: session.get('visits') };
 * });
 * ```
 */
export function createSessionPlugin<Data extends object>(
  manager: SessionManager<Data>,
): FastifySessionPlugin<Data> {
  // Sessions to commit, by request; a request that failed is removed, so it is never committed.
  const sessions = new WeakMap<FastifyRequest, Session<Data>>();
  const plugin: FastifyPluginCallback = (instance, _options, done) => {
    // A reference-type default would be shared by every request: null (which Fastify's types do
    // not expect for a typed decoration), then a session set per request.
    instance.decorateRequest('session', null as never);
    instance.addHook('onRequest', async (request) => {
      const session = await manager.load(request.headers.cookie, {
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      sessions.set(request, session);
      request.session = session as unknown as PithosRequestSession;
    });
    instance.addHook('onError', async (request) => {
      sessions.delete(request);
    });
    instance.addHook('onSend', async (request, reply, payload) => {
      const session = sessions.get(request);
      if (session === undefined) return;
      sessions.delete(request);
      let setCookie: string | undefined;
      try {
        setCookie = await manager.commit(session);
      } catch (error) {
        dropResponse(reply, payload);
        throw error;
      }
      if (setCookie !== undefined) addCookie(reply, setCookie);
    });
    done();
  };
  return Object.assign(plugin, {
    // What fastify-plugin sets: the hooks and decoration apply to the parent, i.e. app-wide.
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'pithos',
    [Symbol.for('plugin-meta')]: { name: 'pithos' },
    getSession(request: Pick<FastifyRequest, 'session'>): Session<Data> {
      const session: unknown = request.session;
      // A session of this plugin's manager only: another pithos plugin (another context, another
      // manager) may have set `request.session`, with another data type.
      const context = findContext(manager);
      const isOwn =
        session instanceof Session &&
        (context === undefined || stateOf(session).context === context);
      if (!isOwn) {
        throw new PithosError(
          'CONFIG_INVALID',
          "no session of this plugin's manager on this request: register the pithos plugin before the routes that use it, on their instance",
        );
      }
      return session as Session<Data>;
    },
  });
}
