/**
 * The client side of the HTTP part of `bench/stores.ts`: starts the servers of
 * `bench/stores-server.ts` (pinned to CPU 1 where `taskset` exists, as `bench/http.ts` does), gives
 * each a pool of sessions, and loads them with autocannon on 127.0.0.1 for a fixed time.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Request } from 'autocannon';
import {
  CONNECTIONS,
  createSessions,
  measureLoad,
  messageReader,
  pinned,
  SESSIONS,
} from './processes.ts';
import type { StoreServerMessage, StoreServerStats } from './stores-server.ts';

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

/** Starts the server of `mode` and creates its pool of sessions. */
export async function startServer(mode: string, directory?: string): Promise<StoreServer> {
  const script = fileURLToPath(new URL('./stores-server.ts', import.meta.url));
  // BENCH_PROFILE=<directory> writes a V8 CPU profile of each server there, for finding hot spots.
  const profile = process.env.BENCH_PROFILE;
  const profiling = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const node = [
    process.execPath,
    ...profiling,
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

/** Loads `server` on `path` for `seconds` with its own pool of sessions (see `measureLoad`). */
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
  const url = `http://127.0.0.1:${server.port}${path}`;
  const run = await measureLoad(url, requests, seconds, () => serverStats(server));
  const { before, after } = run;
  return {
    rps: run.rps,
    serverCPU: run.serverCPU,
    serverLoad: run.serverLoad,
    writes: (after.writes - before.writes) / (after.requests - before.requests),
    p50: run.p50,
    p99: run.p99,
    failures: run.failures + (after.missing - before.missing),
  };
}

/** Stops a server (it closes its connections and exits). */
export function stopServer(server: StoreServer): void {
  if (server.child.connected) server.child.send('exit');
}

export { CONNECTIONS, SESSIONS };
