/**
 * Fixtures of the memcached store tests: memjs clients, a raw text-protocol connection (to dump
 * keys and read TTLs the way an operator would), a dedicated memcached process the outage test
 * may kill, and a client wrapper that records every request frame. Not a test file itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import memjs from 'memjs';
import type { MemcachedClient } from '../../src/stores/memcached.ts';

/** The shared memcached that `scripts/services.sh` starts. */
export const SHARED_PORT = 11211;

/** A memjs client on 127.0.0.1:`port` that fails fast and logs nothing. */
export function memjsClient(port = SHARED_PORT): memjs.Client {
  return memjs.Client.create(`127.0.0.1:${port}`, {
    timeout: 0.5,
    conntimeout: 0.5,
    retries: 2,
    retry_delay: 0.05,
    logger: { log() {} },
  });
}

/** A unique key prefix, so runs sharing the memcached never see each other's records. */
export function uniquePrefix(): string {
  return `pithos-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}:`;
}

/** Sends one text-protocol command and collects the reply until `isComplete` says so. */
export async function textCommand(
  command: string,
  isComplete: (reply: string) => boolean,
  port = SHARED_PORT,
): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  socket.setTimeout(2_000, () => socket.destroy(new Error(`no reply to ${command}`)));
  const chunks: Buffer[] = [];
  try {
    await once(socket, 'connect');
    socket.write(`${command}\r\n`);
    for await (const chunk of socket) {
      chunks.push(chunk as Buffer);
      if (isComplete(Buffer.concat(chunks).toString('latin1'))) break;
    }
    return Buffer.concat(chunks);
  } finally {
    socket.destroy();
  }
}

/** Every key memcached holds, from `lru_crawler metadump all`. */
export async function allKeys(port = SHARED_PORT): Promise<string[]> {
  const reply = await textCommand(
    'lru_crawler metadump all',
    (text) => text.endsWith('END\r\n'),
    port,
  );
  return [...reply.toString('latin1').matchAll(/^key=(\S+)/gm)].map((match) =>
    decodeURIComponent(match[1] as string),
  );
}

/** The seconds memcached has left on `key` (`mg key t`), -1 for never, undefined when absent. */
export async function remainingTTL(key: string, port = SHARED_PORT): Promise<number | undefined> {
  const reply = (
    await textCommand(`mg ${key} t`, (text) => text.includes('\r\n'), port)
  ).toString();
  if (reply.startsWith('EN')) return undefined;
  const match = /^HD t(-?\d+)/.exec(reply);
  if (!match) throw new Error(`unexpected mg reply ${JSON.stringify(reply)}`);
  return Number(match[1]);
}

/** The raw bytes memcached holds under `key`, through a plain memjs client. */
export async function rawValue(client: memjs.Client, key: string): Promise<Buffer | null> {
  return (await client.get(key)).value;
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const socket = connect(port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      socket.destroy();
    }
  }
}

/** A memcached process of the test's own, on a free port, that it may stop and start again. */
export interface DedicatedMemcached {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts nothing yet; `extraArgs` go to memcached (such as `-C`, to disable CAS). */
export async function dedicatedMemcached(extraArgs: string[] = []): Promise<DedicatedMemcached> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  return {
    port,
    async start() {
      const args = ['-u', 'root', '-l', '127.0.0.1', '-p', String(port), '-U', '0', ...extraArgs];
      const started = spawn('memcached', args, { stdio: 'ignore' });
      child = started;
      const failed = once(started, 'error').then(([error]) => Promise.reject(error));
      failed.catch(() => {});
      await Promise.race([waitForPort(port), failed]);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null) return;
      const exited = once(running, 'exit');
      running.kill('SIGKILL');
      await exited;
    },
  };
}

/** One request the store sent, decoded from its binary-protocol frame. */
export interface SentFrame {
  opcode: number;
  key: string;
  /** The expiration of a set or add. */
  expiration?: number;
  /** Whether the request carried a CAS value. */
  hasCAS: boolean;
  /** The attempts the store allowed memjs (`undefined`: the client's `retries` option). */
  retries?: number;
}

/** Wraps a client so that every frame the store sends is recorded. */
export function recording(client: MemcachedClient): { client: MemcachedClient; sent: SentFrame[] } {
  const sent: SentFrame[] = [];
  const wrapper: MemcachedClient = {
    get seq() {
      return client.seq;
    },
    incrSeq: () => client.incrSeq(),
    perform(key, request, seq, callback, retries) {
      const frame = Buffer.from(request);
      const extras = frame.readUInt8(4);
      sent.push({
        opcode: frame.readUInt8(1),
        key: frame.subarray(24 + extras, 24 + extras + frame.readUInt16BE(2)).toString(),
        ...(extras === 8 ? { expiration: frame.readUInt32BE(28) } : {}),
        hasCAS: frame.readBigUInt64BE(16) !== 0n,
        ...(retries === undefined ? {} : { retries }),
      });
      client.perform(key, request, seq, callback, retries);
    },
  };
  return { client: wrapper, sent };
}
