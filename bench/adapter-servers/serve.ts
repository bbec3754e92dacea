/**
 * What every server of `bench/adapters.ts` shares: the IPC protocol of `bench/http-server.ts`
 * (`ready` with the port, `stats` with CPU time and counters, `exit`), the response, the session
 * data and the one change each request makes, and the pithos manager.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSessionManager, type SessionManager } from '../../dist/index.js';
import { memoryStore } from '../../dist/stores/memory.js';
import { BENCH_SECRET, type BenchData, sampleData } from '../data.ts';
import { floorRequestWork, requiredRequestWork } from '../floor.ts';
import type { ServerMessage } from '../http-server.ts';

/** The response body of every case. */
export const BODY = 'ok\n';
/** The response headers of the `node:http` cases. */
export const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };
/** How long the libraries keep a session and its cookie: pithos's default idle timeout. */
export const MAX_AGE_MS = 86_400_000;

/** `counter`: the value the latest change wrote, so the parent can see that a change was committed. */
const stats = { requests: 0, created: 0, counter: 0 };
const seed = sampleData(200);

/** Counts a request that does not touch any session (the frameworks' ceilings). */
export function countRequest(): void {
  stats.requests++;
}

let floorWork: ((cookie: string) => void) | undefined;

/**
 * The `floor` servers' work: counts the request and does, inline, only the irreducible work of a
 * session cycle on the record its cookie names (`floorRequestWork` in `bench/floor.ts`).
 */
export function floorRequest(cookie: string | undefined): void {
  stats.requests++;
  floorWork ??= floorRequestWork(seed);
  floorWork(cookie ?? '');
}

let requiredWork: ((cookieHeader: string) => Promise<unknown>) | undefined;

/**
 * The `required` servers' work: the floor's plus only what issue 2 requires of every cycle
 * (`requiredRequestWork` in `bench/floor.ts`), on pithos's cookie, awaited before the response as
 * pithos's commit is. What it adds is the least any implementation of issue 2 adds there.
 */
export function requiredRequest(cookieHeader: string | undefined): Promise<unknown> {
  stats.requests++;
  requiredWork ??= requiredRequestWork(seed, '__Host-pithos');
  return requiredWork(cookieHeader ?? '');
}

/**
 * The work of every session case: a new session gets the 200 B of data; an existing one is loaded
 * (by the caller), its counter changes, and the caller commits it.
 */
export function changeSession(
  isNew: boolean,
  get: (key: string) => unknown,
  set: (key: string, value: unknown) => void,
): void {
  stats.requests++;
  if (isNew) {
    stats.created++;
    for (const [key, value] of Object.entries(seed)) set(key, value);
  } else {
    stats.counter = Number(get('counter') ?? 0) + 1;
    set('counter', stats.counter);
  }
}

/** The manager of every pithos case: the memory store, native crypto, as `bench/http.ts`. */
export function pithosManager(): SessionManager<BenchData> {
  return createSessionManager<BenchData>({
    store: memoryStore(),
    secret: BENCH_SECRET,
    crypto: 'native',
  });
}

/** The mode named on the command line, checked against the server's modes. */
export function modeOf<Mode extends string>(modes: readonly Mode[]): Mode {
  const mode = process.argv[2] as Mode;
  if (!modes.includes(mode)) throw new Error(`usage: ${process.argv[1]} ${modes.join('|')}`);
  return mode;
}

/** Listens on 127.0.0.1 on a free port and answers the parent over IPC. */
export function serve(server: Server): void {
  const send = (message: ServerMessage): void => {
    process.send?.(message);
  };
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    send({ type: 'ready', port: (server.address() as AddressInfo).port });
  });
  process.on('message', (message) => {
    if (message === 'stats') {
      const used = process.cpuUsage();
      send({ type: 'stats', cpu: used.user + used.system, ...stats });
    } else if (message === 'exit') {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
