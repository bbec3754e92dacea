/**
 * Drivers of the stores the `pithos` command opens: loaded with a dynamic `import()` so that only
 * the one in use must be installed, and their errors reduced to a short reason. Internal.
 *
 * @module
 */
import { ConfigError } from '../core/errors.ts';

/**
 * Imports a driver, turning "not installed" into a message that says what to install. Drivers
 * are the application's dependencies, not pithos's.
 */
export async function loadDriver<T>(
  name: string,
  scheme: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : '';
    if (code === 'ERR_MODULE_NOT_FOUND' && message.includes(`'${name}'`)) {
      throw new ConfigError(`install ${name} to use ${scheme}// stores (npm install ${name})`);
    }
    throw error;
  }
}

/** A short reason from a driver error: its message, else its code. */
export function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  if (message !== '') return message;
  return typeof code === 'string' ? code : '';
}

/**
 * The message of an error for the command's output: a store's message, with the reason of its
 * cause when the message does not carry one ("memcached store: get failed (ECONNREFUSED)").
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause === undefined || error.message.endsWith(')')) return error.message;
  const reason = reasonOf(cause);
  return reason === '' || error.message.includes(reason)
    ? error.message
    : `${error.message} (${reason})`;
}
