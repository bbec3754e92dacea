/**
 * Opening the store of `--store` for one command: a bad URL is a usage error, a missing driver or
 * an unreachable server a failure, a password in the URL is masked in all output, and the
 * connections are closed however the command ends. Internal to the command.
 *
 * @module
 */
import { PithosError } from '../core/errors.ts';
import {
  CommandError,
  type CommandIO,
  type OptionValues,
  requireString,
  UsageError,
} from './args.ts';
import { describeError } from './drivers.ts';
import { type OpenedStore, openStore, parseStoreURL, type StoreURL } from './store-url.ts';

/** Options of `withStore`. */
export interface WithStoreOptions {
  /** Create a missing directory, file or SQL table (`doctor --create-schema`). */
  create?: boolean;
  /** Fail with a hint when a SQL table is missing, before running anything. Default `true`. */
  requireSchema?: boolean;
}

/** Masks the password a store URL may carry, both as written and decoded. */
function redactPassword(text: string, url: StoreURL, io: CommandIO): void {
  if (url.password !== undefined) io.redact(url.password);
  try {
    const { password } = new URL(text);
    if (password !== '') {
      io.redact(password);
      io.redact(decodeURIComponent(password));
    }
  } catch {}
}

/** Reads `--store` without opening it; a bad URL is a `UsageError`. */
export function storeURLOf(values: OptionValues, io: CommandIO): StoreURL {
  const text = requireString(values, 'store');
  let url: StoreURL;
  try {
    url = parseStoreURL(text);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  redactPassword(text, url, io);
  return url;
}

/** Opens `url`, turning every failure into a `CommandError` that says what went wrong. */
export async function open(url: StoreURL, create: boolean): Promise<OpenedStore> {
  try {
    return await openStore(url, { create });
  } catch (error) {
    if (error instanceof PithosError)
      throw new CommandError(describeError(error), { cause: error });
    throw new CommandError(`cannot open ${url.label}: ${describeError(error)}`, { cause: error });
  }
}

/** Fails with a hint when the SQL table of `opened` is missing or lacks columns. */
export async function requireTable(opened: OpenedStore, url: StoreURL): Promise<void> {
  const schema = await opened.checkSchema?.();
  if (schema === undefined) return;
  if (!schema.exists) {
    throw new CommandError(
      `table ${schema.table} does not exist in ${url.server ?? opened.label}: create it with ` +
        '`pithos doctor --create-schema` and the same --store',
    );
  }
  if (schema.missingColumns.length > 0) {
    throw new CommandError(
      `table ${schema.table} lacks the columns ${schema.missingColumns.join(', ')}: ` +
        'it is not a pithos table',
    );
  }
}

/**
 * Most milliseconds a command waits for its connections to close. A command whose store timed out
 * left its request in flight, and a driver's close waits for it: a server that stopped answering
 * would hold the command, and its error message, for as long as it stays silent.
 */
const CLOSE_MS = 3_000;

/** Closes `opened`, or past `CLOSE_MS` drops its connections (the process then exits anyway). */
export async function closeWithin(opened: OpenedStore): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), CLOSE_MS);
  });
  const closed = opened.close().then(
    () => true,
    () => true,
  );
  const isClosed = await Promise.race([closed, late]);
  clearTimeout(timer);
  if (!isClosed) {
    try {
      opened.destroy?.();
    } catch {
      // Dropping connections is the last resort; the process exits after the command regardless.
    }
  }
}

/** Runs `run` on the store of `--store`, closing it afterwards. */
export async function withStore<T>(
  values: OptionValues,
  io: CommandIO,
  run: (opened: OpenedStore) => Promise<T>,
  options: WithStoreOptions = {},
): Promise<T> {
  const url = storeURLOf(values, io);
  const opened = await open(url, options.create === true);
  try {
    if (options.requireSchema !== false) await requireTable(opened, url);
    return await run(opened);
  } finally {
    await closeWithin(opened);
  }
}
