/**
 * The sealed record: the byte format stores hold. See `docs/FORMAT.md`.
 *
 * ```
 * offset 0   1 byte    format version (1)
 * offset 1   4 bytes   key id of the server key, big-endian
 * offset 5   24 bytes  random nonce
 * offset 29  …         XSalsa20-Poly1305 secretbox: 16-byte tag, then the ciphertext of the
 *                      UTF-8 JSON payload {"m": metadata, "d": application data}
 * ```
 *
 * @module
 */
import { fromUTF8, utf8 } from './bytes.ts';
import type { CryptoProvider } from './crypto.ts';
import type { Keyring, ServerKey } from './keyring.ts';
import { deriveSessionKey, FORMAT_VERSION, type Token } from './token.ts';

/** Bytes before the secretbox: version, key id, nonce. */
export const HEADER_BYTES = 29;
/** Bytes a record adds to its JSON payload: header and tag. */
export const RECORD_OVERHEAD: number = HEADER_BYTES + 16;
const NONCE_OFFSET = 5;

/** Session metadata, sealed with the data. Times are milliseconds since the epoch. */
export interface RecordMeta {
  /** Created at. */
  c: number;
  /** Last written (the idle timeout counts from here). */
  t: number;
  /** Idle timeout of this session, seconds. */
  i: number;
  /** Absolute deadline. */
  x: number;
  /** Bound client address, when IP binding is on. */
  ip?: string;
  /** User binding, reserved for `pithos/auth`. */
  u?: unknown;
  /** Flash values waiting to be read. */
  f?: Record<string, unknown>;
}

/** The contents of a record that opened. */
export interface OpenedRecord {
  readonly meta: RecordMeta;
  readonly data: Record<string, unknown>;
  /** The server key the record was sealed under. */
  readonly serverKey: ServerKey;
  /** The session key under that server key. */
  readonly sessionKey: Uint8Array;
  /** The store key of the token it was opened with: the session key belongs to that token. */
  readonly storeKey: string;
}

/** Why a record did not open. */
export type OpenFailure = 'version' | 'unknown-secret' | 'tampered' | 'corrupt';

/** The moment a record stops being valid: its idle expiry, never past its absolute deadline. */
export function expiresAt(meta: RecordMeta): number {
  return Math.min(meta.t + meta.i * 1000, meta.x);
}

/** Seals a JSON payload into a record under a server key and its session key. */
export function sealRecord(
  crypto: CryptoProvider,
  serverKey: ServerKey,
  sessionKey: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const record = new Uint8Array(RECORD_OVERHEAD + payload.length);
  record[0] = FORMAT_VERSION;
  new DataView(record.buffer).setUint32(1, serverKey.id);
  const nonce = record.subarray(NONCE_OFFSET, HEADER_BYTES);
  nonce.set(crypto.randomBytes(24));
  crypto.seal(record.subarray(HEADER_BYTES), payload, nonce, sessionKey);
  return record;
}

/** Encodes metadata and data as the JSON payload. The data must already be validated. */
export function encodePayload(meta: RecordMeta, data: Record<string, unknown>): Uint8Array {
  return utf8(`{"m":${JSON.stringify(meta)},"d":${JSON.stringify(data)}}`);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodePayload(
  bytes: Uint8Array,
): { meta: RecordMeta; data: Record<string, unknown> } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUTF8(bytes));
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || !isObject(parsed.m) || !isObject(parsed.d)) return undefined;
  const meta = parsed.m;
  const valid =
    isFiniteNumber(meta.c) &&
    isFiniteNumber(meta.t) &&
    isFiniteNumber(meta.i) &&
    isFiniteNumber(meta.x) &&
    (meta.ip === undefined || typeof meta.ip === 'string') &&
    (meta.f === undefined || isObject(meta.f));
  return valid ? { meta: meta as unknown as RecordMeta, data: parsed.d } : undefined;
}

/** Opens a record for a token, or says why it cannot be opened. Tries one key, never all. */
export function openRecord(
  crypto: CryptoProvider,
  keyring: Keyring,
  token: Token,
  record: Uint8Array,
): OpenedRecord | OpenFailure {
  if (record.length < RECORD_OVERHEAD) return 'tampered';
  if (record[0] !== FORMAT_VERSION) return 'version';
  const keyID = new DataView(record.buffer, record.byteOffset, record.length).getUint32(1);
  const serverKey = keyring.byID.get(keyID);
  if (serverKey === undefined) return 'unknown-secret';
  const sessionKey = deriveSessionKey(crypto, serverKey, token);
  const nonce = record.subarray(NONCE_OFFSET, HEADER_BYTES);
  const payload = crypto.open(record.subarray(HEADER_BYTES), nonce, sessionKey);
  if (payload === undefined) return 'tampered';
  const decoded = decodePayload(payload);
  if (decoded === undefined) return 'corrupt';
  // A literal, not `{ ...decoded, serverKey, sessionKey }`: that spread takes V8's slow path and
  // cost more than the secretbox open on every load (docs/BENCHMARKS.md).
  return {
    meta: decoded.meta,
    data: decoded.data,
    serverKey,
    sessionKey,
    storeKey: token.storeKey,
  };
}
