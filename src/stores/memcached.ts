/**
 * The memcached store: sealed records in memcached, through the application's own `memjs`
 * client. Available from `pithos/memcached`.
 *
 * A record lives under `${prefix}${storeKey}` as an 8-byte expiry header (the plaintext
 * `expiresAt`, a big-endian float64 of milliseconds) and the sealed record. Memcached expires
 * records itself, so there is no `prune`; it cannot list keys, so there is no per-user index.
 * Compare-and-set uses memcached's CAS values. memjs 1.x has no `gets`/`cas` and its `get` hides
 * the CAS value, so the store sends binary-protocol requests through memjs's public `perform`
 * (which memjs's own `get` and `set` use); this also bypasses any `serializer` on the client.
 *
 * @module
 */
import { equalBytes } from '../core/bytes.ts';
import { ConfigError, StoreError } from '../core/errors.ts';
import { MAX_TIMEOUT_MS, type Store, type StoreSetOptions } from '../core/store.ts';
import { isStoreKey } from '../core/token.ts';

/** Options of `memcachedStore`. */
export interface MemcachedStoreOptions {
  /**
   * A `memjs` client, created by the application. Bound how long memjs itself waits with its
   * options `timeout` (seconds per request, default 0.5), `conntimeout` (seconds to connect,
   * default twice `timeout`), `retries` (attempts, default 2) and `retry_delay` (seconds between
   * attempts, default 0.2). Pass `logger: { log() {} }` to silence its console logging.
   *
   * @example `memjs.Client.create('127.0.0.1:11211', { timeout: 0.5, retries: 2 })`
   */
  client: MemcachedClient;
  /**
   * Put in front of every store key: printable ASCII without spaces, at most 186 bytes (memcached
   * keys are at most 250 bytes and a store key takes 64). Default `'pithos:'`.
   *
   * @example `'myapp:sessions:'`
   */
  prefix?: string;
  /**
   * Longest wait for one memcached request, in milliseconds, after which the operation fails
   * with a `StoreError` whatever memjs is still doing (a write in flight may still land).
   * Default 2000.
   *
   * @example `500`
   */
  timeoutMs?: number;
  /**
   * Milliseconds since the epoch, to turn `expiresAt` into memcached expirations and to check the
   * expiry header on reads; inject the manager's clock in tests. Default `Date.now`.
   *
   * @example `() => fakeNow`
   */
  clock?: () => number;
}

/** The part of a memjs response the store reads. */
export interface MemcachedResponse {
  header: { status?: number; cas?: Uint8Array };
  val: Uint8Array;
}

/** The part of a `memjs` (1.x) client the store uses: its generic request call and counter. */
export interface MemcachedClient {
  readonly seq: number;
  incrSeq(): void;
  perform(
    key: string,
    request: Uint8Array,
    seq: number,
    callback: (error: Error | null, response?: MemcachedResponse | null) => void,
    /** Attempts, the client's `retries` option when absent. */
    retries?: number,
  ): void;
}

/** A memcached store: compare-and-set and native expiry; no per-user index, no `prune`. */
export interface MemcachedStore extends Store {
  compareAndSet: NonNullable<Store['compareAndSet']>;
}

const NAME = 'memcached';
const HEADER_BYTES = 8;
/** Memcached reads an expiration above 30 days as a unix timestamp, not as seconds from now. */
const MAX_RELATIVE_SECONDS = 60 * 60 * 24 * 30;
const MAX_PREFIX_BYTES = 250 - 64;
const OPCODE = { get: 0x00, set: 0x01, add: 0x02, delete: 0x04 } as const;
const STATUS = { ok: 0x00, notFound: 0x01, exists: 0x02 } as const;
const REASONS: Record<number, string> = { 3: 'value too large', 5: 'not stored', 130: 'no memory' };

interface Frame {
  extras?: Uint8Array;
  value?: Uint8Array;
  cas?: Uint8Array | undefined;
}

/** A live record and its plaintext expiry. */
interface Sealed {
  record: Uint8Array;
  expiresAt: number;
}

/** What memcached held under a key when read: its live record, if any, and its CAS value. */
interface Version {
  key: string;
  current: Sealed | undefined;
  cas: Uint8Array | undefined;
}

/**
 * What `versions` remembers of a record: never the record itself, nor a view into memcached's
 * response. V8's young-generation collector keeps a WeakMap's values alive whatever becomes of
 * their keys, so a value that reached its key would keep every record read until a full
 * collection.
 */
interface Known {
  key: string;
  expiresAt: number;
  cas: Uint8Array;
}

