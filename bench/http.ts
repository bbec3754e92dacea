/**
 * Requests per second of a `node:http` server doing one load + change + commit per request
 * (`withSession` from `pithos/node`, memory store), next to the same server without sessions, in
 * one run. Run with `npm run bench:http`.
 *
 * Each server runs in its own process (`bench/http-server.ts`); the load generator is autocannon
 * in this process. Where `taskset` exists and the machine has two cores or more, the servers are
 * pinned to CPU 1 and this process to CPU 0, so client and server never share a core. The client
 * first creates a pool of sessions and keeps their cookies; every measured request then carries one
 * of them (each connection has sessions of its own, see `measureLoad`), so each
 * request loads, changes and commits an existing session. Every server gets the very same requests.
 * Traffic goes to 127.0.0.1 only, for a fixed time per case after a warm-up.
 *
 * A third server, `floor`, does inline only the irreducible work of a cycle (open, parse, change,
 * stringify, seal, hash; `floorRequestWork` in `bench/floor.ts`): the share of plain's requests per
 * second that it reaches is the most any library doing that work can reach on the machine. A
 * fourth, `required`, adds to the floor only what issue 2 requires of every cycle
 * (`requiredRequestWork`): the most any implementation of the issue can reach.
 * `BENCH_CONNECTIONS` changes the number of connections (default 100).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Request } from 'autocannon';
import type { ServerMessage, ServerStats } from './http-server.ts';
import {
  CONNECTIONS,
  createSessions,
  type Measurement,
  measureLoad,
  messageReader,
  pinned,
  SESSIONS,
} from './processes.ts';
import { describeMachine, median, printTable } from './report.ts';

const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_HTTP_WARMUP ?? 3);
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 3);
/** The session server must reach this share of the plain server's requests per second. */
const TARGET = 0.6;
const MODES = ['plain', 'floor', 'required', 'session'] as const;
type Mode = (typeof MODES)[number];

interface Server {
  mode: Mode;
  child: ChildProcess;
  port: number;
}

const nextMessage = messageReader<ServerMessage>();

async function startServer(mode: Mode): Promise<Server> {
  const script = fileURLToPath(new URL('./http-server.ts', import.meta.url));
  // BENCH_PROFILE=<directory> writes a V8 CPU profile of each server there, for finding hot spots.
  const profile = process.env.BENCH_PROFILE;
  const profiling = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const node = [process.execPath, ...profiling, '--import', 'tsx', script, mode];
  const [command, ...args] = pinned ? ['taskset', '-c', '1', ...node] : node;
  const child = spawn(command as string, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await nextMessage(child, 'ready');
  return { mode, child, port };
}

async function serverStats(server: Server): Promise<ServerStats> {
  const reply = nextMessage(server.child, 'stats');
  server.child.send('stats');
  return reply;
}

function load(server: Server, requests: Request[], seconds: number): Promise<Measurement> {
  const url = `http://127.0.0.1:${server.port}/`;
  return measureLoad(url, requests, seconds, () => serverStats(server));
}

async function main(): Promise<void> {
  if (pinned)
    execFileSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)], { stdio: 'ignore' });
  console.log(`start: ${describeMachine()}\n`);
  const servers = await Promise.all(MODES.map((mode) => startServer(mode)));
  try {
    const session = servers.find((server) => server.mode === 'session') as Server;
    const cookies = await createSessions(session.port);
    const requests: Request[] = cookies.map((cookie) => ({
      method: 'GET',
      path: '/',
      headers: { cookie },
    }));
    for (const server of servers) await load(server, requests, WARMUP_SECONDS);
    const results = new Map<Mode, Measurement[]>(MODES.map((mode) => [mode, []]));
    // Rounds alternate the servers, so drift of the machine touches them alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const server of servers)
        results.get(server.mode)?.push(await load(server, requests, SECONDS));
    }
    const created = (await serverStats(session)).created;
    const floorReply = nextMessage(session.child, 'floor');
    session.child.send('floor');
    report(results, created, (await floorReply).cpu);
    console.log(`end: ${describeMachine()}`);
  } finally {
    for (const server of servers) server.child.send('exit');
  }
}

