/**
 * A dedicated MariaDB server for the outage test, so stopping it never disturbs the shared one:
 * `mariadb-install-db` into a temporary directory, `mariadbd` on a free port as a child process.
 * Stopping it is a SIGKILL, like a crash; starting it again reuses the same files and port.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './sql-support.ts';

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;

/** A running dedicated server, with a `test` database and a password-less root. */
export interface MySQLInstance {
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function waitUntilReady(port: number, child: ChildProcess): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mariadbd exited with ${child.exitCode}`);
    try {
      const connection = await mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: 'root',
        connectTimeout: 1_000,
      });
      await connection.query('CREATE DATABASE IF NOT EXISTS test');
      await connection.end();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Creates and starts a dedicated MariaDB server on a free port. */
export async function startMySQLInstance(): Promise<MySQLInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'pithos-mariadb-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const user = asRoot ? ['--user=root'] : [];
  let child: ChildProcess | undefined;
  // Should the test process end without its after hooks, the server and files must not outlive it.
  const kill = () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const start = async () => {
    child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        `--log-error=${join(dir, 'error.log')}`,
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=16M',
        ...user,
      ],
      { stdio: 'ignore' },
    );
    child.unref(); // never what keeps the test process alive; the exit handler kills it
    await waitUntilReady(port, child);
  };
  const stop = async () => {
    const running = child;
    if (running === undefined || running.exitCode !== null) return;
    const exited = once(running, 'exit');
    running.ref(); // keeps the process alive until the exit is seen
    running.kill('SIGKILL');
    await exited;
  };
  process.once('exit', kill);
  try {
    await run(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${data}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
        ...user,
      ],
      { timeout: 60_000 },
    );
    await start();
  } catch (error) {
    process.off('exit', kill);
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    stop,
    start,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
      process.off('exit', kill);
    },
  };
}
