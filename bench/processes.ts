/**
 * What every HTTP benchmark runner shares: whether servers can be pinned to CPU 1 (and the
 * client to CPU 0), and reading typed messages from a server process.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { cpus } from 'node:os';

function canPin(): boolean {
  if (cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether `taskset` can keep servers and client on different cores. */
export const pinned: boolean = canPin();

/** A reader of the next message of a given type from a server process speaking `M`. */
export function messageReader<M extends { type: string }>(): <T extends M['type']>(
  child: ChildProcess,
  type: T,
) => Promise<Extract<M, { type: T }>> {
  return (child, type) =>
    new Promise((resolve, reject) => {
      const onMessage = (message: M): void => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as Extract<M, { type: typeof type }>);
      };
      const onExit = (code: number | null): void => reject(new Error(`server exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
}