/** A binary-protocol request: 24-byte header, extras, key, value. */
function encodeRequest(opcode: number, key: string, seq: number, frame: Frame): Uint8Array {
  const keyBytes = new TextEncoder().encode(key);
  const { extras = new Uint8Array(0), value = new Uint8Array(0), cas } = frame;
  const body = extras.length + keyBytes.length + value.length;
  const bytes = new Uint8Array(24 + body);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 0x80);
  view.setUint8(1, opcode);
  view.setUint16(2, keyBytes.length);
  view.setUint8(4, extras.length);
  view.setUint32(8, body);
  view.setUint32(12, seq);
  if (cas) bytes.set(cas.subarray(0, 8), 16);
  bytes.set(extras, 24);
  bytes.set(keyBytes, 24 + extras.length);
  bytes.set(value, 24 + extras.length + keyBytes.length);
  return bytes;
}

/**
 * The extras of `set` and `add`: 4 bytes of flags (unused), then the expiration in whole seconds,
 * or as a unix timestamp beyond 30 days. One second more than the time left, rounded up:
 * memcached's clock counts whole seconds and may expire an item up to a second early, and the
 * record's own expiry header keeps reads exact. `undefined` when `expiresAt` has already passed.
 */
function expirationExtras(expiresAt: number, now: number): Uint8Array | undefined {
  const left = Math.ceil((expiresAt - now) / 1000);
  if (!(left > 0)) return undefined;
  const seconds = left + 1;
  const extras = new Uint8Array(8);
  // memcached compares a timestamp with the real time: the same time left, counted from it.
  const absolute = Math.min(Math.ceil((Date.now() + expiresAt - now) / 1000) + 1, 0xffff_ffff);
  new DataView(extras.buffer).setUint32(4, seconds <= MAX_RELATIVE_SECONDS ? seconds : absolute);
  return extras;
}

function encodeValue(record: Uint8Array, expiresAt: number): Uint8Array {
  const value = new Uint8Array(HEADER_BYTES + record.length);
  new DataView(value.buffer).setFloat64(0, expiresAt);
  value.set(record, HEADER_BYTES);
  return value;
}

/** The record in a stored value, or `undefined` when its expiry header has passed. */
function decodeValue(value: Uint8Array, now: number): Sealed | undefined {
  if (value.length < HEADER_BYTES) return undefined;
  const expiresAt = new DataView(value.buffer, value.byteOffset, HEADER_BYTES).getFloat64(0);
  // Memcached counts whole seconds, so it may keep a record up to a second or two past expiresAt.
  if (!(now < expiresAt)) return undefined;
  return { record: new Uint8Array(value.subarray(HEADER_BYTES)), expiresAt };
}

function checkKey(key: string): void {
  if (isStoreKey(key)) return;
  throw new StoreError(NAME, 'refused a key that is not a store key', {
    code: 'STORE_KEY_INVALID',
  });
}

function checkOptions(prefix: string, timeoutMs: number): void {
  if (typeof prefix !== 'string' || !/^[\x21-\x7e]*$/.test(prefix)) {
    throw new ConfigError('memcached store: prefix must be printable ASCII without spaces');
  }
  if (prefix.length > MAX_PREFIX_BYTES) {
    throw new ConfigError(`memcached store: prefix must be at most ${MAX_PREFIX_BYTES} bytes`);
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new ConfigError(
      `memcached store: timeoutMs must be a positive number of milliseconds, at most ${MAX_TIMEOUT_MS}`,
    );
  }
}

/** Runs `body`, turning any failure into a `StoreError` naming memcached that keeps its cause. */
async function run<T>(operation: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError(NAME, `${operation} failed`, { cause: error });
  }
}

/** The status of a response: ok, not found or exists; anything else throws. */
function statusOf(operation: string, response: MemcachedResponse): number {
  const status = response.header.status ?? STATUS.ok;
  if (status <= STATUS.exists) return status;
  const reason = REASONS[status] ?? `status ${status}`;
  throw new StoreError(NAME, `${operation} failed: ${reason}`, { cause: response.header });
}

/**
 * Creates a memcached store.
 *
 * @example
 * ```ts
 * import memjs from 'memjs';
 * const client = memjs.Client.create('127.0.0.1:11211', { timeout: 0.5, retries: 2 });
 * const manager = createSessionManager({ store: memcachedStore({ client }), secret });
 * ```
 */
