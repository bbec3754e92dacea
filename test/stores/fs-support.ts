/** Fixtures of the file store tests: temporary directories, raw dumps, record files. Not a test file. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A fresh directory under the system's temporary directory, removed when the file's tests end. */
export function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'pithos-fs-'));
  after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Every path under `root` (relative), files and directories. */
export function listTree(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).sort();
}

/** Every file name and every byte under `root`, for the "nothing readable at rest" check. */
export function dumpTree(root: string): Uint8Array {
  const parts: Buffer[] = [];
  for (const path of listTree(root)) {
    parts.push(Buffer.from(`${path}\n`));
    const full = join(root, path);
    if (statSync(full).isFile()) parts.push(readFileSync(full));
  }
  return Buffer.concat(parts);
}

/** A random store key starting with `prefix` (hex). */
export function storeKey(prefix = ''): string {
  return prefix + randomBytes(32).toString('hex').slice(prefix.length);
}

/** The permission bits of `path`. */
export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** The shard directory of `key` under a store at `root`, created. */
export function shardDirectory(root: string, key: string): string {
  const directory = join(root, 'records', key.slice(0, 2), key.slice(2, 4));
  mkdirSync(directory, { recursive: true });
  return directory;
}

/** Resolves after `run` has settled, with what it threw (or `undefined`). */
export async function thrown(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}
