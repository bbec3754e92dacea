/**
 * Helpers of the `pithos` command tests: running the BUILT command (`npm run build` first), a
 * secret that must never appear in any output, planting records, and logging users in through
 * `pithos/auth` on the same store the command works on.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getUserID, login } from '../../src/auth/login.ts';
import { createSessionManager } from '../../src/core/manager.ts';
import type { Store } from '../../src/core/store.ts';
import { randomRecord, randomStoreKey } from '../../src/testing/support.ts';

/** The built command. */
export const CLI: string = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);

/** The application's secret in these tests: no output may ever contain it. */
export const SECRET = 'cli-test-secret-Zq8T1mX4pL0vN7cR2wY5bK9hJ3sD6fG';
/** Another valid secret, not the application's. */
export const OTHER_SECRET = 'cli-test-other-secret-Hu3Kd8Qw1Za6Lm0Xp5Vn2Rb7Tc4';

/** What one run of the command did. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Every output of every run in this process, for the "nothing secret" checks. */
export const outputs: string[] = [];

/**
 * Runs `node dist/cli/main.js …args`. `PITHOS_SECRET` is unset unless `env` sets it, so the
 * machine's environment never decides a test.
 */
export function pithos(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; cli?: string } = {},
): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, PITHOS_SECRET: undefined };
  Object.assign(env, options.env);
  const start = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [options.cli ?? CLI, ...args],
      { env: env as NodeJS.ProcessEnv, cwd: options.cwd, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as { code?: unknown }).code;
        if (typeof code !== 'number') return reject(error);
        outputs.push(stdout, stderr);
        resolve({ code, stdout, stderr, ms: performance.now() - start });
      },
    );
  });
}

/** Asserts the exit code, showing the outputs when it differs. */
export function assertExit(run: Run, code: number): void {
  assert.equal(
    run.code,
    code,
    `exit code ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
  );
}

/** Asserts that no output of this process's runs holds any of `secrets`. */
export function assertNothingSecret(...secrets: string[]): void {
  assert.ok(outputs.length > 0, 'no run to check');
  for (const output of outputs) {
    for (const secret of secrets) assert.ok(!output.includes(secret), 'a secret was printed');
  }
}

/** Writes records straight into a store: `sizes` live ones and `expired` ones of given sizes. */
export async function plant(
  store: Store,
  records: { live?: number[]; expired?: number[] },
): Promise<void> {
  for (const size of records.live ?? []) {
    await store.set(randomStoreKey(), randomRecord(size), { expiresAt: Date.now() + 3_600_000 });
  }
  for (const size of records.expired ?? []) {
    await store.set(randomStoreKey(), randomRecord(size), { expiresAt: Date.now() - 60_000 });
  }
}

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** Logs `userID` in `count` times (one session per device); returns their `Cookie` headers. */
export async function logIn(store: Store, userID: string, count: number): Promise<string[]> {
  const manager = createSessionManager({ store, secret: SECRET });
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const session = await manager.load(undefined, { userAgent: FIREFOX });
    await login(session, userID, `password-hash-of-${userID}`);
    const setCookie = await manager.commit(session);
    assert.ok(setCookie !== undefined);
    cookies.push(setCookie.split(';')[0] as string);
  }
  return cookies;
}

/** The user a `Cookie` header is logged in as, on `store`. */
export async function userOf(store: Store, cookie: string): Promise<string | undefined> {
  const manager = createSessionManager({ store, secret: SECRET });
  return getUserID(await manager.load(cookie));
}

/** A name no other test run uses. */
export function unique(label: string): string {
  const random = globalThis.crypto.getRandomValues(new Uint8Array(5));
  return `${label}_${Buffer.from(random).toString('hex')}`;
}
