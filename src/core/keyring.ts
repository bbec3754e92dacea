/**
 * The server keyring: the application's secrets turned into keys with ids. The first secret
 * seals; every secret opens the records that name its key id. See `docs/FORMAT.md`.
 *
 * @module
 */
import { concatBytes, utf8 } from './bytes.ts';
import type { CryptoProvider } from './crypto.ts';
import { ConfigError } from './errors.ts';

/** A server secret: at least 32 bytes, as a string (its UTF-8 bytes count) or raw bytes. */
export type Secret = string | Uint8Array;

/** One server key, derived from one secret. */
export interface ServerKey {
  /** 32-bit id written into every record sealed under this key. */
  readonly id: number;
  /** 32-byte BLAKE2b key from which session keys and event hashes are derived. */
  readonly master: Uint8Array;
}

/** The keys of a manager: the sealing key first, and every key by id. */
export interface Keyring {
  readonly sealing: ServerKey;
  readonly byID: ReadonlyMap<number, ServerKey>;
}

const SECRET_LABEL = utf8('pithos:secret:v1');
const KEY_ID_LABEL = utf8('pithos:key-id:v1');
const MIN_SECRET_BYTES = 32;
const HOW_TO =
  'generate one with `openssl rand -base64 32` or `node -p "crypto.randomBytes(32).toString(\'base64url\')"`';

function secretBytes(secret: Secret | undefined, index: number): Uint8Array {
  if (secret === undefined || secret === null || secret === '') {
    throw new ConfigError(
      `secret #${index + 1} is missing (is the environment variable set?): ${HOW_TO}`,
      'SECRET_WEAK',
    );
  }
  const bytes = typeof secret === 'string' ? utf8(secret) : secret;
  if (!(bytes instanceof Uint8Array)) {
    throw new ConfigError(`secret #${index + 1} must be a string or a Uint8Array`, 'SECRET_WEAK');
  }
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `secret #${index + 1} has ${bytes.length} bytes; at least ${MIN_SECRET_BYTES} random bytes are needed: ${HOW_TO}`,
      'SECRET_WEAK',
    );
  }
  // One repeated byte, or (for a string) one repeated character, such as 'é' 16 times.
  const isRepeated =
    bytes.every((byte) => byte === bytes[0]) ||
    (typeof secret === 'string' && new Set(secret).size === 1);
  if (isRepeated) {
    throw new ConfigError(
      `secret #${index + 1} is one repeated character, not a random secret: ${HOW_TO}`,
      'SECRET_WEAK',
    );
  }
  return bytes;
}

/** Derives the server key of one secret. */
export function deriveServerKey(crypto: CryptoProvider, secret: Uint8Array): ServerKey {
  const master = crypto.hash(concatBytes(SECRET_LABEL, secret), 32);
  const idBytes = crypto.hash(KEY_ID_LABEL, 16, master);
  const id = new DataView(idBytes.buffer, idBytes.byteOffset, 4).getUint32(0);
  return { id, master };
}

/** Builds the keyring from `secret` or `secrets`, validating every one of them. */
export function createKeyring(
  crypto: CryptoProvider,
  options: { secret?: Secret | undefined; secrets?: readonly (Secret | undefined)[] | undefined },
): Keyring {
  if (options.secret !== undefined && options.secrets !== undefined) {
    throw new ConfigError('give either `secret` or `secrets`, not both');
  }
  if (options.secrets !== undefined && !Array.isArray(options.secrets)) {
    throw new ConfigError(
      '`secrets` must be an array (newest first); for one secret, pass `secret` or `secrets: [value]`',
    );
  }
  const secrets = options.secrets ?? (options.secret === undefined ? [] : [options.secret]);
  if (secrets.length === 0) {
    throw new ConfigError(`a server secret is required (\`secret\` or \`secrets\`): ${HOW_TO}`);
  }
  const keys = secrets.map((secret, index) => deriveServerKey(crypto, secretBytes(secret, index)));
  const byID = new Map<number, ServerKey>();
  for (const key of keys) {
    if (byID.has(key.id)) {
      throw new ConfigError('two secrets are the same (or share a key id): remove the duplicate');
    }
    byID.set(key.id, key);
  }
  return { sealing: keys[0] as ServerKey, byID };
}
