/**
 * Logging users in and out, checkvalues, and recent authentication. Part of `pithos/auth`.
 *
 * @module
 */
import type { ManagerContext } from '../core/context.ts';
import { ConfigError, PithosError } from '../core/errors.ts';
import { assertJSON, type JSONValue } from '../core/json.ts';
import { destroyState, regenerateState } from '../core/lifecycle.ts';
import { type Session, type SessionState, stateOf } from '../core/session.ts';
import { checkvalueMAC, checkvalueMatches, type UserBinding } from '../core/user.ts';

/** Options of `login`. */
export interface LoginOptions<Data extends object> {
  /** Keys of the anonymous session to keep after login; every other key is dropped. Default: none. */
  keep?: readonly (keyof Data & string)[];
  /** Keep the client address in the device list (`listSessions`). Default `false`. */
  recordIP?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: helpers accept sessions of any data type
type AnySession = Session<any>;

function liveState(session: AnySession, action: string): SessionState {
  const state = stateOf(session);
  if (state.destroyed) {
    throw new PithosError(
      'SESSION_DESTROYED',
      `cannot ${action} a destroyed session: load a new one`,
    );
  }
  return state;
}

function checkUserID(userID: unknown): asserts userID is string {
  if (typeof userID !== 'string' || userID.length === 0 || userID.length > 1024) {
    throw new ConfigError('the user ID must be a non-empty string of at most 1024 characters');
  }
}

function checkCheckvalue(checkvalue: unknown): asserts checkvalue is string {
  // Not empty: a missing value (`user?.checkvalue ?? ''`) must never match a binding.
  if (typeof checkvalue !== 'string' || checkvalue === '') {
    throw new ConfigError(
      'the checkvalue must be a non-empty string (e.g. derived from the password hash)',
    );
  }
}

function bind(
  context: ManagerContext,
  userID: string,
  checkvalue: string,
): Pick<UserBinding, 'i' | 'm' | 'k'> {
  const key = context.keyring.sealing;
  return { i: userID, m: checkvalueMAC(context, key, userID, checkvalue), k: key.id };
}

/**
 * Logs a user in: drops the anonymous data (except `options.keep`), gives the session a new ID and
 * key (the pre-login cookie is dead afterwards: no fixation), and seals the user ID, a keyed MAC of
 * the checkvalue, the time of authentication and `extra` into it. Commit to send the new cookie.
 *
 * @example
 * ```ts
 * await login(session, user.id, user.passwordHash, { method: 'password' });
 * ```
 */
export async function login<Data extends object>(
  session: Session<Data>,
  userID: string,
  checkvalue: string,
  extra?: Record<string, JSONValue>,
  options: LoginOptions<Data> = {},
): Promise<void> {
  checkUserID(userID);
  checkCheckvalue(checkvalue);
  if (extra !== undefined) assertJSON(extra, 'extra');
  const state = liveState(session, 'log in');
  const keep = new Set<string>(options.keep ?? []);
  for (const key of Object.keys(state.data))
    if (!keep.has(key)) session.delete(key as keyof Data & string);
  // A login starts from this request's data only (the keys it keeps), never from what other
  // requests wrote to the anonymous session meanwhile, nor from its pending flash values.
  await regenerateState(state, false);
  for (const key in state.opened?.meta.f) state.flashRead.add(key);
  state.flashIn = {};
  const now = state.context.options.clock();
  state.user = { ...bind(state.context, userID, checkvalue), a: now };
  // A copy, checked above: the caller's object may change after login without reaching the seal.
  if (extra !== undefined) state.user.e = structuredClone(extra);
  if (options.recordIP === true) state.user.p = true;
  state.userChanged = true;
}

/** Logs out: destroys the session now; the commit clears the cookie. */
export async function logout(session: AnySession): Promise<void> {
  await destroyState(stateOf(session));
}

/** The logged-in user's ID, or `undefined`. */
export function getUserID(session: AnySession): string | undefined {
  return stateOf(session).user?.i;
}

/**
 * The `extra` data given at login (`{}` when none or not logged in): a copy, so changing it
 * changes nothing in the session.
 */
export function getUserExtra(session: AnySession): Record<string, unknown> {
  return structuredClone(stateOf(session).user?.e ?? {});
}

/**
 * `true` when the session's user still has this checkvalue. Otherwise (the password changed, or
 * a rolled-back record) the session is destroyed and `false` is returned. Call it on every request
 * of a logged-in user, with the checkvalue read from your user table. An anonymous session gives
 * `false` and is left alone.
 */
export async function checkSession(session: AnySession, checkvalue: string): Promise<boolean> {
  const state = stateOf(session);
  if (state.user === undefined || state.destroyed) return false;
  if (checkvalueMatches(state.context, state.user, checkvalue)) {
    // Bound under an older secret: bind again under the sealing one, so that the binding still
    // holds once the older secret is removed (rotation logs nobody out).
    if (state.user.k !== state.context.keyring.sealing.id) {
      state.user = { ...state.user, ...bind(state.context, state.user.i, checkvalue) };
      state.userChanged = true;
    }
    return true;
  }
  await destroyState(state);
  return false;
}

/**
 * After a deliberate change of the user's own checkvalue (they changed their password), keeps this
 * session logged in under the new checkvalue and rotates its ID and key. If `userID` is not the
 * session's user, logs the session out instead.
 */
export async function keepLogin(
  session: AnySession,
  userID: string,
  newCheckvalue: string,
): Promise<void> {
  checkCheckvalue(newCheckvalue);
  const state = liveState(session, 'keep the login of');
  if (state.user === undefined || state.user.i !== userID) {
    await destroyState(state);
    return;
  }
  // Logged out (or rotated) by another request meanwhile: nothing to keep.
  if (!(await regenerateState(state))) return;
  state.user = { ...state.user, ...bind(state.context, userID, newCheckvalue) };
  state.userChanged = true;
}

/** Whether the user authenticated (logged in or was elevated) at most `maxAgeSeconds` ago. */
export function isRecentlyAuthenticated(session: AnySession, maxAgeSeconds: number): boolean {
  const state = stateOf(session);
  if (state.user === undefined || state.destroyed) return false;
  return state.context.options.clock() - state.user.a <= maxAgeSeconds * 1000;
}

/**
 * After a re-authentication or a change of privileges: rotates the session's ID and key and
 * records the time of authentication as now. Throws when nobody is logged in.
 */
export async function elevate(session: AnySession): Promise<void> {
  const state = liveState(session, 'elevate');
  if (state.user === undefined) throw new ConfigError('elevate() needs a logged-in session');
  // Logged out (or rotated) by another request meanwhile: nobody to elevate any more.
  if (!(await regenerateState(state))) return;
  state.user = { ...(state.user as UserBinding), a: state.context.options.clock() };
  state.userChanged = true;
}
