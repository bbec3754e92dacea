/**
 * The Redis store: sealed records in Redis or Redis Cluster, expired by Redis itself. Available
 * from `pithos/redis`.
 *
 * Bring your own connected client: node-redis v5+ (`createClient`, `createCluster`) or ioredis
 * v5+ (`new Redis`, `new Cluster`); Redis 6.2 or later. Key layout, under `prefix`:
 * - `${prefix}${storeKey}`: the sealed record, a binary string with a TTL up to its expiry;
 * - `${prefix}user:${userKey}`: the per-user index, a sorted set of store keys scored by expiry,
 *   itself with a TTL a little past its latest member's.
 *
 * Every command touches one key, so nothing here needs keys to share a hash slot in Cluster.
 *
 * @module
 */
import { ConfigError, StoreError } from '../core/errors.ts';
import {
  MAX_TIMEOUT_MS,
  type Store,
  type StoreSetOptions,
  type StoreStats,
} from '../core/store.ts';
import { isStoreKey, isUserKey } from '../core/token.ts';
import {
  type Deadline,
  type IORedisClient,
  type NodeRedisClient,
  type RedisArgument,
  type RedisClient,
  type RedisConnection,
  redisConnection,
  redisScript,
} from './redis-client.ts';

export type {
  IORedisClient,
  NodeRedisClient,
  NodeRedisCluster,
  NodeRedisCommandOptions,
  RedisArgument,
  RedisClient,
} from './redis-client.ts';

/** Options of `redisStore`. */
export interface RedisStoreOptions {
  /**
   * Your connected client: a node-redis v5+ client or cluster, or an ioredis v5+ `Redis` or
   * `Cluster`. The store never connects, closes or configures it: its own options decide how
   * fast a command fails while Redis is down (see `docs/stores/redis.md`). Required.
   *
   * @example `createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true })`
   */
  client: RedisClient;
  /**
   * Prepended to every key the store writes. Avoid `{…}` in it: a hash tag would put every key
   * in one Cluster slot. Default `'pithos:'`.
   *
   * @example `'shop:sessions:'`
   */
  prefix?: string;
  /**
   * Most milliseconds one store operation may take; past it, it fails with a `StoreError`
   * whatever the client's own settings, so no request hangs on a Redis that does not answer.
   * Default `2000`.
   *
   * @example `500`
   */
  timeoutMs?: number;
  /**
   * Milliseconds since the epoch: the time the records' `expiresAt` counts in, from which each
   * record's TTL is worked out (Redis then counts it down in real time). Inject the manager's
   * clock in tests. Default `Date.now`.
   *
   * @example `() => fakeNow`
   */
  clock?: () => number;
}

/** A Redis store, with compare-and-set and a per-user index; expiry is native, so no `prune`. */
export interface RedisStore extends Required<Omit<Store, 'prune' | 'close'>> {
  /** The prefix of every key the store writes. */
  readonly prefix: string;
  /**
   * Counts the records under the prefix and their bytes, with SCAN on every master and STRLEN
   * (`pithos stats`); no `expired`: Redis removes expired keys itself. For operators: it walks the
   * whole keyspace, and counts drift while applications write.
   */
  stats(): Promise<Omit<StoreStats, 'expired'>>;
}

/** User keys come from the core as hex or base64url hashes; anything else is refused. */

/** How long a user index outlives its latest member, to cover the time between two commands. */
const INDEX_MARGIN_MS = 60_000;

/**
 * ARGV: whether a record is expected ('1'), the expected record, the new value (see `toValue`),
 * its TTL in ms. The current value's header is cut off before comparing; a bare new value over a
 * value that names an owner gets an empty header, so that it no longer counts as that user's.
 */
const COMPARE_AND_SET = redisScript(`
local current = redis.call('GET', KEYS[1])
local owned = false
if current and string.byte(current, 1) == 0 then
  owned = string.byte(current, 2) > 0
  current = string.sub(current, 3 + string.byte(current, 2))
end
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
local value = ARGV[3]
if owned and string.byte(value, 1) ~= 0 then value = '\\0\\0' .. value end
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], value, 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1`);

/** ARGV: a bare value (no owner), its TTL in ms. Sets it, with an empty header over an owned value. */
const SET_UNOWNED = redisScript(`
local current = redis.call('GET', KEYS[1])
local value = ARGV[1]
if current and string.byte(current, 1) == 0 and string.byte(current, 2) > 0
    and string.byte(value, 1) ~= 0 then
  value = '\\0\\0' .. value
end
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return 1`);

