/** Helpers of the PostgreSQL and MySQL store tests: the harness each fills in, tables, servers. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { SQLStore, SQLStoreOptions } from '../../src/stores/sql.ts';
import type { SQLValue } from '../../src/stores/sql-dialect.ts';

/** Sees every statement a store sends, with its values, before the server does. */
export type Spy = (sql: string, values: readonly SQLValue[]) => void;

/** A raw statement runner: rows of a SELECT, nothing otherwise. */
export type Exec = (sql: string, values?: unknown[]) => Promise<Record<string, unknown>[]>;

/** One dedicated server connection, with a store on it and raw access. */
export interface Connection {
  store(options: SQLStoreOptions): SQLStore;
  exec: Exec;
  release(): Promise<void>;
}

/** What each SQL test file supplies. */
export interface SQLHarness {
  name: 'postgres' | 'mysql';
  /** A store on the shared pool; `spy` receives every statement sent to the server. */
  store(options: SQLStoreOptions, spy?: Spy): SQLStore;
  /** The DDL export (`postgresSchema`, `mysqlSchema`). */
  schema(table?: string): string;
  /** Builds the store with a client of the wrong shape. */
  storeWithClient(client: unknown): unknown;
  /** Raw statements on the shared pool. */
  exec: Exec;
  placeholder(index: number): string;
  quote(name: string): string;
  /** Takes one connection out of the pool (a second call gives another). */
  connection(): Promise<Connection>;
  /** A store whose client connects to 127.0.0.1:`port`, and how to dispose of it. */
  storeOn(port: number, options: SQLStoreOptions): { store: SQLStore; dispose(): Promise<void> };
}

/** A table name no other test run uses. */
export function uniqueTable(label = 'pithos_sessions'): string {
  const random = globalThis.crypto.getRandomValues(new Uint8Array(5));
  return `${label}_${Buffer.from(random).toString('hex')}`;
}

/** Renders rows as text, binary values both as hex and as Latin-1, for the at-rest check. */
export function renderRows(rows: Record<string, unknown>[]): string {
  return rows
    .map((row) =>
      Object.values(row)
        .map((value) =>
          value instanceof Uint8Array
            ? `${Buffer.from(value).toString('hex')} ${Buffer.from(value).toString('latin1')}`
            : String(value),
        )
        .join(' | '),
    )
    .join('\n');
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address !== 'object') throw new Error('no free port');
  return address.port;
}

/** A TCP server that accepts connections and never answers, like a blackholed database. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
