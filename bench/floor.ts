/**
 * The irreducible work of one session cycle at a given data size: one libsodium secretbox open
 * and seal (sodium-native directly), one `JSON.parse` and `JSON.stringify` of the data and one
 * keyed BLAKE2b hash (32 bytes out, as the per-request key derivation). `bench/core.ts` sets
 * pithos's cycle against it; `bench/http-server.ts` measures it on the server's own core, for the
 * best ratio any session library doing this work could reach.
 */
import { createRequire } from 'node:module';
import type { BenchData } from './data.ts';

/** The few sodium-native functions the floor uses. */
interface Sodium {
  randombytes_buf(buffer: Uint8Array): void;
  crypto_generichash(output: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
}

const sodium = createRequire(import.meta.url)('sodium-native') as Sodium;

/** A loop of `iterations` of the measured work. */
export type Work = (iterations: number) => unknown;

/** The parts of the irreducible work at one size, each as a loop, and all of them together. */
export function floor(data: BenchData): Record<'seal' | 'json' | 'hash' | 'all', Work> {
  const json = JSON.stringify(data);
  const plaintext = new TextEncoder().encode(json);
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(24);
  sodium.randombytes_buf(key);
  sodium.randombytes_buf(nonce);
  const box = new Uint8Array(plaintext.length + 16);
  sodium.crypto_secretbox_easy(box, plaintext, nonce, key);
  const hashInput = new Uint8Array(32);
  sodium.randombytes_buf(hashInput);
  let sink = 0;
  const openSeal = (): void => {
    const opened = new Uint8Array(box.length - 16);
    if (!sodium.crypto_secretbox_open_easy(opened, box, nonce, key)) throw new Error('open failed');
    const sealed = new Uint8Array(opened.length + 16);
    sodium.crypto_secretbox_easy(sealed, opened, nonce, key);
    sink += sealed[0] as number;
  };
  const parseStringify = (): void => {
    sink += JSON.stringify(JSON.parse(json)).length;
  };
  const hash = (): void => {
    const output = new Uint8Array(32);
    sodium.crypto_generichash(output, hashInput, key);
    sink += output[0] as number;
  };
  const loop =
    (...steps: (() => void)[]): Work =>
    (iterations) => {
      for (let i = 0; i < iterations; i++) for (const step of steps) step();
      return sink;
    };
  return {
    seal: loop(openSeal),
    json: loop(parseStringify),
    hash: loop(hash),
    all: loop(openSeal, parseStringify, hash),
  };
}

/** µs of CPU per iteration of the irreducible work, as the median of `rounds` runs of ~`ms`. */
export function measureFloor(data: BenchData, rounds = 5, ms = 200): number {
  const work = floor(data).all;
  let iterations = 1000;
  const cpuOf = (count: number): number => {
    const before = process.cpuUsage();
    work(count);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / count;
  };
  // Warm up, and size a run to about `ms` of CPU.
  for (let spent = 0; spent < ms * 1000; iterations *= 2) spent = cpuOf(iterations) * iterations;
  const samples = Array.from({ length: rounds }, () => cpuOf(iterations)).sort((a, b) => a - b);
  return samples[Math.floor(rounds / 2)] as number;
}

/** The irreducible work on one sealed record (a 24-byte nonce, then a secretbox), per request. */
export interface RecordWork {
  /** A new sealed record of the data. */
  create(): Uint8Array;
  /** Hashes the cookie, opens the record and parses it: a read. */
  read(cookie: string, record: Uint8Array): BenchData;
  /** A read, then the counter changed and the data stringified and sealed under a new nonce. */
  change(cookie: string, record: Uint8Array): Uint8Array;
}

/**
 * The least any library that keeps encrypted server-side sessions does per request, as a request
 * handler would do it: a keyed BLAKE2b of the cookie, one secretbox open, UTF-8 decoding and
 * `JSON.parse`; for a change also `JSON.stringify`, UTF-8 encoding and a seal under a fresh random
 * nonce. No expiry, no validation, no token format, no store abstraction. Plaintexts and hash
 * inputs go through one long-lived scratch buffer, as a careful implementation would do.
 */
export function recordWork(data: BenchData): RecordWork {
  const key = new Uint8Array(32);
  sodium.randombytes_buf(key);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const scratch = new Uint8Array(64 * 1024);
  const hash = new Uint8Array(new ArrayBuffer(32));
  const seal = (json: string): Uint8Array => {
    const { written } = encoder.encodeInto(json, scratch);
    const record = new Uint8Array(24 + written + 16);
    const nonce = record.subarray(0, 24);
    sodium.randombytes_buf(nonce);
    sodium.crypto_secretbox_easy(record.subarray(24), scratch.subarray(0, written), nonce, key);
    return record;
  };
  const read = (cookie: string, record: Uint8Array): BenchData => {
    const { written } = encoder.encodeInto(cookie, scratch);
    sodium.crypto_generichash(hash, scratch.subarray(0, written), key);
    const opened = scratch.subarray(0, record.length - 24 - 16);
    const box = record.subarray(24);
    if (!sodium.crypto_secretbox_open_easy(opened, box, record.subarray(0, 24), key)) {
      throw new Error('open failed');
    }
    return JSON.parse(decoder.decode(opened)) as BenchData;
  };
  const seed = JSON.stringify(data);
  return {
    create: () => seal(seed),
    read,
    change(cookie, record) {
      const parsed = read(cookie, record);
      parsed.counter = Number(parsed.counter) + 1;
      return seal(JSON.stringify(parsed));
    },
  };
}

/**
 * `recordWork` on records kept in a `Map` by cookie: a change per request, for
 * `bench/http-server.ts`'s `floor` server (the memory store's counterpart).
 */
export function floorRequestWork(data: BenchData): (cookie: string) => void {
  const work = recordWork(data);
  const records = new Map<string, Uint8Array>();
  return (cookie) => {
    const record = records.get(cookie);
    records.set(cookie, record === undefined ? work.create() : work.change(cookie, record));
  };
}

/**
 * The store of `requiredRequestWork`: a read, and a write that for a changed record (`previous`,
 * the record read) may compare-and-set over it, as issue 3 asks of every store.
 */
export interface RequiredStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, record: Uint8Array, previous?: Uint8Array): Promise<unknown>;
}

