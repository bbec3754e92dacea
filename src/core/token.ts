/**
 * The token (what the cookie carries), the store key and the session key. See `docs/FORMAT.md`.
 *
 * @module
 */
import { concatBytes, fromBase64URL, toBase64URL, toHex, utf8 } from './bytes.ts';
import type { CryptoProvider } from './crypto.ts';
import type { ServerKey } from './keyring.ts';

/** Bytes of the session ID inside the token (128 bits). */
export const ID_BYTES = 16;
/** Bytes of the per-session key inside the token (256 bits). */
export const TOKEN_KEY_BYTES = 32;
/** Length of the token in the cookie: base64url of 48 bytes. */
export const TOKEN_LENGTH = 64;
/** The record format version this code writes, bound into every session key. */
export const FORMAT_VERSION = 1;

const STORE_KEY_LABEL = utf8('pithos:store-key:v1');
const SESSION_KEY_LABEL = utf8('pithos:session-key:v1');
const HANDLE_LABEL = utf8('pithos:handle:v1');

/** A parsed token with the store key it maps to. */
export interface Token {
  /** The cookie value. */
  readonly value: string;
  /** The per-session key (32 bytes). */
  readonly key: Uint8Array;
  /** BLAKE2b-256 of the ID (32 bytes). */
  readonly storeKeyBytes: Uint8Array;
  /** Hex of `storeKeyBytes`: what the store indexes by. */
  readonly storeKey: string;
}

// The messages hashed on every request are built in buffers reused between (synchronous) calls,
// with the label written once; the secret parts are wiped after each hash.
const storeKeyMessage = concatBytes(STORE_KEY_LABEL, new Uint8Array(ID_BYTES));
const sessionKeyMessage = concatBytes(
  SESSION_KEY_LABEL,
  Uint8Array.of(FORMAT_VERSION),
  new Uint8Array(TOKEN_KEY_BYTES + 32),
);
const SESSION_KEY_TOKEN_KEY = SESSION_KEY_LABEL.length + 1;

function tokenFromBytes(crypto: CryptoProvider, bytes: Uint8Array, value: string): Token {
  // Byte loops rather than subarray(): V8 keeps arrays of up to 64 bytes inside its heap, and a
  // view of one first moves it out (an allocation and a copy, several times the cost of copying).
  for (let i = 0; i < ID_BYTES; i++) {
    storeKeyMessage[STORE_KEY_LABEL.length + i] = bytes[i] as number;
  }
  const storeKeyBytes = crypto.hash(storeKeyMessage, 32);
  storeKeyMessage.fill(0, STORE_KEY_LABEL.length);
  const key = new Uint8Array(TOKEN_KEY_BYTES);
  for (let i = 0; i < TOKEN_KEY_BYTES; i++) key[i] = bytes[ID_BYTES + i] as number;
  return { value, key, storeKeyBytes, storeKey: toHex(storeKeyBytes) };
}

/** A fresh random token from the platform's CSPRNG. */
export function generateToken(crypto: CryptoProvider): Token {
  const bytes = crypto.randomBytes(ID_BYTES + TOKEN_KEY_BYTES);
  return tokenFromBytes(crypto, bytes, toBase64URL(bytes));
}

/** The token in a cookie value, or `undefined` when it is not a well-formed token. */
export function parseToken(crypto: CryptoProvider, value: string): Token | undefined {
  if (value.length !== TOKEN_LENGTH) return undefined;
  const bytes = fromBase64URL(value);
  return bytes === undefined ? undefined : tokenFromBytes(crypto, bytes, value);
}

/** The key that seals and opens one session's record under one server key. */
export function deriveSessionKey(
  crypto: CryptoProvider,
  serverKey: ServerKey,
  token: Token,
): Uint8Array {
  sessionKeyMessage.set(token.key, SESSION_KEY_TOKEN_KEY);
  sessionKeyMessage.set(token.storeKeyBytes, SESSION_KEY_TOKEN_KEY + TOKEN_KEY_BYTES);
  const sessionKey = crypto.hash(sessionKeyMessage, 32, serverKey.master);
  sessionKeyMessage.fill(0, SESSION_KEY_TOKEN_KEY);
  return sessionKey;
}

/**
 * A keyed hash that names a session in events and logs without revealing anything that could be
 * turned back into its cookie or store key.
 */
export function sessionHandle(
  crypto: CryptoProvider,
  serverKey: ServerKey,
  token: Pick<Token, 'storeKeyBytes'>,
): string {
  return toHex(crypto.hash(concatBytes(HANDLE_LABEL, token.storeKeyBytes), 16, serverKey.master));
}

const USER_KEY_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Whether a string has the shape of a per-user index key: 16 to 128 base64url or hex characters
 * (the core writes 64 hex digits). Stores check it before any I/O.
 */
export function isUserKey(key: unknown): key is string {
  return typeof key === 'string' && USER_KEY_PATTERN.test(key);
}

/** Whether a string has the shape of a store key (64 lower-case hex digits). */
export function isStoreKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length !== 64) return false;
  // A loop rather than a regular expression: every store checks every key it is given.
  for (let i = 0; i < 64; i++) {
    const code = key.charCodeAt(i);
    const isDigit = code >= 48 && code <= 57; // 0-9
    const isHexLetter = code >= 97 && code <= 102; // a-f
    if (!isDigit && !isHexLetter) return false;
  }
  return true;
}
