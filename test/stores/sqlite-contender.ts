/**
 * A separate process racing others on one record of one SQLite file, for the compare-and-set
 * test: `node --import tsx sqlite-contender.ts <driver> <path> <key> <rounds> <ready>
 * <others>`. Each round reads
 * the record (a counter), and writes counter + 1 with compare-and-set; it prints how many of its
 * writes won. It starts once the files `<others>` (comma-separated) exist, after creating `<ready>`. Not a test file.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { sqliteStore } from '../../src/stores/sqlite.ts';
import { drivers, openFile } from './sqlite-support.ts';

const [driverName, path, key, rounds, ready, others] = process.argv.slice(2) as string[] as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const driver = drivers.find((candidate) => candidate.name === driverName);
if (driver === undefined) throw new Error(`no driver ${driverName}`);
const database = openFile(driver, path);
const store = sqliteStore({ database });
const expiry = { expiresAt: Date.now() + 3_600_000 };

// A barrier: start only once every contender is up, so that they really race.
writeFileSync(ready, '');
while (!others.split(',').every((other) => existsSync(other))) {
  await new Promise((resolve) => setTimeout(resolve, 2));
}

let wins = 0;
for (let round = 0; round < Number(rounds); round++) {
  const current = await store.get(key);
  if (current === undefined) throw new Error('the record vanished');
  const next = new Uint8Array(16);
  globalThis.crypto.getRandomValues(next);
  new DataView(next.buffer).setUint32(
    0,
    new DataView(current.buffer, current.byteOffset).getUint32(0) + 1,
  );
  if (await store.compareAndSet(key, current, next, expiry)) wins++;
}
database.close();
process.stdout.write(String(wins));
