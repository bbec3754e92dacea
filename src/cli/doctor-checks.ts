/**
 * The checks of `pithos doctor` that go through a manager: a sealed round trip, the per-user index
 * through `pithos/auth`, and what the store can do. Internal to the command.
 *
 * @module
 */
import { listSessions, revokeAllSessions } from '../auth/devices.ts';
import { getUserID, login } from '../auth/login.ts';
import type { RejectReason } from '../core/events.ts';
import type { SessionManager } from '../core/manager.ts';
import type { Store } from '../core/store.ts';

/** Data of the doctor's test sessions. */
export interface DoctorData {
  doctor?: string;
}

/** Why a load gave a new session instead of the one written, for the failure message. */
const REASONS: Partial<Record<RejectReason, string>> = {
  unknown: 'the store returned nothing for a key just written (is the write lost?)',
  tampered: 'the store returned different bytes than it was given (binary data mangled?)',
  corrupt: 'the store returned bytes that are not a record',
  oversized: 'the store returned more bytes than it was given',
};

/** Loads the session of `cookie`; says why when it comes back new. */
async function loadBack(
  manager: SessionManager<DoctorData>,
  cookie: string,
): Promise<{ session: Awaited<ReturnType<SessionManager<DoctorData>['load']>>; why: string }> {
  let reason: RejectReason | undefined;
  const stop = manager.on('rejected', (event) => {
    reason = event.reason;
  });
  try {
    const session = await manager.load(cookie);
    const why = reason === undefined ? 'it came back empty' : (REASONS[reason] ?? reason);
    return { session, why };
  } finally {
    stop();
  }
}

function cookieOf(setCookie: string | undefined, redact: (value: string) => void): string {
  if (setCookie === undefined) throw new Error('commit sent no cookie');
  const pair = setCookie.split(';')[0] as string;
  redact(pair.slice(pair.indexOf('=') + 1));
  return pair;
}

/** Creates a session, commits it, loads it back, destroys it and checks that it is gone. */
export async function roundTrip(
  manager: SessionManager<DoctorData>,
  nonce: string,
  redact: (value: string) => void,
): Promise<void> {
  const session = await manager.load(undefined);
  session.set('doctor', nonce);
  const cookie = cookieOf(await manager.commit(session), redact);
  const back = await loadBack(manager, cookie);
  if (back.session.get('doctor') !== nonce) throw new Error(`read back failed: ${back.why}`);
  await manager.destroy(back.session);
  await manager.commit(back.session);
  if (!(await manager.load(cookie)).isNew)
    throw new Error('the record is still there after destroy');
}

/** Logs a test user in, finds the session through the per-user index, and revokes it. */
export async function userIndexTrip(
  manager: SessionManager<DoctorData>,
  nonce: string,
  redact: (value: string) => void,
): Promise<void> {
  const userID = `pithos-doctor-${nonce}`;
  const session = await manager.load(undefined);
  await login(session, userID, `checkvalue-${nonce}`);
  const cookie = cookieOf(await manager.commit(session), redact);
  const listed = await listSessions(manager, userID);
  if (listed.length !== 1) {
    await revokeAllSessions(manager, userID);
    throw new Error(`listed ${listed.length} sessions of a user who has 1`);
  }
  const ended = await revokeAllSessions(manager, userID);
  const after = await manager.load(cookie);
  if (ended !== 1 || getUserID(after) !== undefined) {
    throw new Error('the session survived its revocation');
  }
}

/** One line per capability: whether the store has it, and what that means. */
export function capabilities(store: Store, kind: string): [string, string][] {
  const nativeExpiry = kind === 'redis' || kind === 'memcached';
  return [
    [
      'compare-and-set',
      store.compareAndSet
        ? 'yes: concurrent requests of one session lose no update'
        : 'no: of two concurrent requests of one session, the last write wins',
    ],
    [
      'per-user index',
      store.listByUser
        ? "yes: pithos revoke and pithos/auth's device list work"
        : 'no: pithos revoke and the device list are unavailable; end sessions with checkvalues',
    ],
    [
      'prune',
      store.prune
        ? 'yes: run pithos prune from cron'
        : nativeExpiry
          ? 'not needed: expired records vanish by themselves'
          : 'no: expired records stay until deleted',
    ],
    ['stats', store.stats ? 'yes: pithos stats counts records' : 'no: pithos stats cannot tell'],
  ];
}