/** The length of the record in a value (without its owner header), or -1 when there is none. */
const RECORD_LENGTH = redisScript(`
local length = redis.call('STRLEN', KEYS[1])
if length == 0 then return -1 end
local header = redis.call('GETRANGE', KEYS[1], 0, 1)
if string.byte(header, 1) == 0 then return length - 2 - string.byte(header, 2) end
return length`);

/** ARGV: a user key. Deletes the record unless its header names another owner; 1 if deleted. */
const DELETE_IF_OWNED = redisScript(`
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
if string.byte(value, 1) == 0 and string.sub(value, 3, 2 + string.byte(value, 2)) ~= ARGV[1] then
  return 0
end
return redis.call('DEL', KEYS[1])`);

/** ARGV: now, a store key, its expiry (both ms since the epoch), the index's TTL margin. */
const INDEX_ADD = redisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[2])
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local ttl = math.ceil(tonumber(latest[2]) - tonumber(ARGV[1]) + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return 1`);

/** ARGV: now. Drops the members past their expiry and returns the others. */
const INDEX_LIST = redisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)`);

function checkKey(key: string): void {
  if (!isStoreKey(key)) {
    throw new StoreError('redis', 'refused a key that is not a store key', {
      code: 'STORE_KEY_INVALID',
    });
  }
}

function checkUserKey(userKey: string | undefined, required: boolean): void {
  if (userKey === undefined && !required) return;
  if (!isUserKey(userKey)) {
    throw new StoreError('redis', 'refused a user key that is not a hex or base64url hash', {
      code: 'STORE_KEY_INVALID',
    });
  }
}

function checkOptions(options: RedisStoreOptions): { prefix: string; timeoutMs: number } {
  const { prefix = 'pithos:', timeoutMs = 2_000 } = options;
  if (typeof prefix !== 'string') {
    throw new ConfigError("redisStore: `prefix` must be a string, such as 'pithos:'");
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new ConfigError(
      `redisStore: \`timeoutMs\` must be a positive number of milliseconds, at most ${MAX_TIMEOUT_MS}`,
    );
  }
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw new ConfigError('redisStore: `clock` must be a function returning milliseconds');
  }
  return { prefix, timeoutMs };
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The value stored for a record. A record with an owner (a user key) gets a header: a 0 byte, the
 * owner's length, the owner's user key, then the record. The owner lets listing and deleting by
 * user skip a record that was written again for another user, or for none: its key stays in the
 * first user's index (in Cluster another slot) until it expires there. A record without an owner
 * is stored bare, as earlier versions stored every record (sealed records start with their format
 * version, 1), so that they can still read the sessions; only a bare record that itself starts
 * with 0 gets an empty header, and the scripts give one to a bare record written over an owned
 * value.
 */
function toValue(record: Uint8Array, userKey: string | undefined): Buffer {
  if (userKey === undefined && record[0] !== 0) return toBuffer(record);
  const owner = userKey ?? '';
  const value = Buffer.allocUnsafe(2 + owner.length + record.length);
  value[0] = 0;
  value[1] = owner.length;
  value.write(owner, 2, 'latin1');
  value.set(record, 2 + owner.length);
  return value;
}

/** The value Redis sent as bytes, or an error for anything else. */
function bytesOf(reply: unknown): Uint8Array {
  if (!(reply instanceof Uint8Array)) throw new TypeError('Redis sent a record that is not bytes');
  return reply;
}

/** The owner named by a value's header: `undefined` for none, `null` for a value without one. */
function ownerOf(value: Uint8Array): string | undefined | null {
  if (value[0] !== 0) return null;
  const length = value[1] ?? 0;
  return length === 0
    ? undefined
    : Buffer.from(value.buffer, value.byteOffset + 2, length).toString('latin1');
}

function toRecord(reply: unknown): Uint8Array | undefined {
  if (reply === null || reply === undefined) return undefined;
  const value = bytesOf(reply);
  const start = value[0] === 0 ? 2 + (value[1] ?? 0) : 0;
  return new Uint8Array(value.buffer, value.byteOffset + start, value.byteLength - start);
}

/** Milliseconds left until `expiresAt`; zero or less when the record is already expired. */
function ttlOf(expiresAt: number, now: number): number {
  if (!Number.isFinite(expiresAt)) throw new TypeError('expiresAt must be a finite number');
  return Math.ceil(expiresAt - now);
}

