/**
 * Session data of a chosen size for the benchmarks: a realistic object (a user's profile, roles,
 * preferences and a cart of items) whose JSON is as long as the target, to the byte.
 */
import type { JSONValue } from '../dist/index.js';

/** The shape of the benchmark's session data. */
export type BenchData = Record<string, JSONValue>;

/** A session secret for benchmarks only (not a real one). */
export const BENCH_SECRET = 'pithos-bench-secret-5c1e9a7f03d24b8e96a1f2c7d0b43e58';

function item(i: number): JSONValue {
  return {
    sku: `SKU-${(104_729 * (i + 1)) % 1_000_000}`,
    name: ['Cotton T-shirt, M', 'Espresso beans 1 kg', 'USB-C cable 2 m', 'Notebook A5'][i % 4],
    qty: 1 + (i % 3),
    price: 1999 + i * 37,
  } as JSONValue;
}

/** Session data whose `JSON.stringify` is exactly `bytes` long (at least about 170). */
export function sampleData(bytes: number): BenchData {
  const cart: JSONValue[] = [];
  const data: BenchData = {
    userID: 'usr_8f3a2c91d4e7b05a',
    name: 'Ada Lovelace',
    roles: ['editor', 'viewer'],
    prefs: { theme: 'dark', locale: 'en-GB' },
    counter: 0,
    cart,
    lastPage: '',
  };
  const length = (): number => JSON.stringify(data).length;
  for (let i = 0; length() + JSON.stringify(item(i)).length + 1 <= bytes; i++) cart.push(item(i));
  data.lastPage = `/${'p'.repeat(Math.max(0, bytes - length() - 1))}`;
  return data;
}
