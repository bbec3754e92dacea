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

/**
 * The irreducible work of one cycle as a request handler would do it, for `bench/http-server.ts`'s
 * `floor` server: per request, find the session's sealed record by its cookie in a `Map`, open it,
 * decode and parse its JSON, change the counter, stringify and encode it, seal it under a fresh
 * random nonce, store it, and hash the cookie with a keyed BLAKE2b. No expiry, no validation, no
 * token format, no store abstraction: the least any library that keeps encrypted server-side
 * sessions does per request, run where the work of a request runs.
 */
export function floorRequestWork(data: BenchData): (cookie: string) => void {
  const key = new Uint8Array(32);
  sodium.randombytes_buf(key);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  // Each record is one array: a 24-byte nonce, then the box. Plaintexts and hash inputs go
  // through one long-lived scratch buffer, as a careful implementation would do.
  const records = new Map<string, Uint8Array>();
  const scratch = new Uint8Array(64 * 1024);
  const hash = new Uint8Array(new ArrayBuffer(32));
  const seal = (cookie: string, json: string): void => {
    const { written } = encoder.encodeInto(json, scratch);
    const record = new Uint8Array(24 + written + 16);
    const nonce = record.subarray(0, 24);
    sodium.randombytes_buf(nonce);
    sodium.crypto_secretbox_easy(record.subarray(24), scratch.subarray(0, written), nonce, key);
    records.set(cookie, record);
  };
  const seed = JSON.stringify(data);
  return (cookie) => {
    const { written } = encoder.encodeInto(cookie, scratch);
    sodium.crypto_generichash(hash, scratch.subarray(0, written), key);
    const record = records.get(cookie);
    if (record === undefined) {
      seal(cookie, seed);
      return;
    }
    const opened = scratch.subarray(0, record.length - 24 - 16);
    if (
      !sodium.crypto_secretbox_open_easy(opened, record.subarray(24), record.subarray(0, 24), key)
    ) {
      throw new Error('open failed');
    }
    const parsed = JSON.parse(decoder.decode(opened)) as BenchData;
    parsed.counter = Number(parsed.counter) + 1;
    seal(cookie, JSON.stringify(parsed));
  };
}