export function memcachedStore(options: MemcachedStoreOptions): MemcachedStore {
  const { client } = options;
  const prefix = options.prefix ?? 'pithos:';
  const timeoutMs = options.timeoutMs ?? 2_000;
  const clock = options.clock ?? Date.now;
  checkOptions(prefix, timeoutMs);
  // The version each record that `get` returned was read at, so that a compare-and-set expecting
  // that very record (as the manager does) needs no second read. Weak, so it needs no bound.
  const versions = new WeakMap<Uint8Array, Known>();

  function remember(key: string, record: Uint8Array, expiresAt: number, cas?: Uint8Array): void {
    if (cas === undefined) return;
    // A copy of the 8 bytes: the response's view would keep its whole read buffer alive.
    versions.set(record, { key, expiresAt, cas: Uint8Array.from(cas) });
  }

  /** Sends one request and waits for its response, at most `timeoutMs`. */
  function send(opcode: number, key: string, frame: Frame = {}): Promise<MemcachedResponse> {
    return new Promise((resolve, reject) => {
      const fail = () => reject(new Error(`no answer from memcached within ${timeoutMs} ms`));
      const timer = setTimeout(fail, timeoutMs);
      try {
        client.incrSeq();
        // memjs wraps its counter into a signed 32-bit number; the opaque field is unsigned.
        const seq = client.seq >>> 0;
        // memjs sends a request again when its reply is slow; a second `add` or guarded write
        // would then find the first one's record and report that it did not write. Those go once.
        const once = opcode === OPCODE.add || frame.cas !== undefined;
        client.perform(
          key,
          encodeRequest(opcode, key, seq, frame),
          seq,
          (error, response) => {
            clearTimeout(timer);
            if (error || !response) reject(error ?? new Error('memcached gave no response'));
            else resolve(response);
          },
          once ? 1 : undefined,
        );
      } catch (error) {
        clearTimeout(timer);
        reject(error);
      }
    });
  }

  async function read(key: string): Promise<Version> {
    const response = await send(OPCODE.get, key);
    if (statusOf('get', response) !== STATUS.ok) return { key, current: undefined, cas: undefined };
    return { key, current: decodeValue(response.val, clock()), cas: response.header.cas };
  }

  /** Writes with `set` or `add`, guarded by `frame.cas` if any; the response if it wrote. */
  async function write(opcode: number, key: string, frame: Frame) {
    const response = await send(opcode, key, frame);
    return statusOf('set', response) === STATUS.ok ? response : undefined;
  }

  async function remove(key: string, cas?: Uint8Array): Promise<boolean> {
    return statusOf('delete', await send(OPCODE.delete, key, { cas })) === STATUS.ok;
  }

  /** The version `expected` was read at, if this store returned it for `key`. */
  function knownVersion(key: string, expected: Uint8Array | undefined): Version | undefined {
    if (expected === undefined) return undefined;
    const known = versions.get(expected);
    if (known === undefined || known.key !== key) return undefined;
    // Past its expiry header the record reads as absent, and absent is not `expected`.
    return clock() < known.expiresAt
      ? { key, current: { record: expected, expiresAt: known.expiresAt }, cas: known.cas }
      : { key, current: undefined, cas: undefined };
  }

  /** Writes `record` over `version` unless memcached changed since; whether it wrote. */
  async function swap(version: Version, record: Uint8Array, expiresAt: number): Promise<boolean> {
    const { key, cas } = version;
    if (cas?.every((byte) => byte === 0)) {
      throw new StoreError(NAME, 'compare-and-set needs CAS, which this memcached disables (-C)');
    }
    const extras = expirationExtras(expiresAt, clock());
    // Writing an expired record leaves the key absent; a delete guarded by CAS keeps that atomic.
    if (extras === undefined) return cas === undefined || (await remove(key, cas));
    // Nothing there: `add` creates only if still absent. Something there (maybe past its expiry
    // header): `set` with its CAS value, which memcached refuses if anything wrote since.
    const value = encodeValue(record, expiresAt);
    const written = await write(cas ? OPCODE.set : OPCODE.add, key, { extras, value, cas });
    if (written === undefined) return false;
    remember(key, record, expiresAt, written.header.cas);
    return true;
  }

  return {
    name: NAME,
    async get(key) {
      checkKey(key);
      return run('get', async () => {
        const version = await read(prefix + key);
        const { current } = version;
        if (current !== undefined)
          remember(version.key, current.record, current.expiresAt, version.cas);
        return version.current?.record;
      });
    },
    async set(key, record, { expiresAt }: StoreSetOptions) {
      checkKey(key);
      return run('set', async () => {
        const extras = expirationExtras(expiresAt, clock());
        const value = encodeValue(record, expiresAt);
        // A record already past its expiry must read as absent: remove whatever was there.
        if (extras === undefined) await remove(prefix + key);
        else await write(OPCODE.set, prefix + key, { extras, value });
      });
    },
    async delete(key) {
      checkKey(key);
      return run('delete', async () => {
        await remove(prefix + key);
      });
    },
    async compareAndSet(key, expected, record, { expiresAt }) {
      checkKey(key);
      return run('compareAndSet', async () => {
        const version = knownVersion(prefix + key, expected) ?? (await read(prefix + key));
        const current = version.current?.record;
        const matches =
          current === undefined
            ? expected === undefined
            : expected !== undefined && equalBytes(current, expected);
        return matches && swap(version, record, expiresAt);
      });
    },
  };
}