/**
 * Fails `operation` with a `StoreError` when it throws or outlasts `timeoutMs`. At the deadline
 * the deadline's signal aborts too (when a command asked for it), so that node-redis drops the
 * operation's commands still queued.
 */
function bounded<T>(
  what: string,
  timeoutMs: number,
  operation: (deadline: Deadline) => Promise<T>,
): Promise<T> {
  const fail = (error: unknown): StoreError => {
    const reason = error instanceof Error ? `: ${error.message}` : '';
    return new StoreError('redis', `${what} failed${reason}`, { cause: error });
  };
  return new Promise<T>((resolve, reject) => {
    let controller: AbortController | undefined;
    const deadline: Deadline = {
      signal: () => {
        controller ??= new AbortController();
        return controller.signal;
      },
    };
    const timer = setTimeout(() => {
      const error = new Error(`no reply within ${timeoutMs} ms`);
      reject(fail(error));
      controller?.abort(error);
    }, timeoutMs);
    timer.unref?.();
    let pending: Promise<T>;
    try {
      pending = operation(deadline);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(fail(error));
      },
    );
  });
}

type Send = (args: RedisArgument[]) => Promise<unknown>;

/** The `keyPrefix` an ioredis client adds to every key it sends (`''` for node-redis). */
function clientKeyPrefix(client: RedisClient): string {
  const keyPrefix = (client as { options?: { keyPrefix?: unknown } }).options?.keyPrefix;
  return typeof keyPrefix === 'string' ? keyPrefix : '';
}

/** One sender per master: every master of a Cluster (SCAN sees one node's keys), else the server. */
async function masters(client: RedisClient, redis: RedisConnection): Promise<Send[]> {
  const cluster = client as Partial<{ masters: unknown[]; nodeClient(node: unknown): unknown }>;
  if (redis.flavour === 'node-redis cluster' && Array.isArray(cluster.masters)) {
    return Promise.all(
      cluster.masters.map(async (node) => {
        const master = (await cluster.nodeClient?.(node)) as NodeRedisClient;
        return (args: RedisArgument[]) => master.sendCommand(args);
      }),
    );
  }
  const io = client as Partial<{ nodes(role: 'master'): IORedisClient[] }>;
  if (redis.flavour === 'ioredis' && typeof io.nodes === 'function') {
    return io
      .nodes('master')
      .map((node) => (args: RedisArgument[]) => node.callBuffer(String(args[0]), ...args.slice(1)));
  }
  return [(args) => redis.command('', args)];
}

