/**
 * `pithos stats`: how many records a store holds, how many have expired, and their total size,
 * where the store can tell; it says plainly what the store cannot tell. Internal to the command.
 *
 * @module
 */
import type { Store, StoreStats } from '../core/store.ts';

import { type Command, type CommandIO, STORE_HELP, STORE_OPTION } from './args.ts';
import { withStore } from './connect.ts';
import { elapsed, formatBytes, startProgress } from './output.ts';
import type { OpenedStore } from './store-url.ts';

/** Why a store cannot tell, by kind. */
const CANNOT_TELL: Record<string, string> = {
  memcached: 'memcached cannot list its keys, so nothing can count them',
};
const NO_EXPIRED: Record<string, string> = {
  redis: 'not applicable: Redis removes each record itself when it expires',
};

/** What `stats` prints as JSON: `null` for what the store cannot tell. */
interface StatsReport {
  store: string;
  label: string;
  records: number | null;
  expired: number | null;
  bytes: number | null;
}

async function collect(store: Store, io: CommandIO): Promise<StoreStats | undefined> {
  if (store.stats === undefined) return undefined;
  const progress = startProgress(io, 'counting');
  try {
    return await store.stats();
  } finally {
    progress.finish();
  }
}

function printHuman(opened: OpenedStore, stats: StoreStats | undefined, io: CommandIO): void {
  io.out(`store    ${opened.label}`);
  if (stats === undefined) {
    const why = CANNOT_TELL[opened.kind] ?? `the ${opened.store.name} store has no stats`;
    io.out(`records  cannot tell: ${why}`);
    io.out('expired  cannot tell');
    io.out('bytes    cannot tell');
    return;
  }
  io.out(`records  ${stats.records}`);
  const noExpired = NO_EXPIRED[opened.kind] ?? 'cannot tell';
  io.out(
    `expired  ${stats.expired === undefined ? noExpired : `${stats.expired} (removed by pithos prune)`}`,
  );
  io.out(`bytes    ${stats.bytes === undefined ? 'cannot tell' : formatBytes(stats.bytes)}`);
}

async function stats(opened: OpenedStore, io: CommandIO, json: boolean): Promise<number> {
  const start = performance.now();
  const found = await collect(opened.store, io);
  if (json) {
    const report: StatsReport = {
      store: opened.store.name,
      label: opened.label,
      records: found?.records ?? null,
      expired: found?.expired ?? null,
      bytes: found?.bytes ?? null,
    };
    io.out(JSON.stringify(report));
  } else {
    printHuman(opened, found, io);
    if (found !== undefined) io.err(`counted in ${elapsed(start)}`);
  }
  return 0;
}

/** `pithos stats`. */
export const statsCommand: Command = {
  name: 'stats',
  summary: "count a store's records, expired records and bytes",
  help: `Usage: pithos stats --store URL [--json]

Prints how many records the store holds, how many of them have expired (and wait for
pithos prune), and their total size in bytes, where the store can tell, and says plainly what it
cannot. A session logged in through pithos/auth on a store with a per-user index has two records:
the session's and its device record.

The count reads the whole store (a scan of the keys, the files or the table): run it when you
need it, not on every health check.

  store      records  expired                bytes
  memory     yes      yes                    yes (this process only: always empty)
  file       yes      yes                    yes (file sizes)
  sqlite     yes      yes                    yes
  postgres   yes      yes                    yes
  mysql      yes      yes                    yes
  redis      yes      no (Redis expires)     yes
  memcached  no       no                     no (memcached cannot list keys)

Options:
  --store URL  the store (see below)
  --json       one JSON object: {"store", "label", "records", "expired", "bytes"}, null for what
               the store cannot tell
  -h, --help   show this help

${STORE_HELP}`,
  options: { ...STORE_OPTION, json: { type: 'boolean' } },
  run: (values, io) => withStore(values, io, (opened) => stats(opened, io, values.json === true)),
};
