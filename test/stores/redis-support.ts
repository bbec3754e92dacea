/** Helpers of the Redis store tests: clients, raw dumps, cleanup, a dedicated server. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';

export const HOST = '127.0.0.1';
export const SINGLE_PORT = 6379;
export const CLUSTER_PORTS = [7001, 7002, 7003];

/** A prefix no other test run uses, so parallel runs never see each other's keys. */
export function uniquePrefix(label: string): string {
  const random = globalThis.crypto.getRandomValues(new Uint8Array(6));
  return `pithos-test:${label}:${Buffer.from(random).toString('hex')}:`;
}

/** Fails (never skips) with a message that says how to start the service. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } catch (cause) {
    throw new Error(`${what} is not answering (run bash scripts/services.sh)`, { cause });
  } finally {
    clearTimeout(timer);
  }
}

const ignore = (): void => {};

/** A connected node-redis client; `bounded` sets the options that make an outage fail fast. */
export async function nodeRedis(port: number, bounded = false) {
  const client = createClient({
    socket: { host: HOST, port, connectTimeout: 500, reconnectStrategy: () => 100 },
    disableOfflineQueue: bounded,
  });
  client.on('error', ignore);
  await within(`Redis on ${HOST}:${port}`, 3_000, client.connect());
  return client;
}

/** A connected ioredis client; `bounded` sets the options that make an outage fail fast. */
export async function ioRedis(port: number, bounded = false): Promise<Redis> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    retryStrategy: () => 100,
    ...(bounded
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1_000 }
      : {}),
  });
  client.on('error', ignore);
  await within(`Redis on ${HOST}:${port}`, 3_000, client.connect());
  return client;
}

export async function nodeRedisCluster() {
  const cluster = createCluster({
    rootNodes: CLUSTER_PORTS.map((port) => ({ socket: { host: HOST, port } })),
  });
  cluster.on('error', ignore);
  await within('the Redis Cluster on 7001-7003', 5_000, cluster.connect());
  return cluster;
}

export async function ioRedisCluster(): Promise<Cluster> {
  const cluster = new Cluster(
    CLUSTER_PORTS.map((port) => ({ host: HOST, port })),
    { lazyConnect: true },
  );
  cluster.on('error', ignore);
  await within('the Redis Cluster on 7001-7003', 5_000, cluster.connect());
  return cluster;
}

/** Runs `body` with a plain connection to each of `ports`. */
async function eachNode(ports: number[], body: (node: Redis) => Promise<void>): Promise<void> {
  for (const port of ports) {
    const node = await ioRedis(port);
    try {
      await body(node);
    } finally {
      node.disconnect();
    }
  }
}

async function keysUnder(node: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Every key under `prefix` on `ports`, with its value, as raw bytes. */
export async function dumpKeys(ports: number[], prefix: string): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  await eachNode(ports, async (node) => {
    for (const key of await keysUnder(node, prefix)) {
      const type = await node.type(key);
      const values =
        type === 'zset' ? await node.zrangeBuffer(key, '0', '-1') : [await node.getBuffer(key)];
      parts.push(
        Buffer.from(`${key}\n`),
        ...values.flatMap((v) => (v ? [v, Buffer.from('\n')] : [])),
      );
    }
  });
  return Buffer.concat(parts);
}

/** Deletes every key under `prefix` on `ports`. */
export async function deleteKeys(ports: number[], prefix: string): Promise<void> {
  await eachNode(ports, async (node) => {
    for (const key of await keysUnder(node, prefix)) await node.del(key);
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function answers(port: number): Promise<boolean> {
  const socket = createConnection({ host: HOST, port });
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/** A redis-server of the tests' own on a free port, which they may stop and start. */
export interface DedicatedRedis {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function dedicatedRedis(): Promise<DedicatedRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'];
  const stop = async (): Promise<void> => {
    if (child === undefined || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    port,
    stop,
    async start() {
      child = spawn('redis-server', [...args, '--daemonize', 'no'], { stdio: 'ignore' });
      const started = child;
      let failed = false;
      started.on('error', () => {
        failed = true;
      });
      const deadline = Date.now() + 5_000;
      while (!(await answers(port))) {
        if (failed || started.exitCode !== null || Date.now() > deadline) {
          throw new Error(`redis-server did not start on port ${port}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
