/**
 * The server side of `bench/stores.ts`, run in its own process: `node --import tsx
 * bench/stores-server.ts <mode> [directory]`, with a mode of `bench/stores-handlers.ts`
 * (`pithos-redis`, `floor-redis`, `floor-redis-crypto`, `floor-redis-cas-crypto`,
 * `required-redis`, `pithos-postgres`, `floor-postgres`, `floor-postgres-crypto`,
 * `floor-postgres-cas-crypto`, `required-postgres`, `pithos-postgres-prepared`,
 * `floor-postgres-prepared`, `pithos-fs`, `pithos-fs-nosync`, `floor-fs`, `required-fs`,
 * `session-file-store`). Listens on 127.0.0.1 on a free port and talks to its
 * parent over IPC, as `bench/http-server.ts` does: `ready` with its port and the sealed record
 * size, `stats` with its CPU time and counters, and it exits on `exit`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { counters, handlerFor, sealedRecordSize } from './stores-handlers.ts';

/** What the server reports to its parent. */
export interface StoreServerStats {
  /** Microseconds of CPU (user + system, every thread) since the process started. */
  cpu: number;
  requests: number;
  /** Requests that found no session and created one. */
  created: number;
  /** Store reads and writes (pithos's store calls, or the floor's raw commands). */
  reads: number;
  writes: number;
  /** Requests whose record was not found (should stay 0). */
  missing: number;
}

/** A message from the server to its parent. */
export type StoreServerMessage =
  | { type: 'ready'; port: number; recordSize: number }
  | ({ type: 'stats' } & StoreServerStats);

const [mode, directory] = process.argv.slice(2);
if (mode === undefined) throw new Error('usage: stores-server.ts <mode> [directory]');
const send = (message: StoreServerMessage): void => {
  process.send?.(message);
};
const server = createServer({ keepAliveTimeout: 60_000 }, await handlerFor(mode, directory));
const recordSize = await sealedRecordSize();
server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port, recordSize });
});
process.on('message', (message) => {
  if (message === 'stats') {
    const used = process.cpuUsage();
    send({ type: 'stats', cpu: used.user + used.system, ...counters });
  } else if (message === 'exit') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
