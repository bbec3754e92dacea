/**
 * What every HTTP benchmark runner shares: whether servers can be pinned to CPU 1 (and the
 * client to CPU 0), reading typed messages from a server process, the pool of sessions and the
 * measured load.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import autocannon, { type Client, type Request } from 'autocannon';

function canPin(): boolean {
  if (cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether `taskset` can keep servers and client on different cores. */
export const pinned: boolean = canPin();

/** A reader of the next message of a given type from a server process speaking `M`. */
export function messageReader<M extends { type: string }>(): <T extends M['type']>(
  child: ChildProcess,
  type: T,
) => Promise<Extract<M, { type: T }>> {
  return (child, type) =>
    new Promise((resolve, reject) => {
      const onMessage = (message: M): void => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as Extract<M, { type: typeof type }>);
      };
      const onExit = (code: number | null): void => reject(new Error(`server exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
}

/** Keep-alive connections of every HTTP benchmark's load generator. */
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
/** Sessions each server hands out before a run; every measured request carries one of them. */
export const SESSIONS = 100;

/** The `Cookie` header a browser would send back after this response: every cookie it set. */
export function cookieHeader(response: Response): string | undefined {
  const pairs = response.headers.getSetCookie().map((line) => line.slice(0, line.indexOf(';')));
  return pairs.length === 0 ? undefined : pairs.join('; ');
}

/** Creates a server's pool of sessions and returns their cookies, as a browser would keep them. */
export async function createSessions(port: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    await response.text();
    const cookie = cookieHeader(response);
    if (response.status !== 200 || cookie === undefined) throw new Error('no session cookie');
    cookies.push(cookie);
  }
  return cookies;
}

/** What a server reports of itself: CPU µs so far (every thread) and requests served. */
export interface ServerCounters {
  cpu: number;
  requests: number;
}

/** The figures of one load of one server. */
export interface Measurement {
  rps: number;
  /** µs of server CPU per request. */
  serverCPU: number;
  /** Share of one core the server used. */
  serverLoad: number;
  /** Share of one core this process (the load generator) used. */
  clientLoad: number;
  p50: number;
  p99: number;
  /** Errors, timeouts and non-2xx answers. */
  failures: number;
}

/** One load of one server, with its counters before and after. */
export interface LoadMeasurement<S extends ServerCounters> extends Measurement {
  before: S;
  after: S;
}

/**
 * Loads `url` for `seconds` with autocannon and reads the server's counters around the load.
 *
 * Each connection is one client with sessions of its own, as browsers are: connection `i` walks
 * round-robin through the requests `j` with `j % CONNECTIONS === i` (one session each with the
 * default 100 connections and 100 sessions), so no two requests in flight carry the same session.
 * Requests of one session that overlap make pithos's compare-and-set retry and merge, while the
 * floors' blind writes would lose one of the updates: a cost of correctness that the conformance
 * suite tests and no other server pays. With more connections than requests, connections share
 * them, each walking the whole list from its own starting point.
 */
export async function measureLoad<S extends ServerCounters>(
  url: string,
  requests: Request[],
  seconds: number,
  counters: () => Promise<S>,
): Promise<LoadMeasurement<S>> {
  let nextClient = 0;
  const setupClient = (client: Client): void => {
    const index = nextClient++;
    if (CONNECTIONS <= requests.length) {
      client.setRequests(requests.filter((_, j) => j % CONNECTIONS === index % CONNECTIONS));
    } else {
      const start = index % requests.length;
      client.setRequests([...requests.slice(start), ...requests.slice(0, start)]);
    }
  };
  const before = await counters();
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests,
    setupClient,
  });
  const wall = (performance.now() - started) * 1000;
  const client = process.cpuUsage(clientBefore);
  const after = await counters();
  return {
    rps: result.requests.total / result.duration,
    serverCPU: (after.cpu - before.cpu) / (after.requests - before.requests),
    serverLoad: (after.cpu - before.cpu) / wall,
    clientLoad: (client.user + client.system) / wall,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx,
    before,
    after,
  };
}
