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
import { createRequire } from 'node:module';
import { createSessionManager, type SessionManager } from '../src/index.ts';
import { memoryStore } from '../src/stores/memory.ts';
import { BENCH_SECRET, type BenchData, sampleData } from './data.ts';
import { describeMachine, median, printTable } from './report.ts';

/** The few sodium-native functions the floor uses. */
interface Sodium {
  randombytes_buf(buffer: Uint8Array): void;
  crypto_generichash(output: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
}

const sodium = createRequire(import.meta.url)('sodium-native') as Sodium;

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

/** A loop of `iterations` of the measured work. */
type Work = (iterations: number) => unknown;

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

/** The parts of the irreducible work at one size, each as a loop, and all of them together. */
function floor(data: BenchData): Record<'seal' | 'json' | 'hash' | 'all', Work> {
  const json = JSON.stringify(data);
  const plaintext = new TextEncoder().encode(json);
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(24);
  sodium.randombytes_buf(key);
  sodium.randombytes_buf(nonce);
  const box = new Uint8Array(plaintext.length + 16);
  sodium.crypto_secretbox_easy(box, plaintext, nonce, key);
  const hashInput = new Uint8Array(32);
  sodium.randombytes_buf(hashInput);
  let sink = 0;
  const openSeal = (): void => {
    const opened = new Uint8Array(box.length - 16);
    if (!sodium.crypto_secretbox_open_easy(opened, box, nonce, key)) throw new Error('open failed');
    const sealed = new Uint8Array(opened.length + 16);
    sodium.crypto_secretbox_easy(sealed, opened, nonce, key);
    sink += sealed[0] as number;
  };
  const parseStringify = (): void => {
    sink += JSON.stringify(JSON.parse(json)).length;
  };
  const hash = (): void => {
    const output = new Uint8Array(32);
    sodium.crypto_generichash(output, hashInput, key);
    sink += output[0] as number;
  };
  const loop =
    (...steps: (() => void)[]): Work =>
    (iterations) => {
      for (let i = 0; i < iterations; i++) for (const step of steps) step();
      return sink;
    };
  return {
    seal: loop(openSeal),
    json: loop(parseStringify),
    hash: loop(hash),
    all: loop(openSeal, parseStringify, hash),
  };
}

interface Case {
  size: number;
  label: string;
  work: Work;
  iterations: number;
  cpu: number[];
  wall: number[];
}

async function main(): Promise<void> {
  console.log(`start: ${describeMachine()}\n`);
  const cases: Case[] = [];
  for (const size of SIZES) {
    const data = sampleData(size);
    const works: [string, Work][] = [];
    for (const path of PATHS) works.push([path, await pithosCycle(data, path)]);
    const parts = floor(data);
    works.push(
      ['floor', parts.all],
      ['floor:seal', parts.seal],
      ['floor:json', parts.json],
      ['floor:hash', parts.hash],
    );
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
  report(cases);
  console.log(`end: ${describeMachine()}`);
}

function report(cases: Case[]): void {
  const find = (size: number, label: string): Case => {
    const found = cases.find((entry) => entry.size === size && entry.label === label);
    if (found === undefined) throw new Error(`no case ${label} at ${size}`);
    return found;
  };
  const us = (value: number): string => value.toFixed(2);
  const rows: string[][] = [];
  for (const size of SIZES) {
    const irreducible = find(size, 'floor');
    const floorCPU = median(irreducible.cpu);
    for (const path of PATHS) {
      const entry = find(size, path);
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
      us(median(find(size, label).cpu)),
    ),
  ]);
  printTable(['data', 'secretbox open+seal', 'JSON parse+stringify', 'BLAKE2b', 'together'], parts);
  console.log(
    `\nµs per cycle: median of ${ROUNDS} rounds of ~${ROUND_MS} ms of CPU each, after a warm-up; ` +
      'the irreducible work is measured in the same rounds (sodium-native for both crypto paths), ' +
      'and the ratio is the median of the ratios of each round.\n',
  );
}

await main();
