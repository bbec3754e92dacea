/**
 * Committing a session: deciding whether anything must be written, merging this request's
 * changes onto the latest stored record, and writing with compare-and-set where the store can.
 *
 * @module
 */
import { serializeCookie } from '../cookie/options.ts';
import { equalBytes } from './bytes.ts';
import { emitFor, guard, type ManagerContext, storeFailure } from './context.ts';
import { ConfigError, DataError, StoreError } from './errors.ts';
import { assertJSON } from './json.ts';
import {
  expiresAt,
  type OpenedRecord,
  openRecord,
  payloadText,
  type RecordMeta,
  sealText,
} from './record.ts';
import { type SessionState, snapshotOf } from './session.ts';
import { deriveSessionKey, generateToken, type Token } from './token.ts';
import { type UserBinding, writeDevice } from './user.ts';

/**
 * The keys this request changed, including changes made inside values it read: `state.changed`,
 * with the keys whose values changed since their snapshot added to it.
 */
function changedKeys(state: SessionState): Set<string> {
  const keys = state.changed;
  // A value checked at set() can still be changed through a reference the application kept.
  for (const key of keys) if (Object.hasOwn(state.data, key)) assertJSON(state.data[key], key);
  for (const key in state.flashOut) assertJSON(state.flashOut[key], `flash.${key}`);
  for (const [key, snapshot] of state.snapshots) {
    if (keys.has(key)) continue;
    const value = state.data[key];
    assertJSON(value, key);
    if (JSON.stringify(value) !== snapshotOf(state, key, snapshot)) keys.add(key);
  }
  return keys;
}

/** Whether an object has any own enumerable key (without listing them all). */
function hasKeys(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}

/**
 * After a commit: the object values the application saw (snapshots) or set (changed keys) get a
 * `null` snapshot, compared with the committed payload `text` if the request commits again.
 */
function watchCommitted(state: SessionState, data: Record<string, unknown>, text: string): void {
  const { snapshots } = state;
  let watched = false;
  for (const key of snapshots.keys()) {
    if (typeof data[key] === 'object' && data[key] !== null) {
      snapshots.set(key, null);
      watched = true;
    } else {
      snapshots.delete(key);
    }
  }
  for (const key of state.changed) {
    if (Object.hasOwn(data, key) && typeof data[key] === 'object' && data[key] !== null) {
      snapshots.set(key, null);
      watched = true;
    }
  }
  state.committedText = watched ? text : undefined;
  state.committedData = undefined;
}

function hasFlashChanges(state: SessionState): boolean {
  return state.flashRead.size > 0 || hasKeys(state.flashOut);
}

/** This request's changes applied on top of a record (the loaded one, or a newer one). */
function mergeOnto(
  context: ManagerContext,
  state: SessionState,
  base: OpenedRecord | undefined,
  keys: Set<string>,
  now: number,
  cookieSentAt: number,
): { meta: RecordMeta; data: Record<string, unknown> } {
  let data = state.data;
  if (base !== undefined && base !== state.opened) {
    data = { ...base.data };
    for (const key of keys) {
      if (Object.hasOwn(state.data, key)) data[key] = state.data[key];
      else delete data[key];
    }
  }
  let flashes = base?.meta.f;
  if (state.flashRead.size > 0 || hasKeys(state.flashOut)) {
    flashes = { ...flashes };
    for (const key of state.flashRead) delete flashes[key];
    Object.assign(flashes, state.flashOut);
  }
  const meta: RecordMeta = {
    c: base?.meta.c ?? now,
    t: now,
    i: state.duration ?? base?.meta.i ?? context.options.idleTimeout,
    x: base?.meta.x ?? now + context.options.absoluteTimeoutMs,
  };
  const ip = base?.meta.ip ?? (context.options.binding ? state.ip : undefined);
  if (ip !== undefined) meta.ip = ip;
  const user = state.userChanged ? state.user : base?.meta.u;
  if (user !== undefined) meta.u = user;
  if (flashes !== undefined && hasKeys(flashes)) meta.f = flashes;
  if (cookieSentAt !== now) meta.s = cookieSentAt;
  return { meta, data };
}

