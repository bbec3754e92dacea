/**
 * How each kind of store URL is opened: the driver, its client with settings that fail fast (a
 * command run from cron must not hang on a server that is down), and the store on that client.
 * The SQL openers live in `open-sql.ts`. Internal; use `openStore` from `store-url.ts`.
 *
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, StoreError } from '../core/errors.ts';
import { fileStore } from '../stores/fs.ts';
import { memcachedStore } from '../stores/memcached.ts';
import { memoryStore } from '../stores/memory.ts';
import { redisStore } from '../stores/redis.ts';
import { loadDriver, reasonOf } from './drivers.ts';
import { openMySQL, openPostgres, openSQLite } from './open-sql.ts';
import type { OpenedStore, StoreKind, StoreURL } from './store-url.ts';

/** Opens one kind of store; `create` allows creating a missing directory, file or table. */
export type Opener = (url: StoreURL, create: boolean) => Promise<OpenedStore>;

async function openMemory(url: StoreURL): Promise<OpenedStore> {
  return { store: memoryStore(), kind: 'memory', label: url.label, close: async () => {} };
}

async function openFiles(url: StoreURL, create: boolean): Promise<OpenedStore> {
  const directory = url.path as string;
  // Every file store has records/ from its first start: without it, this is a typo, not a store.
  const records = join(directory, 'records');
  if (!create && !(existsSync(records) && statSync(records).isDirectory())) {
    throw new ConfigError(
      `there is no file store in ${directory} (pithos doctor --create-schema creates one)`,
    );
  }
  const store = fileStore({ directory });
  return { store, kind: 'fs', label: url.label, close: async () => {} };
}

/**
 * Most milliseconds a Redis connection may take, its handshake included: a server that accepts
 * the connection and never answers (a stuck Redis, or another service on the port) must not hold
 * a command, whose `connectTimeout` covers only the TCP connect.
 */
const REDIS_CONNECT_MS = 5_000;

/** `pending`, or a rejection once `ms` have passed. */
function within<T>(pending: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([pending, late]).finally(() => clearTimeout(timer));
}

/** Gives up after a couple of tries: a command reports a server that is down, it does not wait. */
function reconnectStrategy(retries: number, cause: Error): number | Error {
  return retries >= 2 ? cause : 200;
}

async function openRedis(url: StoreURL): Promise<OpenedStore> {
  const redis = await loadDriver('redis', 'redis:', () => import('redis'));
  const socket = { connectTimeout: 3_000, reconnectStrategy };
  const client = url.cluster
    ? redis.createCluster({
        rootNodes: (url.servers ?? []).map((server) => ({ url: `redis://${server}` })),
        // No user name (`:password@`) is Redis's `default` user, as for redis:// URLs.
        defaults: { username: url.username || undefined, password: url.password, socket },
      })
    : redis.createClient({
        url: url.connection,
        socket,
        disableOfflineQueue: true,
        // A command has no use for maintenance notifications, and node-redis 6 looks the host of
        // a bracketed IPv6 URL up in DNS, brackets and all, to enable them.
        maintNotifications: 'disabled',
      });
  client.on('error', () => {}); // connect() rejects with the reason; nothing else to do with it
  const connecting: Promise<unknown> = client.connect();
  connecting.catch(() => {}); // past the deadline it rejects when destroyed: nobody waits then
  try {
    await within(connecting, REDIS_CONNECT_MS);
  } catch (error) {
    try {
      client.destroy();
    } catch {}
    throw new StoreError(
      'redis',
      `cannot connect to ${url.server ?? url.label} (${reasonOf(error)})`,
      {
        cause: error,
      },
    );
  }
  const store = redisStore({ client, prefix: url.prefix });
  return {
    store,
    kind: 'redis',
    label: url.label,
    client,
    close: () => client.close(),
    destroy: () => client.destroy(),
  };
}

async function openMemcached(url: StoreURL): Promise<OpenedStore> {
  const { default: memjs } = await loadDriver('memjs', 'memcached:', () => import('memjs'));
  const client = memjs.Client.create((url.servers ?? []).join(','), {
    username: url.username,
    password: url.password,
    timeout: 1,
    conntimeout: 2,
    retries: 1,
    logger: { log() {} },
  });
  const store = memcachedStore({ client, prefix: url.prefix });
  return {
    store,
    kind: 'memcached',
    label: url.label,
    client,
    close: async () => client.close(),
  };
}

/** The opener of each kind of store. */
export const OPENERS: Record<StoreKind, Opener> = {
  memory: openMemory,
  fs: openFiles,
  sqlite: openSQLite,
  redis: openRedis,
  postgres: openPostgres,
  mysql: openMySQL,
  memcached: openMemcached,
};