/**
 * Creates a Redis store over your own client.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { redisStore } from 'pithos/redis';
 * const client = await createClient({ url: process.env.REDIS_URL }).on('error', log).connect();
 * const manager = createSessionManager({ store: redisStore({ client }), secret });
 * ```
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const { prefix, timeoutMs } = checkOptions(options);
  const clock = options.clock ?? Date.now;
  const redis: RedisConnection = redisConnection(options.client);
  const recordKey = (key: string): string => `${prefix}${key}`;
  const indexKey = (userKey: string): string => `${prefix}user:${userKey}`;
  const run = <T>(what: string, operation: (deadline: Deadline) => Promise<T>): Promise<T> =>
    bounded(what, timeoutMs, operation);

  /**
   * Adds `key` to its user's index. In Cluster the index and the record live in different
   * slots, so they are separate commands, and the index is always written first: it may list a
   * record that was never written or is gone (members are checked when listed and dropped at
   * their expiry), but a live record is never missing from it. `GT` keeps the latest expiry when
   * two writes of one record race, so a member never leaves the index before its record.
   */
  async function index(
    key: string,
    setOptions: StoreSetOptions,
    now: number,
    deadline: Deadline,
  ): Promise<void> {
    if (setOptions.userKey === undefined) return;
    const args = [String(now), key, String(setOptions.expiresAt), String(INDEX_MARGIN_MS)];
    await redis.script(INDEX_ADD, indexKey(setOptions.userKey), args, deadline);
  }

  /** The index's members not yet past their expiry (their records may be gone). */
  async function members(userKey: string, deadline: Deadline): Promise<string[]> {
    const reply = await redis.script(INDEX_LIST, indexKey(userKey), [String(clock())], deadline);
    const names = Array.isArray(reply) ? reply.map(String) : [];
    return names.filter((name) => isStoreKey(name));
  }

  // Each record is its own key, in its own slot: one command per record, sent concurrently.
  const each = <T>(keys: string[], command: string, deadline: Deadline): Promise<T[]> =>
    Promise.all(
      keys.map((key) => redis.command(recordKey(key), [command, recordKey(key)], deadline)),
    ) as Promise<T[]>;

  /** Counts the records on one master, a SCAN page at a time (a key seen twice counts twice). */
  async function count(send: Send, totals: { records: number; bytes: number }): Promise<void> {
    // ioredis adds its own `keyPrefix` to every key it sends, but not to a SCAN pattern, and SCAN
    // returns the names with it.
    const full = `${clientKeyPrefix(options.client)}${prefix}`;
    const match = `${full.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const page = (await bounded('stats', timeoutMs, () =>
        send(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000']),
      )) as [unknown, unknown[]];
      cursor = String(page[0]);
      const keys = page[1]
        .map((name) => String(name).slice(full.length))
        .filter((key) => isStoreKey(key));
      const lengths = await run('stats', (deadline) =>
        Promise.all(keys.map((key) => redis.script(RECORD_LENGTH, recordKey(key), [], deadline))),
      );
      for (const length of lengths.map(Number)) {
        // -1: the record expired or was deleted since the SCAN.
        if (length >= 0) {
          totals.records++;
          totals.bytes += length;
        }
      }
    } while (cursor !== '0');
  }

  return {
    name: 'redis',
    prefix,
    async get(key) {
      checkKey(key);
      return run('get', async (deadline) =>
        toRecord(await redis.command(recordKey(key), ['GET', recordKey(key)], deadline)),
      );
    },
    async set(key, record, setOptions) {
      checkKey(key);
      checkUserKey(setOptions.userKey, false);
      await run('set', async (deadline) => {
        const now = clock();
        const ttl = ttlOf(setOptions.expiresAt, now);
        const name = recordKey(key);
        // A record already past its expiry must read as absent: Redis refuses a TTL of 0 or less.
        if (ttl <= 0) {
          await redis.command(name, ['DEL', name], deadline);
          return;
        }
        await index(key, setOptions, now, deadline);
        const value = toValue(record, setOptions.userKey);
        if (setOptions.userKey === undefined) {
          await redis.script(SET_UNOWNED, name, [value, String(ttl)], deadline);
        } else {
          await redis.command(name, ['SET', name, value, 'PX', String(ttl)], deadline);
        }
      });
    },
    async delete(key) {
      checkKey(key);
      await run('delete', (deadline) =>
        redis.command(recordKey(key), ['DEL', recordKey(key)], deadline),
      );
    },
    async compareAndSet(key, expected, record, setOptions) {
      checkKey(key);
      checkUserKey(setOptions.userKey, false);
      return run('compareAndSet', async (deadline) => {
        const now = clock();
        const ttl = ttlOf(setOptions.expiresAt, now);
        if (ttl > 0) await index(key, setOptions, now, deadline);
        const args = [
          expected === undefined ? '0' : '1',
          expected === undefined ? '' : toBuffer(expected),
          toValue(record, setOptions.userKey),
          String(ttl),
        ];
        return (await redis.script(COMPARE_AND_SET, recordKey(key), args, deadline)) === 1;
      });
    },
    async listByUser(userKey) {
      checkUserKey(userKey, true);
      return run('listByUser', async (deadline) => {
        const keys = await members(userKey, deadline);
        const values = await each<unknown>(keys, 'GET', deadline);
        return keys.filter((_, i) => {
          const value = values[i];
          if (value === null || value === undefined) return false;
          const owner = ownerOf(bytesOf(value));
          return owner === null || owner === userKey;
        });
      });
    },
    async deleteByUser(userKey) {
      checkUserKey(userKey, true);
      // Members stay in the index until their expiry: removing them here could drop the member
      // of a record that a concurrent `set` is writing again (see `index`).
      return run('deleteByUser', async (deadline) => {
        const keys = await members(userKey, deadline);
        const deleted = await Promise.all(
          keys.map((key) => redis.script(DELETE_IF_OWNED, recordKey(key), [userKey], deadline)),
        );
        return deleted.reduce<number>((sum, count) => sum + Number(count), 0);
      });
    },
    async stats() {
      const totals = { records: 0, bytes: 0 };
      for (const send of await run('stats', () => masters(options.client, redis))) {
        await count(send, totals);
      }
      return totals;
    },
  };
}
