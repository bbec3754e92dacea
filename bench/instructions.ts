/**
 * Machine instructions per load+change+commit cycle (memory store, native crypto, 200 B of data),
 * counted by valgrind's callgrind rather than timed: `npm run bench:instructions`.
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

/** Total instructions callgrind counted for a child running `cycles` cycles. */
function countInstructions(cycles: number): number {
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
      'cycles',
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
} else {
  const [short, long] = (process.env.BENCH_INSTRUCTIONS_CYCLES ?? '5000,25000')
    .split(',')
    .map(Number) as [number, number];
  const started = Date.now();
  const perCycle = (countInstructions(long) - countInstructions(short)) / (long - short);
  console.log(`node ${process.version}, ${NODE_FLAGS.join(' ')}`);
  console.log(
    `load+change+commit, memory store, native crypto, 200 B: ${Math.round(perCycle)} instructions per cycle ` +
      `(callgrind, ${short} and ${long} cycles differenced, ${Math.round((Date.now() - started) / 1000)} s)`,
  );
}
