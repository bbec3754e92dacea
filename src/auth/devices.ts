/**
 * A user's sessions: listing them (the "your devices" page) and revoking one, all but the current
 * one, or all. Part of `pithos/auth`. Needs a store with a per-user index.
 *
 * @module
 */
import { fromHex } from '../core/bytes.ts';
import { contextOf, guard, type ManagerContext } from '../core/context.ts';
import { PithosError } from '../core/errors.ts';
import type { SessionManager } from '../core/manager.ts';
import { type Session, stateOf } from '../core/session.ts';
import { sessionHandle } from '../core/token.ts';
import {
  checkvalueMatches,
  type DeviceInfo,
  openDevice,
  removeSession,
  userKeysOf,
} from '../core/user.ts';

/** One live session of a user, as the app may show it. */
export interface SessionInfo {
  /** An opaque, stable name of the session, for `revokeSession`. Not a cookie, not an ID. */
  handle: string;
  /** When the session was created (ms since the epoch). */
  createdAt: number;
  /** When it was last seen (ms; updated at most once per touch interval). */
  lastSeenAt: number;
  /** A coarse user agent such as "Firefox on Linux", when known. */
  userAgent?: string;
  /** The client address, when the login asked for it (`recordIP`). */
  ip?: string;
  /** Whether this is the session given as `current`. */
  current: boolean;
}

interface Found extends SessionInfo {
  storeKey: string;
}

// biome-ignore lint/suspicious/noExplicitAny: helpers accept managers and sessions of any data type
type Any = any;

function requireIndex(context: ManagerContext): (userKey: string) => Promise<string[]> {
  const list = context.store.listByUser?.bind(context.store);
  if (list === undefined) {
    throw new PithosError(
      'NOT_SUPPORTED',
      `the ${context.store.name} store cannot list a user's sessions (it has no per-user index): ` +
        'end them with checkvalues instead (checkSession), see docs/auth.md',
    );
  }
  return list;
}

function handleOf(context: ManagerContext, storeKey: string): string {
  return sessionHandle(context.crypto, context.keyring.sealing, {
    storeKeyBytes: fromHex(storeKey) ?? new Uint8Array(),
  });
}

/** Whether a device's session was sealed under `checkvalue` (unknown for older device records). */
function hasCheckvalue(
  context: ManagerContext,
  device: DeviceInfo,
  checkvalue: string | undefined,
): boolean {
  if (checkvalue === undefined || device.m === undefined || device.k === undefined) return true;
  return checkvalueMatches(context, { i: device.u, m: device.m, k: device.k, a: 0 }, checkvalue);
}

async function findSessions(
  context: ManagerContext,
  userID: string,
  current?: string,
  checkvalue?: string,
): Promise<Found[]> {
  const list = requireIndex(context);
  const { store } = context;
  const found: Found[] = [];
  // During a secret rotation a device record rewritten under the new secret's user key may still
  // be named by the old one's index (Redis keeps index members until their expiry): once each.
  const seen = new Set<string>();
  for (const { userKey } of userKeysOf(context, userID)) {
    for (const deviceKey of await guard(context, 'listByUser', () => list(userKey))) {
      if (seen.has(deviceKey)) continue;
      seen.add(deviceKey);
      const record = await guard(context, 'get', () => store.get(deviceKey));
      const device =
        record === undefined ? undefined : openDevice(context, context.keyring, record);
      if (device === undefined || device.u !== userID) continue;
      if (!hasCheckvalue(context, device, checkvalue)) continue;
      if ((await guard(context, 'get', () => store.get(device.s))) === undefined) {
        // The session ended (expired, destroyed elsewhere): drop its stale device record. Not a
        // recent one: a commit writes the device record first, then the session's, and a login
        // in flight would lose its place in the index.
        const now = context.options.clock();
        if (now - device.t >= context.options.touchIntervalMs) {
          await guard(context, 'delete', () => store.delete(deviceKey));
        }
        continue;
      }
      const handle = handleOf(context, device.s);
      const info: Found = {
        storeKey: device.s,
        handle,
        createdAt: device.c,
        lastSeenAt: device.t,
        current: handle === current,
      };
      if (device.ua !== undefined) info.userAgent = device.ua;
      if (device.ip !== undefined) info.ip = device.ip;
      found.push(info);
    }
  }
  return found.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
}

function currentHandle(session: Session<Any> | undefined): string | undefined {
  const state = session === undefined ? undefined : stateOf(session);
  return state?.token === undefined ? undefined : handleOf(state.context, state.token.storeKey);
}

/** Options of `listSessions`. */
export interface ListSessionsOptions {
  /** The session of the request, marked `current: true` in the list. */
  current?: Session<Any>;
  /**
   * The user's checkvalue now (from your user table): sessions logged in under another one (ended
   * by a password change, though their records live until their next request) are left out.
   * Sessions whose device record predates this option are listed whatever it is.
   */
  checkvalue?: string;
}

/**
 * The user's live sessions, most recently seen first. Readable by the server without any of
 * their cookies; a store dump reveals neither the user nor the devices. Throws `PithosError`
 * (`NOT_SUPPORTED`) on stores without a per-user index (memcached).
 */
export async function listSessions(
  manager: SessionManager<Any>,
  userID: string,
  options: ListSessionsOptions = {},
): Promise<SessionInfo[]> {
  const context = contextOf(manager);
  const { checkvalue } = options;
  if (checkvalue !== undefined && typeof checkvalue !== 'string') {
    throw new PithosError('CONFIG_INVALID', 'listSessions: `checkvalue` must be a string');
  }
  const found = await findSessions(context, userID, currentHandle(options.current), checkvalue);
  return found.map(({ storeKey: _, ...info }) => info);
}

/** Ends one session of the user, by the `handle` from `listSessions`. Returns whether it existed. */
export async function revokeSession(
  manager: SessionManager<Any>,
  userID: string,
  handle: string,
): Promise<boolean> {
  const context = contextOf(manager);
  const target = (await findSessions(context, userID)).find((info) => info.handle === handle);
  if (target !== undefined) await removeSession(context, target.storeKey, true);
  return target !== undefined;
}

/** Ends every session of the user; returns how many. Their very next requests are anonymous. */
export async function revokeAllSessions(
  manager: SessionManager<Any>,
  userID: string,
): Promise<number> {
  const context = contextOf(manager);
  const found = await findSessions(context, userID);
  for (const info of found) await removeSession(context, info.storeKey, true);
  return found.length;
}

/** Ends every session of this session's user except this one ("sign out other devices"). */
export async function revokeOtherSessions(session: Session<Any>): Promise<number> {
  const state = stateOf(session);
  if (state.user === undefined) return 0;
  const found = await findSessions(state.context, state.user.i, currentHandle(session));
  const others = found.filter((info) => !info.current);
  for (const info of others) await removeSession(state.context, info.storeKey, true);
  return others.length;
}
