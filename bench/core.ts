/**
 * CPU cost of one load + change + commit cycle against the memory store, next to the
 * irreducible work of such a cycle, in one run. Run with `npm run bench:core`.
 *
 * For each data size and crypto path, one manager and one session created beforehand; a cycle is
 * `manager.load(cookie)`, `session.set('counter', n)`, `manager.commit(session)`. The irreducible
 * work at that size is one libsodium secretbox open and seal (sodium-native directly), one
 * JSON.parse and JSON.stringify of the same data and one keyed BLAKE2b hash (32 bytes out, as the
 * per-request key derivation). CPU time comes from `process.cpuUsage()` (every thread of the
 * process, so garbage collection counts), over many iterations after a warm-up, as the median of
 * several rounds; the wall time is reported too.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSessionManager, type SessionManager } from '../dist/index.js';
import { memoryStore } from '../dist/stores/memory.js';
import { BENCH_SECRET, type BenchData, sampleData } from './data.ts';
import { floor, type Work } from './floor.ts';
import { describeMachine, median, printTable } from './report.ts';

const SIZES = [200, 2_000, 20_000];
const PATHS = ['native', 'portable'] as const;
/** Targets on the native path: pithos cycle / irreducible work, by data size. */
const TARGETS = new Map([
  [200, 2.5],
  [2_000, 2],
]);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** Milliseconds of CPU each round aims for. */
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 400);

interface Sample {
  cpu: number;
  wall: number;
}

/** µs of CPU and of wall time per iteration of one run of `work`. */
async function sample(work: Work, iterations: number): Promise<Sample> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await work(iterations);
  const wall = Number(process.hrtime.bigint() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / iterations, wall: wall / iterations };
}

/** Warms `work` up for a while and returns how many iterations fill one round. */
async function calibrate(work: Work): Promise<number> {
  let iterations = 100;
  for (;;) {
    const { cpu } = await sample(work, iterations);
    if (cpu * iterations > ROUND_MS * 250) {
      return Math.max(100, Math.round((ROUND_MS * 1000) / cpu));
    }
    iterations *= 4;
  }
}

/** A manager with one stored session of `data`, and a loop of cycles on that session. */
async function pithosCycle(data: BenchData, crypto: 'native' | 'portable'): Promise<Work> {
  const manager: SessionManager<BenchData> = createSessionManager<BenchData>({
    store: memoryStore(),
    secret: BENCH_SECRET,
    crypto,
  });
  const first = await manager.load(undefined);
  for (const [key, value] of Object.entries(data)) first.set(key, value);
  const setCookie = await manager.commit(first);
  if (setCookie === undefined) throw new Error('the first commit sent no cookie');
  const cookie = setCookie.slice(0, setCookie.indexOf(';'));
  let n = 0;
  return async (iterations) => {
    for (let i = 0; i < iterations; i++) {
      const session = await manager.load(cookie);
      if (session.isNew) throw new Error('the session did not load');
      session.set('counter', ++n);
      await manager.commit(session);
    }
  };
}

type Path = (typeof PATHS)[number];

/** One measured loop: µs of CPU and of wall time per iteration, one figure per round. */
interface MeasuredCase {
  size: number;
  label: string;
  cpu: number[];
  wall: number[];
}

interface Case extends MeasuredCase {
  work: Work;
  iterations: number;
}

/** Measures one crypto path and the irreducible work at every size, in this process. */
async function measurePath(path: Path): Promise<MeasuredCase[]> {
  const cases: Case[] = [];
  for (const size of SIZES) {
    const data = sampleData(size);
    const parts = floor(data);
    const works: [string, Work][] = [
      [path, await pithosCycle(data, path)],
      ['floor', parts.all],
      ['floor:seal', parts.seal],
      ['floor:json', parts.json],
      ['floor:hash', parts.hash],
    ];
    for (const [label, work] of works) {
      cases.push({ size, label, work, iterations: await calibrate(work), cpu: [], wall: [] });
    }
  }
  // Rounds interleave every case, so drift of the machine touches all of them alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const entry of cases) {
      const { cpu, wall } = await sample(entry.work, entry.iterations);
      entry.cpu.push(cpu);
      entry.wall.push(wall);
    }
  }
  return cases.map(({ size, label, cpu, wall }) => ({ size, label, cpu, wall }));
}

/**
 * Each crypto path runs in a process of its own, as in an application, which uses one: run in
 * one process, the second path's functions make the shared call sites polymorphic and slow the
 * first one down by a third, which no application would see.
 */
function measureInChild(path: Path): MeasuredCase[] {
  const script = fileURLToPath(import.meta.url);
  const output = execFileSync(process.execPath, ['--import', 'tsx', script, path], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(output) as MeasuredCase[];
}

async function main(): Promise<void> {
  const child = process.argv[2];
  if (child === 'native' || child === 'portable') {
    process.stdout.write(JSON.stringify(await measurePath(child)));
    return;
  }
  console.log(`start: ${describeMachine()}\n`);
  const measured = new Map(PATHS.map((path) => [path, measureInChild(path)]));
  report(measured);
  console.log(`end: ${describeMachine()}`);
}

function report(measured: Map<Path, MeasuredCase[]>): void {
  const find = (path: Path, size: number, label: string): MeasuredCase => {
    const found = measured.get(path)?.find((entry) => entry.size === size && entry.label === label);
    if (found === undefined) throw new Error(`no case ${label} at ${size}`);
    return found;
  };
  const us = (value: number): string => value.toFixed(2);
  const rows: string[][] = [];
  for (const size of SIZES) {
    const floorCPU = median(find('native', size, 'floor').cpu);
    for (const path of PATHS) {
      // Each path against the irreducible work measured in its own process.
      const irreducible = find(path, size, 'floor');
      const entry = find(path, size, path);
      const cpu = median(entry.cpu);
      // Each round's cycle against the same round's irreducible work, then the median of those.
      const ratio = median(
        entry.cpu.map((value, round) => value / (irreducible.cpu[round] as number)),
      );
      const target = path === 'native' ? TARGETS.get(size) : undefined;
      const verdict =
        target === undefined ? '' : `≤ ${target}: ${ratio <= target ? 'met' : 'MISSED'}`;
      rows.push([
        `${size} B`,
        path,
        us(cpu),
        us(median(entry.wall)),
        us(floorCPU),
        `${ratio.toFixed(2)}×`,
        verdict,
      ]);
    }
  }
  printTable(
    ['data', 'crypto', 'µs CPU/cycle', 'µs wall/cycle', 'irreducible µs CPU', 'ratio', 'target'],
    rows,
  );
  console.log();
  const parts: string[][] = SIZES.map((size) => [
    `${size} B`,
    ...['floor:seal', 'floor:json', 'floor:hash', 'floor'].map((label) =>
      us(median(find('native', size, label).cpu)),
    ),
  ]);
  printTable(['data', 'secretbox open+seal', 'JSON parse+stringify', 'BLAKE2b', 'together'], parts);
  console.log(
    `\nµs per cycle: median of ${ROUNDS} rounds of ~${ROUND_MS} ms of CPU each, after a warm-up; ` +
      'the irreducible work is measured in the same rounds (sodium-native for both crypto paths), ' +
      'and the ratio is the median of the ratios of each round. Each crypto path runs in a ' +
      "process of its own; the irreducible work shown is the native process's.\n",
  );
}

await main();
