/**
 * The `node:http` adapter: sessions for `(request, response)` handlers, committed before the
 * response's headers are written. Available from `pithos/node`. The Express and Koa adapters
 * build on it.
 *
 * @module
 */
import { type IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
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
   * It may answer asynchronously (return a promise): when it fails or settles without having
   * answered, the plain `500` goes out. A commit that fails while the handler is still writing
   * cuts the response off instead of waiting for an asynchronous answer.
   */
  onError?: (
    error: unknown,
    request: IncomingMessage,
    response: ServerResponse,
  ) => void | Promise<void>;
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

/** Applies the headers given to a held writeHead() now, and drops them from its arguments. */
function applyWriteHeadHeaders(response: ServerResponse, args: unknown[]): void {
  const index = args.findIndex((arg, i) => i > 0 && typeof arg === 'object' && arg !== null);
  if (index === -1) return;
  const headers = args.splice(index, 1)[0] as OutgoingHttpHeaders | unknown[];
  const pairs: [unknown, unknown][] = [];
  if (Array.isArray(headers)) {
    // Node takes a flat [name, value, name, value…] list or [[name, value]…] tuples.
    if (Array.isArray(headers[0])) {
      for (const pair of headers as unknown[][]) pairs.push([pair[0], pair[1]]);
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
    }
  } else {
    pairs.push(...Object.entries(headers));
  }
  // As node:http does, they replace headers of the same name set before; a name given several
  // times keeps all its values (a list repeats `Link`, say), and so does every Set-Cookie.
  const grouped = new Map<string, { name: string; values: unknown[] }>();
  for (const [name, value] of pairs) {
    if (!name) continue;
    const key = String(name).toLowerCase();
    const entry = grouped.get(key) ?? { name: String(name), values: [] };
    entry.values.push(...[value].flat());
    grouped.set(key, entry);
  }
  for (const { name, values } of grouped.values()) {
    response.setHeader(name, values.length === 1 ? (values[0] as string) : (values as string[]));
  }
}

function addCookie(
  response: ServerResponse,
  setCookie: string,
  writeHeadArgs: unknown[] | undefined,
): void {
  // Headers passed to writeHead() would replace those set here (Set-Cookie, Cache-Control, Vary):
  // apply them first, so the session cookie and its caching headers come last and win.
  if (writeHeadArgs !== undefined) applyWriteHeadHeaders(response, writeHeadArgs);
  response.appendHeader('set-cookie', setCookie);
  response.setHeader('cache-control', CACHE_CONTROL);
  const vary = response.getHeader('vary');
  response.setHeader(
    'vary',
    varyWithCookie(Array.isArray(vary) ? vary.join(', ') : vary?.toString()),
  );
}

/**
 * Holds back the first `writeHead`/`write`/`end`/`flushHeaders` of a response until `commit`
 * resolves, then adds its `Set-Cookie` and replays the calls in order: a redirect never leaves
 * before the store write. If `commit` fails, the held calls are dropped and `onFailure` answers;
 * the response's later calls are dropped too, unless `onFailure` returns `'pass'` to let them
 * through (for an error handler that answers later, such as Express's).
 */
export function commitBeforeHeaders(
  response: ServerResponse,
  commit: () => Promise<string | undefined>,
  onFailure: (error: unknown) => unknown,
  options: { sharedPrototype?: boolean } = {},
): ResponseHold {
  return new ResponseHold(response, commit, onFailure, options.sharedPrototype === true);
}

const HOLD = Symbol('pithos.hold');
/** Longest a `socket.destroy()` made while calls are held waits for the commit to settle. */
const DESTROY_WAIT_MS = 10_000;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** The bytes a `write(chunk, encoding)` adds to the response. */
function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    const known = typeof encoding === 'string' && Buffer.isEncoding(encoding);
    return Buffer.byteLength(chunk, known ? (encoding as BufferEncoding) : 'utf8');
  }
  return (chunk as { byteLength?: number } | null)?.byteLength ?? 0;
}
const ServerResponsePrototype: object = ServerResponse.prototype;

