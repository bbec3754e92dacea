/**
 * The client side of the HTTP part of `bench/stores.ts`: starts the servers of
 * `bench/stores-server.ts` (pinned to CPU 1 where `taskset` exists, as `bench/http.ts` does), gives
 * each a pool of sessions, and loads them with autocannon on 127.0.0.1 for a fixed time.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon, { type Client, type Request } from 'autocannon';
import { messageReader, pinned } from './processes.ts';
import type { StoreServerMessage, StoreServerStats } from './stores-server.ts';

const CONNECTIONS = 100;
const SESSIONS = 100;

/** One running server and the pool of session cookies it gave out. */
export interface StoreServer {
  mode: string;
  child: ChildProcess;
  port: number;
  /** Bytes of pithos's sealed record of the benchmark's data (the floors' record size). */
  recordSize: number;
  cookies: string[];
}

/** What one timed load of one server measured. */
export interface Measurement {
  rps: number;
  /** µs of server CPU per request. */
  serverCPU: number;
  /** Share of one core the server used. */
  serverLoad: number;
  /** Store writes per request (pithos's store calls or the floor's raw writes). */
  writes: number;
  p50: number;
  p99: number;
  failures: number;
}

export { pinned };

/** Pins this process (the load generator) to CPU 0 when the servers are pinned to CPU 1. */
export function pinClient(): void {
  if (pinned) execFileSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)]);
}

/** Lets this process, and the processes it starts from now on, run on every CPU again. */
export function unpinClient(): void {
  const all = `0-${cpus().length - 1}`;
  if (pinned) execFileSync('taskset', ['-a', '-c', '-p', all, String(process.pid)]);
}

const nextMessage = messageReader<StoreServerMessage>();

/** Creates the pool of sessions and returns their cookies, as a browser would keep them. */
async function createSessions(port: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    await response.text();
    const [setCookie] = response.headers.getSetCookie();
    if (response.status !== 200 || setCookie === undefined) throw new Error('no session cookie');
    cookies.push(setCookie.slice(0, setCookie.indexOf(';')));
  }
  return cookies;
}

/** Starts the server of `mode` and creates its pool of sessions. */
export async function startServer(mode: string, directory?: string): Promise<StoreServer> {
  const script = fileURLToPath(new URL('./stores-server.ts', import.meta.url));
  const node = [
    process.execPath,
    '--import',
    'tsx',
    script,
    mode,
    ...(directory ? [directory] : []),
  ];
  const [command, ...args] = pinned ? ['taskset', '-c', '1', ...node] : node;
  const child = spawn(command as string, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port, recordSize } = await nextMessage(child, 'ready');
  return { mode, child, port, recordSize, cookies: await createSessions(port) };
}

/** The server's CPU time and counters so far. */
export async function serverStats(server: StoreServer): Promise<StoreServerStats> {
  const reply = nextMessage(server.child, 'stats');
  server.child.send('stats');
  return reply;
}

/** Loads `server` on `path` for `seconds` with its own pool of sessions, round-robin. */
export async function load(
  server: StoreServer,
  path: string,
  seconds: number,
): Promise<Measurement> {
  const requests: Request[] = server.cookies.map((cookie) => ({
    method: 'GET',
    path,
    headers: { cookie },
  }));
  let nextClient = 0;
  // Each connection walks the whole pool, starting at its own session.
  const setupClient = (client: Client): void => {
    const start = nextClient++ % requests.length;
    client.setRequests([...requests.slice(start), ...requests.slice(0, start)]);
  };
  const before = await serverStats(server);
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${path}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests,
    setupClient,
  });
  const wall = (performance.now() - started) * 1000;
  const after = await serverStats(server);
  const served = after.requests - before.requests;
  return {
    rps: result.requests.total / result.duration,
    serverCPU: (after.cpu - before.cpu) / served,
    serverLoad: (after.cpu - before.cpu) / wall,
    writes: (after.writes - before.writes) / served,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx + (after.missing - before.missing),
  };
}

/** Stops a server (it closes its connections and exits). */
export function stopServer(server: StoreServer): void {
  if (server.child.connected) server.child.send('exit');
}

export { CONNECTIONS, SESSIONS };