async function write(
  context: ManagerContext,
  key: string,
  expected: Uint8Array | undefined,
  record: Uint8Array,
  expiry: number,
): Promise<boolean> {
  const { store } = context;
  const options = { expiresAt: expiry };
  if (store.compareAndSet !== undefined) {
    // Inline rather than through guard(): this is every committing request's write.
    try {
      return await store.compareAndSet(key, expected, record, options);
    } catch (error) {
      throw storeFailure(context, 'compareAndSet', error);
    }
  }
  // Without compare-and-set: re-read just before writing, so a concurrent change or destroy is
  // seen unless it lands in the gap between this read and the write (documented).
  if (expected !== undefined) {
    const latest = await guard(context, 'get', () => store.get(key));
    if (latest === undefined || !equalBytes(latest, expected)) return false;
  }
  await guard(context, 'set', () => store.set(key, record, options));
  return true;
}

function sessionKeyFor(
  context: ManagerContext,
  token: Token,
  base: OpenedRecord | undefined,
): Uint8Array {
  const sealing = context.keyring.sealing;
  // The key derived when the record was opened serves only the same token and server key.
  if (base !== undefined && base.serverKey === sealing && base.storeKey === token.storeKey) {
    return base.sessionKey;
  }
  return deriveSessionKey(context.crypto, sealing, token);
}

/**
 * Writes the device record of a logged-in session when the login changed, the session got a new
 * token or is resealed under a new secret, or its "last seen" is older than the touch interval; on
 * stores with a per-user index only.
 */
function refreshDevice(
  context: ManagerContext,
  state: SessionState,
  token: Token,
  meta: RecordMeta,
  now: number,
  base: OpenedRecord | undefined,
): Promise<void> | undefined {
  const user = meta.u as UserBinding | undefined;
  if (user === undefined || context.store.listByUser === undefined) return undefined;
  const isStale = now - (user.d ?? 0) >= context.options.touchIntervalMs;
  // A record resealed under a new secret gets its device record under the new secret's user key
  // now, or listing and revoking (which look under the current secrets only) would miss it once
  // the old secret is removed.
  const isRotated = base !== undefined && base.serverKey !== context.keyring.sealing;
  if (!state.userChanged && token === state.token && !isStale && !isRotated) return undefined;
  return writeBinding(context, state, token, meta, user, now);
}

async function writeBinding(
  context: ManagerContext,
  state: SessionState,
  token: Token,
  meta: RecordMeta,
  user: UserBinding,
  now: number,
): Promise<void> {
  const binding = { ...user, d: now };
  meta.u = binding;
  await writeDevice(context, token.storeKey, { c: meta.c, x: meta.x, u: binding }, state, now);
}

/**
 * A short random pause after a lost compare-and-set, growing with the attempts (at most 32 ms):
 * without it, N concurrent commits of one session retry in lockstep and cost N²/2 writes.
 */
function backOff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** attempt, 32);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * How often a session's unchanged record is rewritten, and its unchanged cookie re-sent: the
 * manager's `touchInterval`, or half the session's own idle timeout when `setDuration` made that
 * shorter (the manager refuses a `touchInterval` as long as `idleTimeout` for the same reason: the
 * session would expire between refreshes).
 */
function touchInterval(context: ManagerContext, meta: RecordMeta): number {
  return Math.min(context.options.touchIntervalMs, meta.i * 500);
}

/**
 * The error for a session given to a manager that did not load it: committed there, it would be
 * written to that manager's store under its secret and cookie name, or vanish.
 */
export function foreignSession(): ConfigError {
  return new ConfigError(
    'this session was loaded by another session manager: commit, regenerate and destroy it with the manager that loaded it',
  );
}

