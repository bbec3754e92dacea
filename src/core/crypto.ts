/**
 * The one narrow crypto seam of the core: XSalsa20-Poly1305 (NaCl secretbox), BLAKE2b and the
 * platform CSPRNG, from libsodium through `sodium-native` where it loads and from
 * `@noble/ciphers` / `@noble/hashes` otherwise. Both produce identical bytes.
 *
 * @module
 */
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { ConfigError } from './errors.ts';

/** Which implementation a manager uses: `auto` prefers libsodium and falls back to the portable one. */
export type CryptoChoice = 'auto' | 'native' | 'portable';

/** The primitives pithos needs, all synchronous. */
export interface CryptoProvider {
  /** `native` (libsodium through sodium-native) or `portable` (@noble). */
  readonly name: 'native' | 'portable';
  /** Fills a new array from the platform's CSPRNG. */
  randomBytes(length: number): Uint8Array;
  /** Fills `target` from the platform's CSPRNG. */
  randomFill(target: Uint8Array): void;
  /** BLAKE2b with an output of `length` bytes (16 to 64), keyed when `key` is given. */
  hash(message: Uint8Array, length: number, key?: Uint8Array): Uint8Array;
  /** Writes secretbox(plaintext) (tag first, as libsodium's `_easy` form) into `output`. */
  seal(output: Uint8Array, plaintext: Uint8Array, nonce: Uint8Array, key: Uint8Array): void;
  /**
   * The plaintext, or `undefined` when the box does not authenticate under this key. With `into`
   * (at least the plaintext's length), the native path writes the plaintext there and returns a
   * view of it, saving an allocation; the portable path may ignore it.
   */
  open(
    box: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
    into?: Uint8Array,
  ): Uint8Array | undefined;
}

/** The few sodium-native functions pithos calls. */
interface Sodium {
  randombytes_buf(buffer: Uint8Array): void;
  crypto_generichash(output: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
}

const TAG_BYTES = 16;

function loadSodium(): Sodium | undefined {
  // process.getBuiltinModule keeps this file free of a static Node import, so the core still
  // loads on runtimes without Node APIs and simply takes the portable path there.
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process;
  const nodeModule = nodeProcess?.getBuiltinModule?.('node:module') as
    | { createRequire(url: string): (id: string) => unknown }
    | undefined;
  if (nodeModule === undefined) return undefined;
  try {
    return nodeModule.createRequire(import.meta.url)('sodium-native') as Sodium;
  } catch {
    return undefined;
  }
}

const POOL_BYTES = 4096;

/** Random bytes served from a pool: `randomBytes` and `randomFill` of a provider. */
type RandomSource = Pick<CryptoProvider, 'randomBytes' | 'randomFill'>;

/**
 * Serves random bytes from a pool that `fill` refills from the CSPRNG, so a request costs one
 * system call per ~80 tokens and nonces instead of one each. Bytes are handed out once, copied,
 * and wiped from the pool.
 */
function pooled(fill: (pool: Uint8Array<ArrayBuffer>) => void): RandomSource {
  const pool = new Uint8Array(POOL_BYTES);
  let offset = POOL_BYTES;
  function randomFill(target: Uint8Array): void {
    const length = target.length;
    if (length > POOL_BYTES) {
      fill(target as Uint8Array<ArrayBuffer>);
      return;
    }
    if (offset + length > POOL_BYTES) {
      fill(pool);
      offset = 0;
    }
    target.set(pool.subarray(offset, offset + length));
    pool.fill(0, offset, offset + length);
    offset += length;
  }
  return {
    randomFill,
    randomBytes(length) {
      const bytes = new Uint8Array(length);
      randomFill(bytes);
      return bytes;
    },
  };
}

/**
 * sodium-native reaches an array's memory through its `.buffer`, and V8 keeps typed arrays of up
 * to 64 bytes inside its heap until that is first read, then moves them out: an allocation and a
 * copy for every small array libsodium sees once. So hash outputs and secretbox keys pass through
 * long-lived buffers (copied out or in, then wiped), which makes a hash almost twice as cheap.
 */
function nativeProvider(sodium: Sodium): CryptoProvider {
  const hashOutput = new Uint8Array(new ArrayBuffer(64));
  const outputs = new Map<number, Uint8Array>();
  const boxKey = new Uint8Array(new ArrayBuffer(32));
  /** Runs `box` with `key` copied into the long-lived key buffer, wiped afterwards. */
  function withKey<T>(key: Uint8Array, box: (key: Uint8Array) => T): T {
    if (key.length !== boxKey.length) return box(key); // sodium-native says what is wrong
    boxKey.set(key);
    try {
      return box(boxKey);
    } finally {
      boxKey.fill(0);
    }
  }
  return {
    name: 'native',
    ...pooled((bytes) => sodium.randombytes_buf(bytes)),
    hash(message, length, key) {
      let output = outputs.get(length);
      if (output === undefined) {
        output = length <= hashOutput.length ? hashOutput.subarray(0, length) : undefined;
        if (output === undefined) throw new RangeError('BLAKE2b gives at most 64 bytes');
        outputs.set(length, output);
      }
      if (key === undefined) sodium.crypto_generichash(output, message);
      else sodium.crypto_generichash(output, message, key);
      const result = output.slice();
      output.fill(0);
      return result;
    },
    seal(output, plaintext, nonce, key) {
      withKey(key, (k) => sodium.crypto_secretbox_easy(output, plaintext, nonce, k));
    },
    open(box, nonce, key, into) {
      if (box.length < TAG_BYTES) return undefined;
      const length = box.length - TAG_BYTES;
      const plaintext =
        into !== undefined && into.length >= length
          ? into.subarray(0, length)
          : new Uint8Array(length);
      const opened = withKey(key, (k) =>
        sodium.crypto_secretbox_open_easy(plaintext, box, nonce, k),
      );
      return opened ? plaintext : undefined;
    },
  };
}

const portable: CryptoProvider = {
  name: 'portable',
  // getRandomValues fills at most 65 536 bytes per call; the pool stays far below that.
  ...pooled((bytes) => globalThis.crypto.getRandomValues(bytes)),
  hash(message, length, key) {
    return blake2b(message, key === undefined ? { dkLen: length } : { dkLen: length, key });
  },
  seal(output, plaintext, nonce, key) {
    output.set(xsalsa20poly1305(key, nonce).encrypt(plaintext));
  },
  open(box, nonce, key) {
    if (box.length < TAG_BYTES) return undefined;
    try {
      return xsalsa20poly1305(key, nonce).decrypt(box);
    } catch {
      return undefined;
    }
  },
};

let native: CryptoProvider | null | undefined;

/** Whether libsodium (sodium-native) loaded on this runtime. */
export function hasNativeCrypto(): boolean {
  if (native === undefined) {
    const sodium = loadSodium();
    native = sodium === undefined ? null : nativeProvider(sodium);
  }
  return native !== null;
}

/**
 * The provider for a choice. `native` throws when sodium-native cannot load; `auto` falls back.
 */
export function cryptoProvider(choice: CryptoChoice = 'auto'): CryptoProvider {
  if (choice === 'portable') return portable;
  if (hasNativeCrypto() && native) return native;
  if (choice === 'native') {
    throw new ConfigError(
      'crypto: "native" needs sodium-native, which could not be loaded: install it, or use "auto"',
    );
  }
  return portable;
}
