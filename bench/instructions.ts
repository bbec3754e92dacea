/**
 * Machine instructions per load+change+commit cycle (memory store, native crypto, 200 B of data),
 * counted by valgrind's callgrind rather than timed: `npm run bench:instructions`. Next to it, the
 * same count for the floor's cycle (`floorRequestWork` in `bench/floor.ts`: the irreducible work
 * that `bench:http`'s floor server does per request, on records in a `Map`).
 *
 * Timings on this kind of machine move by 10 to 40 % between runs; an instruction count does not
 * depend on what else the machine is doing. It runs the cycle twice under callgrind, for two
 * lengths, and divides the difference of the totals by the difference of the lengths, so start-up,
 * module loading and warm-up cancel out. Node runs single-threaded with a fixed GC schedule and
 * fixed seeds, which makes the count repeat to within about 0.5 % (one concurrent compiler or GC
 * thread otherwise moves it by several percent). It counts work, not time: a cache miss and an
 * add are one instruction each. Use it to compare two versions of the code, side by side.
 *
 * `BENCH_INSTRUCTIONS_CYCLES` sets the two lengths (default `5000,25000`). Needs `valgrind`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSessionManager, type Session } from '../dist/index.js';
import { memoryStore } from '../dist/stores/memory.js';
import { BENCH_SECRET, type BenchData, sampleData } from './data.ts';
import { floorRequestWork } from './floor.ts';

const NODE_FLAGS = [
  '--single-threaded',
  '--predictable-gc-schedule',
  '--random-seed=1',
  '--hash-seed=1',
];
const SESSIONS = 100;

/** The child: `cycles` load+change+commit cycles over a pool of sessions. */
async function runCycles(cycles: number): Promise<void> {
  const manager = createSessionManager<BenchData>({
    store: memoryStore(),
    secret: BENCH_SECRET,
    crypto: 'native',
  });
  const cookies: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const fresh = await manager.load(undefined);
    for (const [key, value] of Object.entries(sampleData(200))) fresh.set(key, value);
    const setCookie = await manager.commit(fresh);
    cookies.push((setCookie as string).slice(0, (setCookie as string).indexOf(';')));
  }
  for (let i = 0; i < cycles; i++) {
    const session: Session<BenchData> = await manager.load(cookies[i % SESSIONS]);
    if (session.isNew) throw new Error('a pooled session did not load');
    session.set('counter', Number(session.get('counter') ?? 0) + 1);
    await manager.commit(session);
  }
}

/** The child: `cycles` of the floor's cycle over a pool of records, one await each as pithos. */
async function runFloorCycles(cycles: number): Promise<void> {
  const work = floorRequestWork(sampleData(200));
  const cookies = Array.from({ length: SESSIONS }, (_, i) => `${i}`.padStart(64, '0'));
  for (const cookie of cookies) work(cookie);
  for (let i = 0; i < cycles; i++) {
    work(cookies[i % SESSIONS] as string);
    await undefined;
  }
}

type Mode = 'cycles' | 'floor';

/** Total instructions callgrind counted for a child running `cycles` cycles. */
function countInstructions(mode: Mode, cycles: number): number {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      process.execPath,
      ...NODE_FLAGS,
      '--import',
      'tsx',
      script,
      mode,
      String(cycles),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const match = /Collected : (\d+)/.exec(child.stderr ?? '');
  if (child.status !== 0 || match === null) {
    throw new Error(`callgrind failed (${child.error ?? child.status}):\n${child.stderr}`);
  }
  return Number(match[1]);
}

if (process.argv[2] === 'cycles') {
  await runCycles(Number(process.argv[3]));
} else if (process.argv[2] === 'floor') {
  await runFloorCycles(Number(process.argv[3]));
} else {
  const [short, long] = (process.env.BENCH_INSTRUCTIONS_CYCLES ?? '5000,25000')
    .split(',')
    .map(Number) as [number, number];
  const started = Date.now();
  const perCycle = (mode: Mode): number =>
    (countInstructions(mode, long) - countInstructions(mode, short)) / (long - short);
  const pithos = perCycle('cycles');
  const floor = perCycle('floor');
  console.log(`node ${process.version}, ${NODE_FLAGS.join(' ')}`);
  console.log(
    `load+change+commit, memory store, native crypto, 200 B: ${Math.round(pithos)} instructions per cycle`,
  );
  console.log(
    `the floor's cycle (bench:http's floor server, without HTTP): ${Math.round(floor)} instructions; ` +
      `pithos ${(pithos / floor).toFixed(2)}× the floor`,
  );
  console.log(
    `(callgrind, ${short} and ${long} cycles differenced, ${Math.round((Date.now() - started) / 1000)} s)`,
  );
}