/** Writes the session if it must be written; returns the `Set-Cookie` value to send, if any. */
export async function commitSession(
  context: ManagerContext,
  state: SessionState,
): Promise<string | undefined> {
  if (state.context !== context) throw foreignSession();
  if (state.destroyed) return context.clearCookie;
  if (state.vanished) return undefined;
  // Most commits retire nothing: no splice (an allocation) for them.
  const retiring = state.retired.length > 0;
  if (retiring) {
    for (const key of state.retired.splice(0)) {
      await guard(context, 'delete', () => context.store.delete(key));
    }
  }
  const keys = changedKeys(state);
  const now = context.options.clock();
  const opened = state.opened;
  const touch = opened !== undefined && now - opened.meta.t >= touchInterval(context, opened.meta);
  const hasData = hasKeys(state.data) || hasKeys(state.flashOut);
  const isStored = state.record !== undefined || opened !== undefined;
  const mustWrite =
    keys.size > 0 ||
    hasFlashChanges(state) ||
    state.forceWrite ||
    state.userChanged ||
    state.issueCookie ||
    touch;
  const isWanted = hasData || state.issueCookie || state.userChanged;
  if (!mustWrite || (!isStored && !isWanted)) return retiring ? context.clearCookie : undefined;

  let base = state.latest ?? opened;
  let expected = state.record;
  for (let attempt = 0; attempt < context.options.maxCommitAttempts; attempt++) {
    const token = state.token ?? generateToken(context.crypto);
    const isNewToken = token !== state.token;
    // Every write slides the idle deadline, but the unchanged token is re-sent (with a Max-Age
    // ending at the new deadline) at most once per touch interval, unless its lifetime changed.
    const sendCookie =
      isNewToken ||
      state.issueCookie ||
      (context.options.cookie.persistent &&
        (base === undefined ||
          state.duration !== undefined ||
          now - (base.meta.s ?? base.meta.t) >= touchInterval(context, base.meta)));
    // When the cookie stays unsent, the record remembers when it last went out (`s`).
    const cookieSentAt =
      sendCookie || base === undefined || !context.options.cookie.persistent
        ? now
        : (base.meta.s ?? base.meta.t);
    const { meta, data } = mergeOnto(context, state, base, keys, now, cookieSentAt);
    // Awaited only when there is a device record to write: most commits have none.
    const device = refreshDevice(context, state, token, meta, now, base);
    if (device !== undefined) await device;
    const sessionKey = sessionKeyFor(context, token, base);
    const { maxDataBytes } = context.options;
    const sealing = context.keyring.sealing;
    const text = payloadText(meta, data);
    const record = sealText(context.crypto, sealing, sessionKey, text, maxDataBytes);
    if (typeof record === 'number') {
      throw new DataError(
        'DATA_TOO_LARGE',
        `session data takes ${record} bytes, more than maxDataBytes (${maxDataBytes})`,
      );
    }
    const expiry = expiresAt(meta);
    if (await write(context, token.storeKey, expected, record, expiry)) {
      if (state.record === undefined && base === undefined) emitFor(context, 'created', token, {});
      if (base !== undefined && base.serverKey !== sealing) {
        emitFor(context, 'rotated', token, { cause: 'secret' });
      }
      state.data = data;
      state.token = token;
      state.record = record;
      state.opened = { meta, data, serverKey: sealing, sessionKey, storeKey: token.storeKey };
      state.latest = undefined;
      state.duration = undefined;
      if (hasKeys(state.flashIn)) state.flashIn = {};
      if (hasKeys(state.flashOut)) state.flashOut = {};
      state.forceWrite = false;
      state.user = meta.u as UserBinding | undefined;
      state.userChanged = false;
      // Values the application saw or set may still change through the references it holds, and
      // a later commit of this request must see that: they are compared with this commit's JSON.
      watchCommitted(state, data, text);
      // clear() allocates a new table even when there is nothing to clear.
      if (state.changed.size > 0) state.changed.clear();
      if (state.flashRead.size > 0) state.flashRead.clear();
      state.issueCookie = false;
      return sendCookie
        ? serializeCookie(context.options.cookie, token.value, (expiry - now) / 1000)
        : undefined;
    }
    if (expected === undefined) continue; // a new ID met an existing record: draw another
    const latest = await guard(context, 'get', () => context.store.get(token.storeKey));
    const reopened =
      latest === undefined ? undefined : openRecord(context.crypto, context.keyring, token, latest);
    if (reopened === undefined || typeof reopened === 'string') {
      // The record was destroyed or regenerated (or replaced by something this session cannot
      // open) while this request ran: a destroy wins, so the session is not brought back. No
      // clearing cookie either: after a concurrent login's regenerate, it could land after the
      // new cookie and log the browser out.
      state.vanished = true;
      return undefined;
    }
    base = reopened;
    expected = latest;
    await backOff(attempt);
  }
  throw new StoreError(
    context.store.name,
    `commit gave up after ${context.options.maxCommitAttempts} conflicting writes`,
    {
      code: 'STORE_CONFLICT',
    },
  );
}
