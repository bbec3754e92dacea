/**
 * The server side of `bench/http.ts`, run in its own process: `node --import tsx
 * bench/http-server.ts plain|session`. Listens on 127.0.0.1 on a free port and talks to its parent
 * over IPC: it says `ready` with its port, answers `stats` with its CPU time and counters, and
 * exits on `exit`.
 *
 * `plain` answers every request with a small body. `session` does the same through `withSession`
 * from `pithos/node` with the memory store: a request without a session gets one (200 B of data);
 * a request with one loads it, changes its counter and commits it. `floor` does, inline, only the
 * irreducible work of such a cycle (`floorRequestWork` in `bench/floor.ts`); `required` adds to
 * that what issue 2 requires of every cycle (`requiredRequestWork`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withSession } from '../dist/adapters/node.js';
import { createSessionManager } from '../dist/index.js';
import { memoryStore } from '../dist/stores/memory.js';
import { BENCH_SECRET, type BenchData, sampleData } from './data.ts';
import { floorRequestWork, measureFloor, requiredRequestWork } from './floor.ts';

/** What the server reports to its parent. */
export interface ServerStats {
  /** Microseconds of CPU (user + system, every thread) since the process started. */
  cpu: number;
  requests: number;
  /** Requests that found no session and created one. */
  created: number;
  /** The counter value the latest change wrote (`bench/adapters.ts`'s servers). */
  counter?: number;
}

/** A message from the server to its parent. */
export type ServerMessage =
  | { type: 'ready'; port: number }
  | ({ type: 'stats' } & ServerStats)
  | { type: 'floor'; cpu: number };

const BODY = 'ok\n';
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };
const stats = { requests: 0, created: 0 };

function plain(_request: IncomingMessage, response: ServerResponse): void {
  stats.requests++;
  response.writeHead(200, HEADERS).end(BODY);
}

function sessionHandler(): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const manager = createSessionManager<BenchData>({
    store: memoryStore(),
    secret: BENCH_SECRET,
    crypto: 'native',
  });
  const seed = sampleData(200);
  return withSession(manager, (_request, response, session) => {
    stats.requests++;
    if (session.isNew) {
      stats.created++;
      for (const [key, value] of Object.entries(seed)) session.set(key, value);
    } else {
      session.set('counter', Number(session.get('counter') ?? 0) + 1);
    }
    response.writeHead(200, HEADERS).end(BODY);
  });
}

/** The irreducible work of a cycle done inline, without pithos (see `floorRequestWork`). */
function floorHandler(): (request: IncomingMessage, response: ServerResponse) => void {
  const work = floorRequestWork(sampleData(200));
  return (request, response) => {
    stats.requests++;
    work(request.headers.cookie ?? '');
    response.writeHead(200, HEADERS).end(BODY);
  };
}

/**
 * The floor plus what issue 2 requires of every cycle (`requiredRequestWork`): the commit awaited
 * before the response, as pithos does.
 */
function requiredHandler(): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const work = requiredRequestWork(sampleData(200), '__Host-pithos');
  return async (request, response) => {
    stats.requests++;
    await work(request.headers.cookie ?? '');
    response.writeHead(200, HEADERS).end(BODY);
  };
}

const HANDLERS = {
  plain: () => plain,
  session: sessionHandler,
  floor: floorHandler,
  required: requiredHandler,
};
const mode = process.argv[2];
if (mode !== 'plain' && mode !== 'session' && mode !== 'floor' && mode !== 'required') {
  throw new Error('usage: http-server.ts plain|session|floor|required');
}
const send = (message: ServerMessage): void => {
  process.send?.(message);
};
const server = createServer({ keepAliveTimeout: 60_000 }, HANDLERS[mode]());
server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
process.on('message', (message) => {
  if (message === 'stats') {
    const used = process.cpuUsage();
    send({ type: 'stats', cpu: used.user + used.system, ...stats });
  } else if (message === 'floor') {
    // The irreducible work of one cycle at 200 B, measured on this process's own (pinned) core.
    send({ type: 'floor', cpu: measureFloor(sampleData(200)) });
  } else if (message === 'exit') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