/** The wrappers are made once and shared: a request costs one object, not four closures. */
const WRAPPERS = Object.fromEntries(
  METHODS.map((name) => [
    name,
    function (this: { [HOLD]: ResponseHold }, ...args: unknown[]): unknown {
      return this[HOLD].intercept(name, args);
    },
  ]),
) as Record<Method, AnyFunction>;

/** The holds of responses whose wrappers sit on a shared prototype (see `prototypeWrappers`). */
const sharedHolds = new WeakMap<object, ResponseHold>();

type HeaderMethod = 'setHeader' | 'appendHeader' | 'removeHeader';
const HEADER_METHODS: readonly HeaderMethod[] = ['setHeader', 'appendHeader', 'removeHeader'];

/** The hold of a response, wherever its wrappers sit. */
function holdOf(response: object): ResponseHold | undefined {
  return (response as { [HOLD]?: ResponseHold })[HOLD] ?? sharedHolds.get(response);
}

function inheritedGetter(prototype: object, name: string): (this: unknown) => unknown {
  for (let at: object | null = prototype; at !== null; at = Object.getPrototypeOf(at)) {
    const getter = Object.getOwnPropertyDescriptor(at, name)?.get;
    if (getter !== undefined) return getter;
  }
  throw new Error(`pithos: ServerResponse has no ${name} getter`);
}

let guardsInstalled = false;

/**
 * Once per process, on `ServerResponse.prototype`: while a response's calls are held, it reports
 * `headersSent` (and, once an `end` is held, `writableEnded`) as node would after those calls,
 * and ignores header changes, which node would refuse then. So an error handler that checks
 * `headersSent` after a handler began to respond takes its "already sent" branch instead of
 * writing a second response into the held one, and a second `res.send()` cannot change the
 * held response's `Content-Length`. Responses without a hold behave exactly as before.
 */
function installGuards(): void {
  if (guardsInstalled) return;
  guardsInstalled = true;
  const prototype = ServerResponse.prototype as unknown as Record<HeaderMethod, AnyFunction>;
  for (const name of HEADER_METHODS) {
    const original = prototype[name];
    prototype[name] = function (this: ServerResponse, ...args: unknown[]): unknown {
      if (holdOf(this)?.isHolding() === true) return name === 'removeHeader' ? undefined : this;
      return original.apply(this, args);
    };
  }
  const guard = (
    name: 'headersSent' | 'writableEnded',
    whileHeld: (hold: ResponseHold) => boolean,
  ) => {
    const getter = inheritedGetter(prototype, name);
    Object.defineProperty(prototype, name, {
      configurable: true,
      enumerable: true,
      get(this: ServerResponse): unknown {
        const hold = holdOf(this);
        if (hold?.isHolding() && whileHeld(hold)) return true;
        return getter.call(this);
      },
    });
  };
  guard('headersSent', () => true);
  guard('writableEnded', (hold) => hold.endIsHeld());
}

/** Per patched prototype: its wrappers, and the methods they pass calls through to. */
interface PrototypeWrappers {
  wrappers: Record<Method, AnyFunction>;
  originals: AnyFunction[];
}

const patchedPrototypes = new WeakMap<object, PrototypeWrappers>();
/** By a response's own prototype: the wrappers its methods resolve to, or `null` for none. */
const chains = new WeakMap<object, PrototypeWrappers | null>();

