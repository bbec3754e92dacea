/**
 * A dedicated PostgreSQL server for the outage test, so stopping it never disturbs the shared one:
 * `initdb` into a temporary directory, `pg_ctl` on a free port. PostgreSQL refuses to run as root,
 * so as root every command runs as the `postgres` OS user through `runuser`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './sql-support.ts';

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

function command(tool: string, args: string[]): [string, string[]] {
  return asRoot
    ? ['runuser', ['-u', 'postgres', '--', join(BIN, tool), ...args]]
    : [join(BIN, tool), args];
}

async function postgresCommand(tool: string, args: string[]): Promise<void> {
  await run(...command(tool, args), { timeout: 30_000 });
}

/** A running dedicated server. */
export interface PostgresInstance {
  readonly port: number;
  /** Immediate shutdown, like a crash: connections drop at once. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  destroy(): Promise<void>;
}

/** Creates and starts a dedicated server with trust authentication (user and database `postgres`). */
export async function startPostgresInstance(): Promise<PostgresInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'pithos-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, uid, Number(gid.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () =>
    postgresCommand('pg_ctl', ['start', '-w', '-D', data, '-l', join(dir, 'log'), '-o', settings]);
  const stopArgs = ['stop', '-D', data, '-m', 'immediate'];
  const stop = () => postgresCommand('pg_ctl', stopArgs);
  // Should the test process end without its after hooks, the server and files must not outlive it.
  const stopAtExit = () => {
    try {
      execFileSync(...command('pg_ctl', stopArgs), { stdio: 'ignore' });
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopAtExit);
  try {
    await postgresCommand('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await start();
  } catch (error) {
    process.off('exit', stopAtExit);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let running = true;
  return {
    port,
    async stop() {
      await stop();
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) await stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
      process.off('exit', stopAtExit);
    },
  };
}
