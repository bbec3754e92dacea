// Opens the session store named by a URL (`PITHOS_STORE`). Each driver is imported only when its
// store is asked for, and each store is given the user's own client, as pithos stores expect.
//
//   sqlite:/path/to/file.sqlite      the default: one local file, nothing to install or start
//   memory:                          this process only; sessions end when it stops
//   file:///path/to/dir              one file per session record
//   redis://127.0.0.1:6379           ?prefix=… (default "pithos:")
//   memcached://127.0.0.1:11211      ?prefix=…; no device list (memcached cannot list keys)
//   postgres://user@host/db          ?table=… (default pithos_sessions), created when missing
//   mysql://user:password@host/db    ?table=…, created when missing
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from 'pithos';
import { openSQLiteFile, type SQLiteConnection } from './sqlite-file.ts';

/** An open store, what to call it, and how to close it. */
export interface OpenedStore {
  store: Store;
  /** What the store is, for the pages: "SQLite file pithos.sqlite", "Redis at 127.0.0.1:6379". */
  label: string;
  /** Where it is, for the log (without any password): the full path, or the label. */
  location: string;
  /** The SQLite database, when the store is SQLite (the app keeps its users there too). */
  database?: SQLiteConnection;
  close(): Promise<void>;
}

type Opener = (url: URL) => Promise<OpenedStore>;

const option = (url: URL, name: string): string | undefined =>
  url.searchParams.get(name) ?? undefined;

/** The URL for the driver: without its query, which holds the store's own options. */
function connectionURL(url: URL): string {
  const plain = new URL(url);
  plain.search = '';
  return plain.href;
}

const OPENERS: Record<string, Opener> = {
  async 'sqlite:'(url) {
    const { sqliteStore } = await import('pithos/sqlite');
    const path = decodeURIComponent(url.pathname);
    const { database, driver } = await openSQLiteFile(path);
    const store = sqliteStore({ database, table: option(url, 'table') });
    await store.createSchema();
    return {
      store,
      database,
      label: `SQLite file ${basename(path)}`,
      location: `SQLite at ${path} (${driver})`,
      close: async () => database.close(),
    };
  },
  async 'memory:'() {
    const { memoryStore } = await import('pithos/memory');
    const label = 'memory';
    return { store: memoryStore(), label, location: label, close: async () => {} };
  },
  async 'file:'(url) {
    const { fileStore } = await import('pithos/fs');
    const directory = fileURLToPath(connectionURL(url));
    return {
      store: fileStore({ directory }),
      label: 'files',
      location: `files in ${directory}`,
      close: async () => {},
    };
  },
  async 'redis:'(url) {
    const { createClient } = await import('redis');
    const { redisStore } = await import('pithos/redis');
    // Reconnect for ever once connected (requests fail with a 5xx meanwhile), but give up at
    // start: an app that cannot reach its store should say so and exit, not wait.
    let connected = false;
    const client = createClient({
      url: connectionURL(url),
      socket: {
        connectTimeout: 2_000,
        reconnectStrategy: (tries) =>
          !connected && tries >= 3
            ? new Error(`cannot reach Redis at ${url.host}`)
            : Math.min(tries * 100, 2_000),
      },
      disableOfflineQueue: true,
    });
    client.on('error', (error: Error) => console.error(`redis: ${error.message}`));
    await client.connect();
    connected = true;
    const store = redisStore({ client, prefix: option(url, 'prefix') });
    const label = `Redis at ${url.host}`;
    return { store, label, location: label, close: () => client.close() };
  },
  async 'memcached:'(url) {
    const { default: memjs } = await import('memjs');
    const { memcachedStore } = await import('pithos/memcached');
    const client = memjs.Client.create(url.host, {
      timeout: 0.5,
      retries: 2,
      logger: { log() {} },
    });
    const store = memcachedStore({ client, prefix: option(url, 'prefix') });
    const label = `memcached at ${url.host}`;
    return { store, label, location: label, close: async () => client.close() };
  },
  async 'postgres:'(url) {
    const { default: pg } = await import('pg');
    const { postgresStore } = await import('pithos/postgres');
    const pool = new pg.Pool({
      connectionString: connectionURL(url),
      connectionTimeoutMillis: 5_000,
      query_timeout: 5_000,
    });
    const store = postgresStore({ client: pool, table: option(url, 'table') });
    await store.createSchema();
    const label = `PostgreSQL at ${url.host}${url.pathname}`;
    return { store, label, location: label, close: () => pool.end() };
  },
  async 'mysql:'(url) {
    const mysql = await import('mysql2/promise');
    const { mysqlStore } = await import('pithos/mysql');
    const pool = mysql.createPool({ uri: connectionURL(url), connectTimeout: 5_000 });
    const store = mysqlStore({ client: pool, table: option(url, 'table') });
    await store.createSchema();
    const label = `MySQL at ${url.host}${url.pathname}`;
    return { store, label, location: label, close: () => pool.end() };
  },
};
OPENERS['rediss:'] = OPENERS['redis:'] as Opener;
OPENERS['postgresql:'] = OPENERS['postgres:'] as Opener;
OPENERS['mariadb:'] = OPENERS['mysql:'] as Opener;

/** Opens the store a URL names; throws with the list of known schemes for any other. */
export async function openStore(text: string): Promise<OpenedStore> {
  const url = new URL(text);
  const open = OPENERS[url.protocol];
  if (open === undefined) {
    const known = Object.keys(OPENERS).join(' ');
    throw new Error(`PITHOS_STORE: unknown store ${JSON.stringify(url.protocol)}; one of ${known}`);
  }
  return open(url);
}