function report(results: Map<Mode, Measurement[]>, created: number, floorCPU: number): void {
  const rows: string[][] = [];
  for (const [mode, runs] of results) {
    for (const [index, run] of runs.entries()) {
      rows.push([
        mode,
        String(index + 1),
        run.rps.toFixed(0),
        run.serverCPU.toFixed(1),
        `${(run.serverLoad * 100).toFixed(0)}%`,
        `${(run.clientLoad * 100).toFixed(0)}%`,
        `${run.p50} / ${run.p99}`,
        String(run.failures),
      ]);
    }
  }
  printTable(
    [
      'server',
      'round',
      'req/s',
      'server µs CPU/req',
      'server CPU',
      'client CPU',
      'latency p50 / p99 ms',
      'failed',
    ],
    rows,
  );
  const rps = (mode: Mode): number => median((results.get(mode) ?? []).map((run) => run.rps));
  const cpu = (mode: Mode): number => median((results.get(mode) ?? []).map((run) => run.serverCPU));
  const ratio = rps('session') / rps('plain');
  console.log();
  printTable(
    ['server', 'req/s (median)', 'server µs CPU/req (median)'],
    MODES.map((mode) => [mode, rps(mode).toFixed(0), cpu(mode).toFixed(1)]),
  );
  console.log(
    `\nsession / plain: ${(ratio * 100).toFixed(0)}% of the requests per second ` +
      `(target ≥ ${TARGET * 100}%: ${ratio >= TARGET ? 'met' : 'MISSED'}); ` +
      `sessions created: ${created} (the pool of ${SESSIONS}, none during the runs).`,
  );
  // With the server's core saturated, requests per second are the inverse of CPU per request:
  // this ratio does not depend on how much of its core the server got from the machine.
  const capacity = cpu('plain') / cpu('session');
  console.log(
    `by server CPU per request: session at ${(capacity * 100).toFixed(0)}% of plain's capacity ` +
      `(${capacity >= TARGET ? 'would meet' : 'would miss'} the target with the server's core saturated).`,
  );
  // No session library can do less per request than the irreducible work of a cycle: with the
  // server's core saturated, plain / (plain + that work) is the best share any of them can reach.
  const bound = cpu('plain') / (cpu('plain') + floorCPU);
  console.log(
    `irreducible work of one 200 B cycle on the server's core: ${floorCPU.toFixed(1)} µs CPU; ` +
      `a server adding only that to plain's ${cpu('plain').toFixed(1)} µs would reach ` +
      `${(bound * 100).toFixed(0)}% of plain (${bound >= TARGET ? 'the target is within reach' : 'below the target: no library doing this work can reach it here'}); ` +
      `pithos adds ${(cpu('session') - cpu('plain')).toFixed(1)} µs, ${((cpu('session') - cpu('plain')) / floorCPU).toFixed(1)}× that work.`,
  );
  // The same irreducible work done inline in a request handler, measured as a server of its own:
  // where the work of a request runs, it costs more than in a tight loop (caches and branch
  // predictors are cold after the HTTP and socket work), and this is the best any library can do.
  const inServer = cpu('floor') - cpu('plain');
  const floorShare = rps('floor') / rps('plain');
  console.log(
    `the same work done inline by the "floor" server: ${inServer.toFixed(1)} µs CPU per request ` +
      `over plain, ${(floorShare * 100).toFixed(0)}% of plain's requests per second ` +
      `(${floorShare >= TARGET ? 'the target is within reach of a server doing only that work' : 'below the target: a server doing only the irreducible work misses it here'}); ` +
      `pithos's ${(cpu('session') - cpu('plain')).toFixed(1)} µs are ${((cpu('session') - cpu('plain')) / inServer).toFixed(1)}× that, ` +
      `and session / floor is ${((rps('session') / rps('floor')) * 100).toFixed(0)}% by requests per second.`,
  );
  // The floor plus only what issue 2 requires of every cycle (a second hash, the token format,
  // expiry in the seal, an async store, the commit awaited before the response): no
  // implementation of the issue can do less per request.
  const required = rps('required') / rps('plain');
  console.log(
    `the floor plus what issue 2 requires of every cycle ("required" server): ` +
      `${(cpu('required') - cpu('plain')).toFixed(1)} µs CPU per request over plain, ` +
      `${(required * 100).toFixed(0)}% of plain's requests per second ` +
      `(${required >= TARGET ? 'the target is within reach of such a server' : 'below the target: no implementation of the issue reaches it in this run'}); ` +
      `session / required is ${((rps('session') / rps('required')) * 100).toFixed(0)}% by requests per second.`,
  );
  console.log(
    `${CONNECTIONS} keep-alive connections, ${SECONDS} s per round, ${ROUNDS} rounds alternating, ` +
      `${WARMUP_SECONDS} s warm-up each; ${pinned ? 'servers on CPU 1, client on CPU 0' : 'not pinned to CPUs'}.`,
  );
}

await main();
