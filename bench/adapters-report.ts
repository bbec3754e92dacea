/** The tables and verdicts of `bench/adapters.ts`. */
import type { Measurement } from './processes.ts';
import { median, printTable } from './report.ts';

/** One server of the benchmark. */
export interface Case {
  framework: string;
  /** `plain`, `pithos`, or the library's name. */
  name: string;
  script: string;
  mode?: string;
}

/** One case's figures from one round. */
export type { Measurement };

/** How the run was made, for the verdicts and the closing lines. */
export interface Settings {
  cases: Case[];
  /** pithos's added cost may be at most this share of the best library's. */
  target: number;
  sessions: number;
  connections: number;
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  pinned: boolean;
}

/** What the report needs to know of a server. */
export interface Measured {
  case: Case;
}

/** Whether a case is a reference (`plain`, `floor` or `required`) rather than a session library. */
export const isReference = (c: Case): boolean =>
  c.name === 'plain' || c.name === 'floor' || c.name === 'required';

/** A case's name in the tables: framework, then server. */
export const label = (c: Case): string => `${c.framework} ${c.name}`;

/** Prints every round of every case. */
function reportRuns(results: Map<Measured, Measurement[]>): void {
  const rows: string[][] = [];
  for (const [server, runs] of results) {
    for (const [index, run] of runs.entries()) {
      rows.push([
        label(server.case),
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
}

/**
 * Prints every round, then per framework the medians, each session case's added cost (its server
 * CPU per request minus the ceiling's), and whether pithos meets the target against the best library.
 */
export function report(
  results: Map<Measured, Measurement[]>,
  created: Map<Measured, number>,
  settings: Settings,
): void {
  reportRuns(results);
  const rps = (server: Measured): number =>
    median((results.get(server) ?? []).map((run) => run.rps));
  const cpu = (server: Measured): number =>
    median((results.get(server) ?? []).map((run) => run.serverCPU));
  const verdicts: string[] = [];
  const rows: string[][] = [];
  for (const framework of new Set(settings.cases.map((c) => c.framework))) {
    const group = [...results.keys()].filter((server) => server.case.framework === framework);
    const plain = group.find((server) => server.case.name === 'plain');
    const floor = group.find((server) => server.case.name === 'floor');
    const required = group.find((server) => server.case.name === 'required');
    const pithos = group.find((server) => server.case.name === 'pithos');
    if (plain === undefined || pithos === undefined) continue;
    const added = (server: Measured): number => cpu(server) - cpu(plain);
    for (const server of group) {
      const isSession = server !== plain;
      rows.push([
        framework,
        server.case.name,
        rps(server).toFixed(0),
        `${((rps(server) / rps(plain)) * 100).toFixed(0)}%`,
        cpu(server).toFixed(1),
        isSession ? added(server).toFixed(1) : '–',
        isSession && server !== pithos ? (added(pithos) / added(server)).toFixed(2) : '–',
        isReference(server.case) ? '–' : `${created.get(server)}`,
      ]);
    }
    const libraries = group.filter((server) => !isReference(server.case) && server !== pithos);
    const best = libraries.reduce((a, b) => (added(b) < added(a) ? b : a));
    const ratio = added(pithos) / added(best);
    verdicts.push(
      `${framework}: pithos adds ${added(pithos).toFixed(1)} µs/req, the best library (${best.case.name}) ` +
        `${added(best).toFixed(1)} µs/req: ratio ${ratio.toFixed(2)} (target ≤ ${settings.target}: ` +
        `${ratio <= settings.target ? 'met' : `MISSED, by ${(added(pithos) - settings.target * added(best)).toFixed(1)} µs/req`}).`,
    );
    if (floor !== undefined) {
      const allowed = settings.target * added(best);
      verdicts.push(
        `${framework}: the floor (only the irreducible work, inline) adds ${added(floor).toFixed(1)} µs/req; ` +
          `the target allows ${allowed.toFixed(1)}: ${added(floor) <= allowed ? 'within reach of a library doing that work' : 'out of reach of any library doing that work here'}; ` +
          `pithos adds ${(added(pithos) / added(floor)).toFixed(2)}× the floor's.`,
      );
    }
    if (required !== undefined) {
      const allowed = settings.target * added(best);
      verdicts.push(
        `${framework}: the required server (the floor plus only what issue 2 requires) adds ` +
          `${added(required).toFixed(1)} µs/req; the target allows ${allowed.toFixed(1)}: ` +
          `${added(required) <= allowed ? 'within reach of an implementation of issue 2' : 'out of reach of any implementation of issue 2 in this run'}; ` +
          `pithos adds ${(added(pithos) / added(required)).toFixed(2)}× the required server's.`,
      );
    }
  }
  console.log();
  printTable(
    [
      'framework',
      'server',
      'req/s (median)',
      'req/s ÷ plain',
      'server µs CPU/req (median)',
      'added µs CPU/req',
      'pithos added ÷ this',
      'sessions created',
    ],
    rows,
  );
  console.log();
  for (const verdict of verdicts) console.log(verdict);
  console.log(
    `\nSessions created must be ${settings.sessions} (the pool) for every session server: then no measured ` +
      `request started a new session.\n${settings.connections} keep-alive connections, ${settings.seconds} s per case ` +
      `per round, ${settings.rounds} rounds (odd rounds in reverse order), ${settings.warmupSeconds} s warm-up each; ` +
      `${settings.pinned ? 'servers on CPU 1, client on CPU 0' : 'not pinned to CPUs'}.`,
  );
}
