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
import { utf8 } from './bytes.ts';
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
  /**
   * When the persistent cookie was last sent (ms), when that was before `t`: writes within
   * `touchInterval` of it do not send the unchanged token again. Absent means at `t`.
   */
  s?: number;
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

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
/** Payloads up to this size go through one reused buffer; larger ones get their own. */
const SCRATCH_LIMIT = 1 << 20;
let scratch = new Uint8Array(4096);

/**
 * A buffer of at least `length` bytes for a payload on its way in or out of a secretbox, reused
 * between calls (every use is synchronous and wipes what it wrote). Saves an allocation per seal
 * and per open.
 */
function scratchFor(length: number): Uint8Array {
  if (length <= scratch.length) return scratch;
  if (length > SCRATCH_LIMIT) return new Uint8Array(length);
  let size = scratch.length;
  while (size < length) size *= 2;
  scratch = new Uint8Array(size);
  return scratch;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] as number) << 24) |
      ((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number)) >>>
    0
  );
}

/** The key id of a record's server key (the caller checks the record's length first). */
export function recordKeyID(record: Uint8Array): number {
  return readUint32(record, 1);
}

/** Seals a payload into a record under a server key and its session key. */
export function sealRecord(
  crypto: CryptoProvider,
  serverKey: ServerKey,
  sessionKey: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const record = new Uint8Array(RECORD_OVERHEAD + payload.length);
  const id = serverKey.id;
  record[0] = FORMAT_VERSION;
  record[1] = id >>> 24;
  record[2] = (id >>> 16) & 255;
  record[3] = (id >>> 8) & 255;
  record[4] = id & 255;
  const nonce = record.subarray(NONCE_OFFSET, HEADER_BYTES);
  crypto.randomFill(nonce);
  crypto.seal(record.subarray(HEADER_BYTES), payload, nonce, sessionKey);
  return record;
}

/** The JSON payload of metadata and data. The data must already be validated. */
export function payloadText(meta: RecordMeta, data: Record<string, unknown>): string {
  // The metadata's fixed fields written directly (the same text JSON.stringify gives for finite
  // numbers): cheaper than walking an object on every commit.
  let text = `{"m":{"c":${meta.c},"t":${meta.t},"i":${meta.i},"x":${meta.x}`;
  if (meta.ip !== undefined) text += `,"ip":${JSON.stringify(meta.ip)}`;
  if (meta.u !== undefined) text += `,"u":${JSON.stringify(meta.u)}`;
  if (meta.f !== undefined) text += `,"f":${JSON.stringify(meta.f)}`;
  if (meta.s !== undefined) text += `,"s":${meta.s}`;
  return `${text}},"d":${JSON.stringify(data)}}`;
}

/**
 * Seals JSON text into a record (its UTF-8 is the payload). Returns the payload's size in bytes
 * instead when it is over `maxBytes`, sealing nothing.
 */
export function sealText(
  crypto: CryptoProvider,
  serverKey: ServerKey,
  sessionKey: Uint8Array,
  text: string,
  maxBytes: number,
): Uint8Array | number {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  const buffer = scratchFor(text.length * 3);
  const { written } = encoder.encodeInto(text, buffer);
  if (written > maxBytes) {
    buffer.fill(0, 0, written);
    return written;
  }
  const record = sealRecord(crypto, serverKey, sessionKey, buffer.subarray(0, written));
  buffer.fill(0, 0, written);
  return record;
}

/** Encodes metadata and data as the JSON payload's bytes. The data must already be validated. */
export function encodePayload(meta: RecordMeta, data: Record<string, unknown>): Uint8Array {
  return utf8(payloadText(meta, data));
}

/**
 * Opens a secretbox and decodes its plaintext as UTF-8 text: `undefined` when it does not
 * authenticate, `null` when it does but is not UTF-8.
 */
export function openText(
  crypto: CryptoProvider,
  box: Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
): string | null | undefined {
  const buffer = scratchFor(box.length);
  const plaintext = crypto.open(box, nonce, key, buffer);
  if (plaintext === undefined) return undefined;
  try {
    return decoder.decode(plaintext);
  } catch {
    return null;
  } finally {
    if (plaintext.buffer === buffer.buffer) buffer.fill(0, 0, plaintext.length);
  }
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodePayload(
  text: string,
): { meta: RecordMeta; data: Record<string, unknown> } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
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
    (meta.f === undefined || isObject(meta.f)) &&
    (meta.s === undefined || isFiniteNumber(meta.s));
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
  const serverKey = keyring.byID.get(recordKeyID(record));
  if (serverKey === undefined) return 'unknown-secret';
  const sessionKey = deriveSessionKey(crypto, serverKey, token);
  const nonce = record.subarray(NONCE_OFFSET, HEADER_BYTES);
  const text = openText(crypto, record.subarray(HEADER_BYTES), nonce, sessionKey);
  if (text === undefined) return 'tampered';
  const decoded = text === null ? undefined : decodePayload(text);
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
