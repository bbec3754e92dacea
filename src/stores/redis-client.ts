/**
 * The client shim of `pithos/redis`: the few methods the Redis store calls on a node-redis or
 * ioredis client, and the one place where the two libraries differ. Internal; `pithos/redis`
 * re-exports the client types.
 *
 * Every command the store sends touches exactly one key, named first, so the same code runs on a
 * single node and on Redis Cluster: node-redis's cluster routes by the `firstKey` argument,
 * ioredis's by the key positions it knows for each command (EVAL and EVALSHA included).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../core/errors.ts';

/** One word of a Redis command. */
export type RedisArgument = string | Buffer;

/** The options pithos passes to node-redis's `sendCommand`. */
export interface NodeRedisCommandOptions {
  /** Maps RESP types to JavaScript types; pithos asks for Buffers for bulk strings. */
  typeMapping?: Record<number, unknown>;
  /** node-redis rejects the command, and drops it if still queued, when this signal aborts. */
  abortSignal?: AbortSignal;
}

/**
 * The deadline of one store operation: `signal()` gives an abort signal that aborts when the
 * operation times out, made on first use.
 */
export interface Deadline {
  signal(): AbortSignal;
}

/** What pithos calls on a node-redis v5+ client (`createClient()`). */
export interface NodeRedisClient {
  /** Whether the client is connected and sends commands at once (node-redis v5+). */
  readonly isReady?: boolean;
  /** Sends one command, name first. */
  sendCommand(args: RedisArgument[], options?: NodeRedisCommandOptions): Promise<unknown>;
}

/** What pithos calls on a node-redis v5+ cluster (`createCluster()`). */
export interface NodeRedisCluster {
  /** Sends one command, name first, to the master of `firstKey`'s slot. */
  sendCommand(
    firstKey: RedisArgument | undefined,
    isReadonly: boolean | undefined,
    args: RedisArgument[],
    options?: NodeRedisCommandOptions,
  ): Promise<unknown>;
  /** Never called: its presence tells a node-redis cluster from a single-node client. */
  getSlotRandomNode(slot: number): unknown;
  /** Whether the cluster is connected and sends commands at once (node-redis v5+). */
  readonly isReady?: boolean;
}

/** What pithos calls on an ioredis v5+ `Redis` or `Cluster`. */
export interface IORedisClient {
  /** Sends one command, replying with Buffers; a `Cluster` routes it by its key. */
  callBuffer(command: string, ...args: RedisArgument[]): Promise<unknown>;
}

/** A node-redis client or cluster, or an ioredis `Redis` or `Cluster`. */
export type RedisClient = NodeRedisClient | NodeRedisCluster | IORedisClient;

/** A Lua script, sent by its SHA-1 digest once Redis has it. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

/** Sends commands that each touch one key; bulk strings come back as Buffers. */
export interface RedisConnection {
  /** Which library the client comes from, for error messages. */
  readonly flavour: 'node-redis' | 'node-redis cluster' | 'ioredis';
  /**
   * Sends `args` (command name first), whose only key is `key`. When node-redis is not connected
   * and would queue the command, it gets the deadline's signal, so that it drops the command at
   * the deadline instead of sending it once it reconnects; ioredis has no such option.
   */
  command(key: string, args: RedisArgument[], deadline?: Deadline): Promise<unknown>;
  /** Runs `script` with `key` as its only key and `args` as its arguments. */
  script(
    script: RedisScript,
    key: string,
    args: RedisArgument[],
    deadline?: Deadline,
  ): Promise<unknown>;
}

type Send = (key: string, args: RedisArgument[], deadline?: Deadline) => Promise<unknown>;

/** node-redis's `RESP_TYPES.BLOB_STRING` ('$'): bulk strings as Buffers, never decoded as UTF-8. */
const BUFFERS = { 36: Buffer };

function hasMethod(client: unknown, name: string): boolean {
  return typeof (client as Record<string, unknown> | null)?.[name] === 'function';
}

const BUFFER_REPLIES: NodeRedisCommandOptions = { typeMapping: BUFFERS };
/** A client for which every command takes the deadline's signal. */
const NOT_READY = { isReady: false };

/**
 * node-redis's options for one command. A connected client writes a command to its socket at
 * once, where no abort can reach it, so only a client that is not ready (reconnecting, with
 * commands in its offline queue) gets the deadline's signal. Not node-redis's own `timeout`: that
 * is an `AbortSignal.timeout` per command, whose timer cannot be cleared and fires long after the
 * reply, building a `DOMException` each time.
 */
function optionsFor(
  client: { readonly isReady?: boolean },
  deadline: Deadline | undefined,
): NodeRedisCommandOptions {
  if (deadline === undefined || client.isReady === true) return BUFFER_REPLIES;
  return { typeMapping: BUFFERS, abortSignal: deadline.signal() };
}

/** The per-library differences: how to detect the client, and how to send one command. */
function sendFor(client: RedisClient): [RedisConnection['flavour'], Send] {
  if (hasMethod(client, 'callBuffer')) {
    const ioredis = client as IORedisClient;
    return ['ioredis', (_key, [name, ...args]) => ioredis.callBuffer(name as string, ...args)];
  }
  if (hasMethod(client, 'sendCommand') && hasMethod(client, 'getSlotRandomNode')) {
    const cluster = client as NodeRedisCluster;
    // Reads go to masters too (isReadonly false): a replica may not have the latest write yet.
    // The deadline's signal always goes along: a cluster stays ready while one of its masters
    // is unreachable, and that master's commands wait in its own offline queue. (node-redis
    // drops the signal's listener once a command is written.)
    return [
      'node-redis cluster',
      (key, args, deadline) =>
        cluster.sendCommand(key, false, args, optionsFor(NOT_READY, deadline)),
    ];
  }
  if (hasMethod(client, 'getSentinelNode') || hasMethod(client, 'getMasterNode')) {
    throw new ConfigError(
      'redisStore: a node-redis Sentinel client (createSentinel) is not supported; ' +
        'give ioredis a `sentinels` list (new Redis({ sentinels, name })), or connect to the master',
    );
  }
  if (hasMethod(client, 'sendCommand')) {
    const single = client as NodeRedisClient;
    return [
      'node-redis',
      (_key, args, deadline) => single.sendCommand(args, optionsFor(single, deadline)),
    ];
  }
  throw new ConfigError(
    'redisStore: `client` must be a node-redis v5+ client or cluster (createClient, createCluster) ' +
      'or an ioredis v5+ Redis or Cluster',
  );
}

/** A script, with the digest Redis knows it by. */
export function redisScript(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Wraps the user's client; throws a `ConfigError` when it is neither node-redis nor ioredis. */
export function redisConnection(client: RedisClient): RedisConnection {
  const [flavour, send] = sendFor(client);
  return {
    flavour,
    command: send,
    async script(script, key, args, deadline) {
      try {
        return await send(key, ['EVALSHA', script.sha, '1', key, ...args], deadline);
      } catch (error) {
        // Each node caches scripts on its own and forgets them on restart: send the source once.
        if (!isNoScript(error)) throw error;
        return send(key, ['EVAL', script.source, '1', key, ...args], deadline);
      }
    },
  };
}
