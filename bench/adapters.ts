/**
 * What each framework adapter adds to a request, next to the framework without sessions and next
 * to that framework's most used session library, all in one run. Run with `npm run bench:adapters`.
 *
 * Every case is a server in its own process (`bench/adapter-servers/*.ts`), driven by autocannon
 * in this process as in `bench/http.ts`: servers pinned to CPU 1 and this process to CPU 0 where
 * `taskset` exists, 100 keep-alive connections to 127.0.0.1. Each case first gets a pool of 100
 * sessions, created through its own server (each library has its own cookies); every measured
 * request then carries one of them (each connection has sessions of its own, see `measureLoad` in
 * `bench/processes.ts`), so each request loads an existing session,
 * changes its counter and commits it. A ceiling (`plain`) receives the pithos pool's requests and
 * touches no session. Before measuring, one request per case checks that a commit answers with
 * `Set-Cookie`; at the end, each server's count of created sessions must equal the pool.
 *
 * The added cost of a case is its server CPU per request minus that of its framework's ceiling.
 * Target (issue 4): pithos's added cost is at most half of the best library's on each framework.
 * A `floor` per framework gets the same requests as the ceiling and does, inline, only the
 * irreducible work of a cycle (`floorRequestWork` in `bench/floor.ts`): what it adds is the least
 * any library keeping encrypted sessions in a store can add there. A `required` per framework
 * does the floor's work plus only what issue 2 requires of every cycle (`requiredRequestWork`),
 * awaited before the response: what it adds is the least any implementation of issue 2 adds.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Request } from 'autocannon';
import { type Case, isReference, label, type Measurement, report } from './adapters-report.ts';
import type { ServerMessage, ServerStats } from './http-server.ts';
import {
  CONNECTIONS,
  cookieHeader,
  createSessions,
  measureLoad,
  messageReader,
  pinned,
  SESSIONS,
} from './processes.ts';
import { describeMachine } from './report.ts';

const SECONDS = Number(process.env.BENCH_ADAPTERS_SECONDS ?? 6);
const WARMUP_SECONDS = Number(process.env.BENCH_ADAPTERS_WARMUP ?? 2);
const ROUNDS = Number(process.env.BENCH_ADAPTERS_ROUNDS ?? 2);
/** Comma-separated frameworks to run (`express,fastify,koa,node`); all by default. */
const ONLY = process.env.BENCH_ADAPTERS_ONLY?.split(',');
/** A directory for `--cpu-prof` profiles of the servers; none by default. */
const PROFILE_DIR = process.env.BENCH_ADAPTERS_PROFILE;
/** pithos's added cost may be at most this share of the best library's. */
const TARGET = 0.5;

const CASES: Case[] = [
  { framework: 'express', name: 'plain', script: 'express.ts', mode: 'plain' },
  { framework: 'express', name: 'floor', script: 'express.ts', mode: 'floor' },
  { framework: 'express', name: 'required', script: 'express.ts', mode: 'required' },
  { framework: 'express', name: 'pithos', script: 'express.ts', mode: 'pithos' },
  { framework: 'express', name: 'express-session', script: 'express.ts', mode: 'express-session' },
  { framework: 'fastify', name: 'plain', script: 'fastify.ts', mode: 'plain' },
  { framework: 'fastify', name: 'floor', script: 'fastify.ts', mode: 'floor' },
  { framework: 'fastify', name: 'required', script: 'fastify.ts', mode: 'required' },
  { framework: 'fastify', name: 'pithos', script: 'fastify.ts', mode: 'pithos' },
  { framework: 'fastify', name: '@fastify/session', script: 'fastify-session.ts' },
  { framework: 'fastify', name: '@fastify/secure-session', script: 'fastify-secure-session.ts' },
  { framework: 'koa', name: 'plain', script: 'koa.ts', mode: 'plain' },
  { framework: 'koa', name: 'floor', script: 'koa.ts', mode: 'floor' },
  { framework: 'koa', name: 'required', script: 'koa.ts', mode: 'required' },
  { framework: 'koa', name: 'pithos', script: 'koa.ts', mode: 'pithos' },
  { framework: 'koa', name: 'koa-session (cookie)', script: 'koa.ts', mode: 'koa-session' },
  { framework: 'koa', name: 'koa-session (store)', script: 'koa.ts', mode: 'koa-session-store' },
  { framework: 'node', name: 'plain', script: 'node.ts', mode: 'plain' },
  { framework: 'node', name: 'floor', script: 'node.ts', mode: 'floor' },
  { framework: 'node', name: 'required', script: 'node.ts', mode: 'required' },
  { framework: 'node', name: 'pithos', script: 'node.ts', mode: 'pithos' },
  { framework: 'node', name: 'iron-session', script: 'node.ts', mode: 'iron-session' },
].filter((c) => ONLY === undefined || ONLY.includes(c.framework));