/** Installs the wrappers on the topmost prototype above `ServerResponse.prototype`, once. */
function patchChain(prototype: object): PrototypeWrappers | null {
  let top: object | null = prototype;
  while (top !== null && Object.getPrototypeOf(top) !== ServerResponsePrototype) {
    top = Object.getPrototypeOf(top);
  }
  if (top === null) return null;
  let patched = patchedPrototypes.get(top);
  if (patched === undefined) {
    const target = top as Record<Method, AnyFunction>;
    const originals = [target.writeHead, target.write, target.end, target.flushHeaders];
    const wrappers = Object.fromEntries(
      METHODS.map((name, index) => [
        name,
        function (this: object, ...args: unknown[]): unknown {
          const hold = sharedHolds.get(this);
          return hold === undefined
            ? originals[index]?.apply(this, args)
            : hold.intercept(name, args);
        },
      ]),
    ) as Record<Method, AnyFunction>;
    Object.assign(target, wrappers);
    patched = { wrappers, originals };
    patchedPrototypes.set(top, patched);
  }
  // A prototype in between may define one of the methods itself, hiding the wrapper.
  const resolved = prototype as Record<Method, AnyFunction>;
  const { wrappers } = patched;
  const reaches =
    resolved.writeHead === wrappers.writeHead &&
    resolved.write === wrappers.write &&
    resolved.end === wrappers.end &&
    resolved.flushHeaders === wrappers.flushHeaders;
  return reaches ? patched : null;
}

/**
 * The wrappers for a response whose prototype a framework sets on every request (Express runs
 * `Object.setPrototypeOf(res, app.response)`). V8 stores every property on such an object through
 * its slow path, about 5 µs each here, against well under 1 µs on a plain response: four wrappers
 * and a hold cost some 25 µs per request. So the wrappers go once onto the topmost prototype of
 * the chain below node's `ServerResponse.prototype` (shared by an Express app and its sub-apps,
 * which keeps them in place when a sub-app hands the response back), find each response's hold
 * in a WeakMap, and pass calls through unchanged for responses without one. `undefined` when the
 * response cannot take them: its chain does not reach `ServerResponse.prototype`, an own
 * property (another middleware's wrapper) or a prototype in between shadows one of the methods,
 * or it already has a hold (a second hold then wraps the first on the response itself). Which
 * prototypes reach the wrappers is worked out once per prototype: methods an application defines
 * on `app.response` belong before its first request.
 */
function prototypeWrappers(response: ServerResponse): PrototypeWrappers | undefined {
  if (sharedHolds.has(response)) return undefined;
  const prototype: object | null = Object.getPrototypeOf(response);
  if (prototype === null) return undefined;
  let chain = chains.get(prototype);
  if (chain === undefined) {
    chain = patchChain(prototype);
    chains.set(prototype, chain);
  }
  if (chain === null) return undefined;
  const own = (name: Method): boolean => Object.hasOwn(response, name);
  if (own('writeHead') || own('write') || own('end') || own('flushHeaders')) return undefined;
  return chain;
}

/**
 * A call made after the response's `end` was held: dropped, as node drops it after `end`, except
 * that no `'error'` event is emitted (node emits one, and with no listener the process exits): a
 * `write` callback gets the error instead.
 */
function afterEnd(response: ServerResponse, name: Method, args: unknown[]): unknown {
  const callback = args.findLast((arg) => typeof arg === 'function') as AnyFunction | undefined;
  if (callback !== undefined && (name === 'write' || name === 'end')) {
    const error = Object.assign(new Error('write after end'), {
      code: 'ERR_STREAM_WRITE_AFTER_END',
    });
    process.nextTick(callback, error);
  }
  return name === 'write' ? false : response;
}

/** What `commitBeforeHeaders` returns: the state of one held response. */
export class ResponseHold {
  readonly #response: ServerResponse;
  readonly #commit: () => Promise<string | undefined>;
  readonly #onFailure: (error: unknown) => unknown;
  readonly #originals: AnyFunction[];
  readonly #held: [Method, unknown[]][] = [];
  /** The hold sits in `sharedHolds` (its wrappers are on a shared prototype). */
  readonly #shared: boolean;
  // armed: nothing written yet; holding: commit running; passing: calls go straight through;
  // absorbing: the commit failed and the error response went out, later calls are dropped.
  #phase: 'armed' | 'holding' | 'passing' | 'absorbing' = 'armed';
  #ended = false;
  /** The status when the first call was held: what node would have sent. */
  #statusCode = 200;
  #statusMessage: string | undefined;
  /** The socket whose `destroy` waits while calls are held, and the arguments it was called with. */
  #socket: (Socket & { destroy: AnyFunction }) | undefined;
  #destroyArgs: unknown[] | undefined;
  /** The limit on a deferred destroy's wait (see `#deferDestroy`). */
  #destroyTimer: NodeJS.Timeout | undefined;
  /** Bytes of the held `write` calls, and whether one of them answered `false`. */
  #heldBytes = 0;
  #needsDrain = false;

