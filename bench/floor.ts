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
