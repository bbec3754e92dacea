/**
 * Fixtures of the adapter scenario suite: a memory store the tests can watch, hold and break, a
 * fixed clock, a server on 127.0.0.1 and an HTTP client for it. Not a test file itself.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONOnly } from '../../src/core/json.ts';
import {
  createSessionManager,
  type SessionManager,
  type SessionManagerOptions,
  type Store,
} from '../../src/index.ts';
import { type MemoryStore, memoryStore } from '../../src/stores/memory.ts';

/** A server secret for the scenarios (not a real one). */
export const SECRET = 'pithos-adapter-scenarios-2b7e9f14c3d85a60e1f7b2c94d0a6e35';
/** Another deployment's secret, for foreign cookies. */
export const OTHER_SECRET = 'pithos-adapter-foreign-71c4e0a9d2b65f38a1e7c0d94b2f6a58';
/** The fixed time of every scenario (2030-01-01T00:00:00Z): nothing expires or needs a touch. */
export const NOW = Date.UTC(2030, 0, 1);
/** What the failing store's errors say: it must never reach a response body. */
export const STORE_FAILURE = 'ECONNREFUSED 10.9.8.7:6379 (scenario store is down)';

/** A promise with its resolve function. */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Lets pending callbacks, microtasks and rejection tracking run (a turn of the loop, not a sleep). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((done) => setImmediate(done));
}

/** A memory store that counts writes, can hold them until released, and can fail on demand. */
export interface WatchedStore extends Store {
  readonly memory: MemoryStore;
  /** Writes (set, compareAndSet, delete) begun and finished. */
  readonly writes: { started: number; finished: number };
  /** While `true`, every method throws. */
  failing: boolean;
  /** Makes writes wait until `release()`. */
  hold(): void;
  release(): void;
  /** Resolves once `count` writes wait at the hold. */
  whenHeld(count: number): Promise<void>;
}

export function watchedStore(memory = memoryStore({ clock: () => NOW })): WatchedStore {
  const writes = { started: 0, finished: 0 };
  let gate: Deferred | undefined;
  let waiting = 0;
  let watchers: { count: number; done: () => void }[] = [];
  const check = (): void => {
    if (store.failing) throw new Error(STORE_FAILURE);
  };
  const write = async <T>(run: () => Promise<T>): Promise<T> => {
    check();
    writes.started++;
    if (gate !== undefined) {
      waiting++;
      for (const watcher of watchers) if (waiting >= watcher.count) watcher.done();
      watchers = watchers.filter((watcher) => waiting < watcher.count);
      await gate.promise;
    }
    try {
      return await run();
    } finally {
      writes.finished++;
    }
  };
  const store: WatchedStore = {
    name: 'watched-memory',
    memory,
    writes,
    failing: false,
    hold() {
      gate = deferred();
      waiting = 0;
    },
    release() {
      gate?.resolve();
      gate = undefined;
    },
    whenHeld(count) {
      if (waiting >= count) return Promise.resolve();
      return new Promise((done) => watchers.push({ count, done }));
    },
    async get(key) {
      check();
      return memory.get(key);
    },
    set: (key, record, options) => write(() => memory.set(key, record, options)),
    delete: (key) => write(() => memory.delete(key)),
    compareAndSet: (key, expected, record, options) =>
      write(() => memory.compareAndSet(key, expected, record, options)),
  };
  return store;
}

/** A manager on `store` with the fixed clock and the scenario secret, unless `options` say otherwise. */
export function scenarioManager<Data extends object>(
  store: Store,
  options: Partial<SessionManagerOptions> = {},
): SessionManager<Data> {
  const all = { store, secret: SECRET, clock: () => NOW, ...options };
  return createSessionManager<Data>(all as SessionManagerOptions & JSONOnly<Data>);
}

/** A server the tests talk to. */
export interface RunningApp {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  /** Closes the server and every connection it holds. */
  close(): Promise<void>;
}

/** Serves a request listener on an ephemeral port of 127.0.0.1. */
export async function listen(
  listener: (request: IncomingMessage, response: ServerResponse) => unknown,
): Promise<RunningApp> {
  const server = createServer((request, response) => {
    void listener(request, response);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** What a request sends besides its path. */
export interface SendOptions {
  /** The `Cookie` header. */
  cookie?: string | undefined;
  /** The `X-Forwarded-For` header. */
  forwardedFor?: string;
  /** Connect from this local address (e.g. `127.0.0.2`) instead of 127.0.0.1. */
  localAddress?: string;
}

/** A whole response. */
export interface Answer {
  status: number;
  headers: Headers;
  /** Every `Set-Cookie` value, one per cookie. */
  setCookies: string[];
  body: string;
}

function headersOf(options: SendOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  if (options.forwardedFor !== undefined) headers['x-forwarded-for'] = options.forwardedFor;
  return headers;
}

/** Starts a GET with `fetch` (redirects not followed); resolves when the headers arrive. */
export function open(base: string, path: string, options: SendOptions = {}): Promise<Response> {
  return fetch(`${base}${path}`, { redirect: 'manual', headers: headersOf(options) });
}

/** A GET, read to the end. */
export async function get(base: string, path: string, options: SendOptions = {}): Promise<Answer> {
  if (options.localAddress !== undefined) return getFrom(base, path, options);
  const response = await open(base, path, options);
  return {
    status: response.status,
    headers: response.headers,
    setCookies: response.headers.getSetCookie(),
    body: await response.text(),
  };
}

/** A GET through node:http, which (unlike `fetch`) can pick the local address. */
function getFrom(base: string, path: string, options: SendOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${base}${path}`,
      { localAddress: options.localAddress, headers: headersOf(options), agent: false },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(incoming.headers)) {
            for (const one of [value ?? []].flat()) headers.append(name, one);
          }
          resolve({
            status: incoming.statusCode ?? 0,
            headers,
            setCookies: incoming.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** A `Set-Cookie` value taken apart: name, value and attributes (names lower-cased). */
export interface ParsedSetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
}

export function parseSetCookie(setCookie: string): ParsedSetCookie {
  const [pair = '', ...rest] = setCookie.split(';').map((part) => part.trim());
  const equals = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const attribute of rest) {
    const at = attribute.indexOf('=');
    if (at === -1) attributes[attribute.toLowerCase()] = true;
    else attributes[attribute.slice(0, at).toLowerCase()] = attribute.slice(at + 1);
  }
  return { name: pair.slice(0, equals), value: pair.slice(equals + 1), attributes };
}

/** The one `Set-Cookie` of `name` among `setCookies` (failing the test unless there is exactly one). */
export function sessionCookie(setCookies: readonly string[], name: string): ParsedSetCookie {
  const matching = setCookies.map(parseSetCookie).filter((cookie) => cookie.name === name);
  if (matching.length !== 1) {
    throw new Error(`expected one ${name} cookie, got ${setCookies.length} Set-Cookie values`);
  }
  return matching[0] as ParsedSetCookie;
}
