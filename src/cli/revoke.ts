/**
 * `pithos revoke`: ends every session of one user, on stores with a per-user index, through a
 * manager built with the application's secret (the index is keyed by it). Internal to the command.
 *
 * @module
 */
import { listSessions, revokeAllSessions } from '../auth/devices.ts';
import { createSessionManager } from '../core/manager.ts';
import {
  type Command,
  CommandError,
  type CommandIO,
  type OptionValues,
  requireString,
  SECRET_HELP,
  SECRET_OPTIONS,
  STORE_HELP,
  STORE_OPTION,
  UsageError,
} from './args.ts';
import { storeURLOf, withStore } from './connect.ts';
import { readSecrets } from './secret.ts';
import type { OpenedStore } from './store-url.ts';

function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

async function revoke(
  opened: OpenedStore,
  io: CommandIO,
  options: { user: string; secrets: string[]; dryRun: boolean },
): Promise<number> {
  const { store } = opened;
  if (store.listByUser === undefined) {
    throw new CommandError(
      `the ${store.name} store has no per-user index (${opened.label}), so a user's sessions ` +
        'cannot be found there. End them with a checkvalue instead: change what the app passes ' +
        'to login() and checkSession() for this user (their password hash, or a per-user ' +
        'counter), and their sessions end at their next request. See docs/auth.md.',
    );
  }
  const manager = createSessionManager({ store, secrets: options.secrets });
  const who = JSON.stringify(options.user);
  if (options.dryRun) {
    const sessions = await listSessions(manager, options.user);
    io.out(`user ${who} has ${sessions.length} live session(s) in ${opened.label}`);
    for (const session of sessions) {
      const agent = session.userAgent ?? 'unknown browser';
      io.out(
        `  created ${when(session.createdAt)}  last seen ${when(session.lastSeenAt)}  ${agent}`,
      );
    }
    return 0;
  }
  const ended = await revokeAllSessions(manager, options.user);
  io.out(`ended ${ended} session(s) of user ${who} in ${opened.label}`);
  if (ended === 0) {
    io.err(
      'no live session was found: sessions are found by a keyed hash of the user ID, so check ' +
        "that the user ID is the one the app passes to login() and that the secret is the app's",
    );
  }
  return 0;
}

async function run(values: OptionValues, io: CommandIO): Promise<number> {
  storeURLOf(values, io); // usage errors before anything is read or opened
  const user = requireString(values, 'user');
  const found = await readSecrets(values, io);
  if (found === undefined) {
    throw new UsageError(
      "revoke needs the application's secret: --secret, --secret-file or PITHOS_SECRET",
    );
  }
  const options = { user, secrets: found.secrets, dryRun: values['dry-run'] === true };
  return withStore(values, io, (opened) => revoke(opened, io, options));
}

/** `pithos revoke`. */
export const revokeCommand: Command = {
  name: 'revoke',
  summary: 'end every session of one user',
  help: `Usage: pithos revoke --store URL --user ID [--secret … | --secret-file PATH] [--dry-run]

Ends every live session of a user (each of their devices is logged out at its next request),
and prints how many. The user ID is the one the application passes to login(). Sessions are
found through the store's per-user index, which is keyed by the application's secret: give the
same secret (and the old ones still in its rotation).

Stores without a per-user index (memcached) cannot do this: the command says so and exits 1;
end a user's sessions there with a checkvalue (see docs/auth.md).

Options:
  --store URL         the store (see below)
  --user ID           the user whose sessions end
  --dry-run           list the user's live sessions (created, last seen, browser), end none
  -h, --help          show this help

${SECRET_HELP}

${STORE_HELP}

Example:
  PITHOS_SECRET=… pithos revoke --store redis://127.0.0.1:6379 --user 42`,
  options: {
    ...STORE_OPTION,
    ...SECRET_OPTIONS,
    user: { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  run,
};
