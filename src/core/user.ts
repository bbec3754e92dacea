/**
 * User binding: what `pithos/auth` seals into a session when a user logs in, the per-user index
 * key, and the device record that lets the server list and revoke a user's sessions without
 * their cookies. Internal; the public helpers live in `pithos/auth`.
 *
 * The device record of a session lives under its own store key (a one-way hash of the session's
 * store key), sealed under the server key, and is the only record indexed by user. A store dump
 * reveals neither users (the index key is a keyed hash of the user ID) nor devices (sealed).
 *
 * @module
 */
import { concatBytes, equalBytes, toHex, utf8 } from './bytes.ts';
import { guard, type ManagerContext } from './context.ts';
import type { Keyring, ServerKey } from './keyring.ts';
import { HEADER_BYTES, openText, recordKeyID, sealRecord } from './record.ts';
import { FORMAT_VERSION } from './token.ts';

/** The user binding sealed in a session record (`meta.u`). */
export interface UserBinding {
  /** The user ID. */
  i: string;
  /** Keyed MAC of the checkvalue (hex), never the checkvalue itself. */
  m: string;
  /** Key id of the server key the MAC was made with. */
  k: number;
  /** When the user last authenticated (ms). */
  a: number;
  /** Extra JSON data kept with the login. */
  e?: Record<string, unknown>;
  /** When the device record was last written (ms). */
  d?: number;
  /** Whether the device record keeps the client address. */
  p?: boolean;
}

/** What a device record holds (sealed under the server key). */
export interface DeviceInfo {
  /** The session's store key. */
  s: string;
  /** The user ID, checked when listing (so a moved index entry shows nothing). */
  u: string;
  /** Created at (ms). */
  c: number;
  /** Last seen (ms), updated at most once per touch interval. */
  t: number;
  /** A coarse user agent ("Firefox on Linux"). */
  ua?: string;
  /** The client address, when the login opted in. */
  ip?: string;
  /**
   * The session's checkvalue MAC (`UserBinding.m`) and its key id (`k`) when the record was
   * written, so that `listSessions` can leave out sessions a checkvalue change has ended. Absent
   * from device records written before pithos kept them.
   */
  m?: string;
  k?: number;
}

const CHECKVALUE_LABEL = utf8('pithos:checkvalue:v1');
const USER_KEY_LABEL = utf8('pithos:user-key:v1');
const DEVICE_KEY_LABEL = utf8('pithos:device-key:v1');
const DEVICE_SEAL_LABEL = utf8('pithos:device:v1');

function lengthPrefixed(text: string): Uint8Array {
  const bytes = utf8(text);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, bytes.length);
  return concatBytes(length, bytes);
}

/** The keyed MAC of a checkvalue, bound to the user ID. */
export function checkvalueMAC(
  context: ManagerContext,
  key: ServerKey,
  userID: string,
  checkvalue: string,
): string {
  const message = concatBytes(CHECKVALUE_LABEL, lengthPrefixed(userID), utf8(checkvalue));
  return toHex(context.crypto.hash(message, 32, key.master));
}

/** Whether `checkvalue` matches the binding, in constant time. */
export function checkvalueMatches(
  context: ManagerContext,
  binding: UserBinding,
  checkvalue: string,
): boolean {
  const key = context.keyring.byID.get(binding.k);
  if (key === undefined || typeof checkvalue !== 'string') return false;
  return equalBytes(utf8(checkvalueMAC(context, key, binding.i, checkvalue)), utf8(binding.m));
}

/** The opaque per-user index key under one server key (64 hex digits). */
export function userKeyFor(context: ManagerContext, key: ServerKey, userID: string): string {
  return toHex(context.crypto.hash(concatBytes(USER_KEY_LABEL, utf8(userID)), 32, key.master));
}