  constructor(
    response: ServerResponse,
    commit: () => Promise<string | undefined>,
    onFailure: (error: unknown) => unknown,
    sharedPrototype = false,
  ) {
    this.#response = response;
    this.#commit = commit;
    this.#onFailure = onFailure;
    installGuards();
    const shared = sharedPrototype ? prototypeWrappers(response) : undefined;
    this.#shared = shared !== undefined;
    if (shared !== undefined) {
      this.#originals = shared.originals;
      sharedHolds.set(response, this);
      return;
    }
    const target = response as unknown as Record<Method, AnyFunction> & { [HOLD]?: ResponseHold };
    const outer = target[HOLD];
    // Named loads and stores, not a loop over the names: a store through a variable key goes to
    // V8's generic slow path, which on Express's response (with its long prototype chain) cost
    // more than the rest of the adapter together. A response held already (two session managers
    // on one request) passes its calls on to that hold: its methods are the shared wrappers,
    // which would find this hold instead and call it again for ever.
    this.#originals =
      outer === undefined
        ? [target.writeHead, target.write, target.end, target.flushHeaders]
        : METHODS.map(
            (name) =>
              (...args: unknown[]) =>
                outer.intercept(name, args),
          );
    target[HOLD] = this;
    // The wrappers stay in place (never deleted), so middleware that wrapped them later keeps working.
    target.writeHead = WRAPPERS.writeHead;
    target.write = WRAPPERS.write;
    target.end = WRAPPERS.end;
    target.flushHeaders = WRAPPERS.flushHeaders;
  }

  /** Whether nothing was written yet. */
  isPristine(): boolean {
    return this.#phase === 'armed';
  }

  /** Whether calls are held now (the commit is running). */
  isHolding(): boolean {
    return this.#phase === 'holding';
  }

  /** Whether an `end` is among the held calls. */
  endIsHeld(): boolean {
    return this.#phase === 'holding' && this.#ended;
  }

  /** Whether `end` was called. */
  hasEnded(): boolean {
    // Once passing, a shared hold no longer sees the calls: the response knows.
    return this.#ended || this.#response.writableEnded;
  }

