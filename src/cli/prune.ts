/**
 * `pithos prune`: removes expired records from a store and prints how many. Safe to run from
 * cron while applications serve: every store's `prune` tolerates concurrent writers and other
 * pruners. Internal to the command.
 *
 * @module
 */
import { readdir } from 'node:fs/promises';
import type { FileStore } from '../stores/fs.ts';
import { layoutOf } from '../stores/fs-layout.ts';
import { type Command, STORE_HELP, STORE_OPTION } from './args.ts';
import { withStore } from './connect.ts';
import { elapsed, type Progress, startProgress } from './output.ts';
import type { OpenedStore } from './store-url.ts';

/** Why a store has no `prune`, by kind. */
const NATIVE_EXPIRY: Record<string, string> = {
  redis: 'Redis removes each record itself when it expires, with a TTL on every key',
  memcached: 'memcached removes each record itself when it expires',
};

/** The leaf shard directories of a file store: its `prune` reports after each one. */
async function countShards(directory: string): Promise<number> {
  const layout = layoutOf(directory);
  let count = 0;
  for (const root of [layout.records, layout.users]) {
    const upper = await readdir(root).catch(() => [] as string[]);
    for (const name of upper) {
      if (/^[0-9a-f]{2}$/.test(name)) {
        count += (await readdir(`${root}/${name}`).catch(() => [] as string[])).length;
      }
    }
  }
  return count;
}

async function pruneFiles(store: FileStore, progress: Progress): Promise<number> {
  const total = await countShards(store.directory);
  let done = 0;
  return store.prune({
    onProgress({ scanned, removed }) {
      done++;
      const fraction = total === 0 ? undefined : Math.min(0.99, done / total);
      progress.update(fraction, `${scanned} files scanned, ${removed} removed`);
    },
  });
}

async function prune(opened: OpenedStore, io: Parameters<Command['run']>[1]): Promise<number> {
  const { store } = opened;
  if (store.prune === undefined) {
    const why = NATIVE_EXPIRY[opened.kind] ?? `the ${store.name} store cannot prune`;
    io.out(`nothing to prune: ${why} (${opened.label})`);
    return 0;
  }
  const start = performance.now();
  const progress = startProgress(io, 'pruning');
  let removed: number;
  try {
    removed =
      opened.kind === 'fs' ? await pruneFiles(store as FileStore, progress) : await store.prune();
  } finally {
    progress.finish();
  }
  const noun = removed === 1 ? 'record' : 'records';
  io.out(`removed ${removed} expired ${noun} from ${opened.label} in ${elapsed(start)}`);
  return 0;
}

/** `pithos prune`. */
export const pruneCommand: Command = {
  name: 'prune',
  summary: 'remove expired records from a store',
  help: `Usage: pithos prune --store URL

Removes the records that have expired and prints how many. Expired records never make a session
valid (the sealed deadline decides), they only take space: prune them from cron. It is safe while
applications are serving, and while another prune runs.

On a terminal a progress bar (file store) or a spinner (SQL) runs on standard error; in a pipe or
a cron log there is a line every few seconds at most. Redis and memcached expire records
themselves: prune says so and exits 0.

Options:
  --store URL  the store (see below)
  -h, --help   show this help

${STORE_HELP}

Example (crontab, every night at 03:17):
  17 3 * * *  pithos prune --store sqlite:///var/lib/app/sessions.db >>/var/log/pithos-prune.log 2>&1`,
  options: { ...STORE_OPTION },
  run: (values, io) => withStore(values, io, (opened) => prune(opened, io)),
};