interface Server {
  case: Case;
  child: ChildProcess;
  port: number;
  requests: Request[];
}

const nextMessage = messageReader<ServerMessage>();

async function startServer(c: Case): Promise<Server> {
  const script = fileURLToPath(new URL(`./adapter-servers/${c.script}`, import.meta.url));
  // One directory per case: tsx's loader thread writes a profile of its own beside the main one.
  const profile =
    PROFILE_DIR === undefined
      ? []
      : [
          '--cpu-prof',
          `--cpu-prof-dir=${PROFILE_DIR}/${c.framework}-${c.name.replace(/\W+/g, '-')}`,
        ];
  const node = [
    process.execPath,
    ...profile,
    '--import',
    'tsx',
    script,
    ...(c.mode ? [c.mode] : []),
  ];
  const [command, ...args] = pinned ? ['taskset', '-c', '1', ...node] : node;
  const child = spawn(command as string, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await nextMessage(child, 'ready');
  return { case: c, child, port, requests: [] };
}

async function serverStats(server: Server): Promise<ServerStats> {
  const reply = nextMessage(server.child, 'stats');
  server.child.send('stats');
  return reply;
}

/**
 * Checks that a request with a pool cookie is answered `200` and, for a session case, that its
 * change was committed: it sent a `Set-Cookie` (the cookie-stored libraries, whose data is in
 * it), or the next request with the same cookie loads the change and counts one further (pithos
 * re-sends an unchanged token at most once per `touchInterval`).
 */
async function checkCommit(server: Server): Promise<void> {
  const request = async (): Promise<{ status: number; setCookie: boolean }> => {
    const response = await fetch(`http://127.0.0.1:${server.port}/`, {
      headers: server.requests[0]?.headers ?? {},
    });
    await response.text();
    return { status: response.status, setCookie: cookieHeader(response) !== undefined };
  };
  const first = await request();
  const statuses = [first.status];
  if (!isReference(server.case) && !first.setCookie) {
    const before = (await serverStats(server)).counter ?? 0;
    const second = await request();
    statuses.push(second.status);
    const after = (await serverStats(server)).counter ?? 0;
    if (after !== before + 1) {
      throw new Error(`${label(server.case)}: a loaded and changed session was not committed`);
    }
  }
  if (statuses.some((status) => status !== 200)) {
    throw new Error(`${label(server.case)}: answered ${statuses.join(', ')}, not 200`);
  }
}

function load(server: Server, seconds: number): Promise<Measurement> {
  const url = `http://127.0.0.1:${server.port}/`;
  return measureLoad(url, server.requests, seconds, () => serverStats(server));
}

/** Gives every server its requests: its own pool, or for a reference (ceiling, floor, required) the pithos pool's. */
async function preparePools(servers: Server[]): Promise<void> {
  for (const server of servers) {
    if (isReference(server.case)) continue;
    const cookies = await createSessions(server.port);
    server.requests = cookies.map((cookie) => ({ method: 'GET', path: '/', headers: { cookie } }));
  }
  for (const server of servers) {
    if (!isReference(server.case)) continue;
    const pithos = servers.find(
      (s) => s.case.framework === server.case.framework && s.case.name === 'pithos',
    );
    server.requests = pithos?.requests ?? [{ method: 'GET', path: '/' }];
  }
  for (const server of servers) await checkCommit(server);
}

async function main(): Promise<void> {
  if (pinned)
    execFileSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)], { stdio: 'ignore' });
  console.log(`start: ${describeMachine()}\n`);
  const servers: Server[] = [];
  try {
    for (const c of CASES) servers.push(await startServer(c));
    await preparePools(servers);
    for (const server of servers) await load(server, WARMUP_SECONDS);
    const results = new Map<Server, Measurement[]>(servers.map((server) => [server, []]));
    // Every round runs every case; odd rounds go backwards, so a drift of the machine during the
    // run touches the cases of one framework alike.
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) results.get(server)?.push(await load(server, SECONDS));
    }
    const created = new Map<Server, number>();
    for (const server of servers) created.set(server, (await serverStats(server)).created);
    report(results, created, {
      cases: CASES,
      target: TARGET,
      sessions: SESSIONS,
      connections: CONNECTIONS,
      seconds: SECONDS,
      rounds: ROUNDS,
      warmupSeconds: WARMUP_SECONDS,
      pinned,
    });
    console.log(`\nend: ${describeMachine()}`);
  } finally {
    for (const server of servers) server.child.send('exit');
  }
}

await main();