  /** Lets calls through without committing (the handler failed before responding). */
  release(): void {
    if (this.#phase === 'armed') this.#pass();
  }

  /**
   * Lets every later call straight through. A shared hold also leaves `sharedHolds` now rather
   * than when the response is collected: V8's young-generation collector keeps a `WeakMap`'s
   * values alive whatever becomes of their keys, and this hold reaches the response, the request
   * and the session. Left in the map, every finished request was copied by minor collections and
   * promoted to wait for a full one (about 20 µs per request on the Express server of
   * `bench:adapters`).
   */
  #pass(): void {
    this.#phase = 'passing';
    if (this.#shared) sharedHolds.delete(this.#response);
  }

  /** @internal Called by the shared wrappers. */
  intercept(name: Method, args: unknown[]): unknown {
    if (this.#phase === 'passing') {
      if (name === 'end') this.#ended = true;
      return this.#call(name, args);
    }
    // Dropped: a write is accepted (and discarded), so a writer goes on to its end.
    if (this.#phase === 'absorbing') return name === 'write' ? true : this.#response;
    // After a held end, the response is over, as node would have it: a second response (a
    // handler that answers twice, an error page after a reply) is dropped, not replayed after
    // the first, where it would write after the end and crash the process.
    if (this.#ended) return afterEnd(this.#response, name, args);
    if (name === 'flushHeaders' && this.#phase === 'armed') {
      // As node's flushHeaders does: the implicit writeHead first, through the wrappers of
      // middleware above (compression sets its Content-Encoding there, before the first write).
      (this.#response as unknown as { _implicitHeader?: () => void })._implicitHeader?.();
    }
    if (name === 'end') this.#ended = true;
    this.#held.push([name, args]);
    if (this.#phase === 'armed') {
      this.#phase = 'holding';
      this.#statusCode = this.#response.statusCode;
      this.#statusMessage = this.#response.statusMessage;
      this.#deferDestroy();
      void this.#run();
    }
    if (name !== 'write') return this.#response;
    // Backpressure as node gives it while it buffers: `false` past the high-water mark, so that
    // a pipe() waits for 'drain' instead of reading its whole source into the held calls.
    this.#heldBytes += chunkBytes(args[0], args[1]);
    if (this.#heldBytes < this.#response.writableHighWaterMark) return true;
    this.#needsDrain = true;
    return false;
  }

  /** The status the response will have: that of a held `writeHead`, else its `statusCode`. */
  status(): number {
    const writeHead = this.#held.find(([name]) => name === 'writeHead')?.[1];
    const code = Number(writeHead?.[0]);
    return Number.isInteger(code) ? code : this.#response.statusCode;
  }

  /**
   * While calls are held, the response reports its headers sent, and code that then ends the
   * connection (Express's final handler after an error that followed a reply) would cut off the
   * held response before it leaves. So the socket's `destroy` waits until the held calls are
   * replayed (or dropped); an own property of the socket, removed again then.
   */
  #deferDestroy(): void {
    const socket = this.#response.socket as (Socket & { destroy: AnyFunction }) | null;
    if (socket === null || Object.hasOwn(socket, 'destroy')) return;
    this.#socket = socket;
    socket.destroy = (...args: unknown[]) => {
      // An error (the client reset the connection) ends it now; so does waiting too long for a
      // commit that does not settle: node's own timeouts and closeAllConnections must work.
      if (args[0] instanceof Error) {
        this.#settleDestroy();
        socket.destroy(...args);
        return socket;
      }
      if (this.#destroyArgs === undefined) {
        this.#destroyArgs = args;
        this.#destroyTimer = setTimeout(() => this.#settleDestroy(), DESTROY_WAIT_MS).unref();
      }
      return socket;
    };
  }

  /** Gives the socket its `destroy` back, and runs a destroy that waited. */
  #settleDestroy(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    clearTimeout(this.#destroyTimer);
    delete (socket as Partial<Socket>).destroy;
    const args = this.#destroyArgs;
    this.#destroyArgs = undefined;
    if (args !== undefined) socket.destroy(...args);
  }

  #call(name: Method, args: unknown[]): unknown {
    return this.#originals[METHODS.indexOf(name)]?.apply(this.#response, args);
  }

  #fail(error: unknown): void {
    this.#held.length = 0;
    this.#phase = 'passing';
    this.#settleDestroy();
    let after: unknown;
    try {
      if (this.#response.headersSent) {
        console.error('pithos: response failed after its headers left', error);
        this.#response.destroy();
      } else {
        after = this.#onFailure(error);
      }
    } finally {
      if (after === 'pass') {
        this.#pass();
      } else if (isThenable(after) && this.#ended) {
        this.#passUntil(after);
      } else {
        // An asynchronous answer while the handler is still writing could not be told from the
        // handler's own writes: the response is cut off instead (as Express's adapter does).
        if (isThenable(after)) this.#response.destroy();
        this.#phase = 'absorbing';
      }
      // A writer waiting for 'drain' after a held write said `false` must not wait for ever.
      if (this.#needsDrain) process.nextTick(() => this.#response.emit('drain'));
    }
  }

  /**
   * An `onError` that answers asynchronously: its calls go through until it settles; if it then
   * has not answered, the plain error response goes out.
   */
  #passUntil(answering: PromiseLike<unknown>): void {
    const settle = (): void => {
      if (this.#phase !== 'passing') return;
      if (!this.#response.headersSent) sendError(this.#response);
      this.#phase = 'absorbing';
    };
    Promise.resolve(answering).then(settle, (error: unknown) => {
      console.error('pithos: onError failed', error);
      settle();
    });
  }

  async #run(): Promise<void> {
    let setCookie: string | undefined;
    try {
      setCookie = await this.#commit();
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#pass();
    try {
      // Changes after the first held call came too late for node; they do not reach the response.
      const response = this.#response;
      if (response.statusCode !== this.#statusCode) response.statusCode = this.#statusCode;
      if (response.statusMessage !== this.#statusMessage) {
        response.statusMessage = this.#statusMessage as string;
      }
      const writeHeadArgs = this.#held.find(([name]) => name === 'writeHead')?.[1];
      if (setCookie !== undefined && !response.headersSent) {
        addCookie(response, setCookie, writeHeadArgs);
      }
      let accepted = true;
      for (const [name, args] of this.#held.splice(0)) {
        // Middleware that tests `res._header` before each write (compression does) calls
        // writeHead again while the first is held; node would have refused it once sent.
        if (name === 'writeHead' && response.headersSent) continue;
        const result = this.#call(name, args);
        if (name === 'write') accepted = result !== false;
      }
      this.#settleDestroy();
      // A held write answered `false`: whoever waits for 'drain' gets it, from node when its own
      // buffer is over the mark now, else from here.
      if (this.#needsDrain && accepted && !response.destroyed) {
        process.nextTick(() => response.emit('drain'));
      }
    } catch (error) {
      // A held call node rejects (an invalid header, say) throws only now, outside the handler:
      // answer through the error path instead of leaving an unhandled rejection.
      this.#fail(error);
    }
  }
}

/**
 * Loads the session of a `node:http` request and arranges for it to be committed before the
 * response's headers are written: a building block for adapters to other frameworks built on
 * `node:http`. (pithos's own adapters make the same two calls inline, which saves an async step
 * per request.)
 */
export async function attachSession<Data extends object>(
  manager: SessionManager<Data>,
  request: IncomingMessage,
  response: ServerResponse,
  options: { isTrusted: (address: string) => boolean; onError: (error: unknown) => void },
): Promise<{ session: Session<Data>; hook: ResponseHold }> {
  const session = await manager.load(request.headers.cookie, {
    ip: requestAddress(request, options.isTrusted),
    userAgent: request.headers['user-agent'],
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
    // An onError that answers asynchronously and fails, or settles without answering, gets the
    // plain 500. The promise goes back to the hold, which passes calls until it settles.
    const fail = (error: unknown): unknown => {
      let answer: unknown;
      try {
        answer = onError(error, request, response);
      } catch (hookError) {
        console.error('pithos: onError threw', hookError);
        sendError(response);
        return undefined;
      }
      if (!isThenable(answer)) return answer;
      return Promise.resolve(answer).then(
        () => {
          if (!response.headersSent && !response.destroyed) sendError(response);
        },
        (hookError: unknown) => {
          console.error('pithos: onError failed', hookError);
          if (!response.writableEnded && !response.destroyed) sendError(response);
        },
      );
    };
    let session: Session<Data>;
    try {
      session = await manager.load(request.headers.cookie, {
        ip: requestAddress(request, isTrusted),
        userAgent: request.headers['user-agent'],
      });
    } catch (error) {
      fail(error);
      return;
    }
    const hook = commitBeforeHeaders(response, () => manager.commit(session), fail);
    try {
      await handler(request, response, session);
    } catch (error) {
      if (hook.isPristine()) {
        // Nothing was written yet: answer with the error path and never commit this request.
        hook.release();
        fail(error);
      } else {
        console.error('pithos: handler threw after it began to respond', error);
        // Cut the response off: ending it would present a partial body as complete.
        if (!hook.hasEnded()) response.destroy();
      }
    }
  };
}