/** The per-user index keys of a user under every key of the keyring (rotation changes them). */
export function userKeysOf(
  context: ManagerContext,
  userID: string,
): { key: ServerKey; userKey: string }[] {
  return [...context.keyring.byID.values()].map((key) => ({
    key,
    userKey: userKeyFor(context, key, userID),
  }));
}

/** The store key of a session's device record. */
export function deviceStoreKey(context: ManagerContext, sessionStoreKey: string): string {
  return toHex(context.crypto.hash(concatBytes(DEVICE_KEY_LABEL, utf8(sessionStoreKey)), 32));
}

function deviceKey(context: ManagerContext, key: ServerKey): Uint8Array {
  return context.crypto.hash(DEVICE_SEAL_LABEL, 32, key.master);
}

/** Seals a device record under the sealing server key. */
export function sealDevice(context: ManagerContext, device: DeviceInfo): Uint8Array {
  const sealing = context.keyring.sealing;
  return sealRecord(
    context.crypto,
    sealing,
    deviceKey(context, sealing),
    utf8(JSON.stringify(device)),
  );
}

/** Opens a device record, or `undefined` when it does not open under the keyring. */
export function openDevice(
  context: ManagerContext,
  keyring: Keyring,
  record: Uint8Array,
): DeviceInfo | undefined {
  if (record.length < HEADER_BYTES + 16 || record[0] !== FORMAT_VERSION) return undefined;
  const key = keyring.byID.get(recordKeyID(record));
  if (key === undefined) return undefined;
  const text = openText(
    context.crypto,
    record.subarray(HEADER_BYTES),
    record.subarray(5, HEADER_BYTES),
    deviceKey(context, key),
  );
  if (typeof text !== 'string') return undefined;
  try {
    const device = JSON.parse(text) as DeviceInfo;
    const isValid =
      typeof device.s === 'string' && typeof device.u === 'string' && typeof device.c === 'number';
    return isValid ? device : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Deletes a session's record, and its device record when it was bound to a user on a store with
 * a per-user index.
 */
export async function removeSession(
  context: ManagerContext,
  storeKey: string,
  hadUser: boolean,
): Promise<void> {
  await guard(context, 'delete', () => context.store.delete(storeKey));
  if (hadUser && context.store.listByUser !== undefined) {
    const device = deviceStoreKey(context, storeKey);
    await guard(context, 'delete', () => context.store.delete(device));
  }
}

/** Writes the device record of a logged-in session (first, so no session escapes the index). */
export async function writeDevice(
  context: ManagerContext,
  storeKey: string,
  meta: { c: number; x: number; u: UserBinding },
  origin: { ip: string | undefined; userAgent: string | undefined },
  now: number,
): Promise<void> {
  const device: DeviceInfo = {
    s: storeKey,
    u: meta.u.i,
    c: meta.c,
    t: now,
    m: meta.u.m,
    k: meta.u.k,
  };
  const agent = coarseUserAgent(origin.userAgent);
  if (agent !== undefined) device.ua = agent;
  if (meta.u.p === true && origin.ip !== undefined) device.ip = origin.ip;
  const record = sealDevice(context, device);
  const userKey = userKeyFor(context, context.keyring.sealing, meta.u.i);
  const key = deviceStoreKey(context, storeKey);
  await guard(context, 'set', () => context.store.set(key, record, { expiresAt: meta.x, userKey }));
}

const BROWSERS: [RegExp, string][] = [
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\/|FxiOS/, 'Firefox'],
  [/Chrome\/|CriOS|Chromium/, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/curl\//, 'curl'],
];
const SYSTEMS: [RegExp, string][] = [
  [/Windows/, 'Windows'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Linux/, 'Linux'],
];

/** A coarse description of a User-Agent header ("Firefox on Linux"), never the header itself. */
export function coarseUserAgent(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const browser = BROWSERS.find(([pattern]) => pattern.test(header))?.[1] ?? 'Other browser';
  const system = SYSTEMS.find(([pattern]) => pattern.test(header))?.[1];
  return system === undefined ? browser : `${browser} on ${system}`;
}