function mapStore(): RequiredStore {
  const records = new Map<string, Uint8Array>();
  return {
    get: async (key) => records.get(key),
    set: async (key, record) => {
      records.set(key, record);
    },
  };
}

/** Bytes before a record's secretbox in the required floor, as in pithos's format: version, key id, nonce. */
const REQUIRED_HEADER = 29;

/**
 * The floor plus only what issue 2 itself requires of every cycle, each part done as directly as
 * sodium-native and node allow, with no options, events, validation or merging:
 * - the token is read from the `Cookie` header by name and decoded from base64url (a 16-byte ID
 *   and a 32-byte key, as the issue fixes them);
 * - the store is indexed by a one-way hash of the ID (a BLAKE2b of the ID, in hex), and the
 *   session key is a keyed BLAKE2b of the token's key and that hash under the server secret (the
 *   floor's one hash stands for this one);
 * - the record carries a format version and the server key's id before the nonce, and its sealed
 *   JSON carries creation time, last write, idle timeout and absolute deadline, checked on the
 *   server on every load and written again on every change;
 * - the store is the issue's `Store` shape, whose methods return promises: a `get` and a `set`
 *   are awaited, and the caller awaits the commit before the response's headers leave.
 * What a server doing this reaches is the most any implementation of issue 2 can reach.
 *
 * `store` defaults to a `Map`, as the memory store. A header without the cookie starts a new
 * session under a random token, and the returned promise gives the `Set-Cookie` to send. With
 * `change` false, an existing session is only loaded and checked, not written.
 */
export function requiredRequestWork(
  data: BenchData,
  cookieName: string,
  store: RequiredStore = mapStore(),
): (cookieHeader: string, change?: boolean) => Promise<string | undefined> {
  const secret = new Uint8Array(32);
  sodium.randombytes_buf(secret);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const scratch = new Uint8Array(64 * 1024);
  const token = Buffer.alloc(48);
  const storeKeyBytes = Buffer.alloc(32);
  const keyMessage = new Uint8Array(64);
  const prefix = `${cookieName}=`;
  const seal = (json: string, sessionKey: Uint8Array): Uint8Array => {
    const { written } = encoder.encodeInto(json, scratch);
    const record = new Uint8Array(REQUIRED_HEADER + written + 16);
    record[0] = 1;
    const nonce = record.subarray(5, REQUIRED_HEADER);
    sodium.randombytes_buf(nonce);
    const box = record.subarray(REQUIRED_HEADER);
    sodium.crypto_secretbox_easy(box, scratch.subarray(0, written), nonce, sessionKey);
    return record;
  };
  const payload = (meta: { c: number; t: number; i: number; x: number }, body: unknown): string =>
    `{"m":{"c":${meta.c},"t":${meta.t},"i":${meta.i},"x":${meta.x}},"d":${JSON.stringify(body)}}`;
  return async (cookieHeader, change = true) => {
    const at = cookieHeader.indexOf(prefix);
    const value = at === -1 ? '' : cookieHeader.slice(at + prefix.length, at + prefix.length + 64);
    let created: string | undefined;
    if (value === '') {
      sodium.randombytes_buf(token);
      created = `${prefix}${token.toString('base64url')}; Path=/; HttpOnly; Secure; SameSite=Lax`;
    } else if (token.write(value, 0, 'base64url') !== 48) {
      throw new Error('not a token');
    }
    sodium.crypto_generichash(storeKeyBytes, token.subarray(0, 16));
    const storeKey = storeKeyBytes.toString('hex');
    keyMessage.set(token.subarray(16), 0);
    keyMessage.set(storeKeyBytes, 32);
    // Its own per request: a request's key must survive the awaits of the store, where other
    // requests run.
    const sessionKey = new Uint8Array(32);
    sodium.crypto_generichash(sessionKey, keyMessage, secret);
    const now = Date.now();
    const record = await store.get(storeKey);
    if (record === undefined) {
      const meta = { c: now, t: now, i: 86_400, x: now + 30 * 86_400_000 };
      await store.set(storeKey, seal(payload(meta, data), sessionKey));
      return created;
    }
    const opened = scratch.subarray(0, record.length - REQUIRED_HEADER - 16);
    const box = record.subarray(REQUIRED_HEADER);
    const nonce = record.subarray(5, REQUIRED_HEADER);
    if (!sodium.crypto_secretbox_open_easy(opened, box, nonce, sessionKey)) {
      throw new Error('open failed');
    }
    const parsed = JSON.parse(decoder.decode(opened)) as {
      m: { c: number; t: number; i: number; x: number };
      d: BenchData;
    };
    if (now >= Math.min(parsed.m.t + parsed.m.i * 1000, parsed.m.x)) throw new Error('expired');
    if (!change) return undefined;
    parsed.d.counter = Number(parsed.d.counter) + 1;
    parsed.m.t = now;
    await store.set(storeKey, seal(payload(parsed.m, parsed.d), sessionKey), record);
    return undefined;
  };
}
