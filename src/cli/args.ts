/**
 * Arguments of the `pithos` command: one `parseArgs` call per command, usage errors that never
 * echo a value (a secret typed in the wrong place must not come back on the terminal), and the
 * options several commands share. Internal to the command.
 *
 * @module
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** The `options` of one `parseArgs` call. */
export type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure the command explains in its message: exit code 1, no stack trace. */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandError';
  }
}

/** Where a command writes, and what it reads from its environment. */
export interface CommandIO {
  /** Results, one line per call. */
  out(line: string): void;
  /** Diagnostics and progress, one line per call. */
  err(line: string): void;
  /** Raw writes to standard error (progress bars redraw one line). */
  errRaw(text: string): void;
  /** Whether standard error is a terminal (progress bars) or a pipe, file or cron (plain lines). */
  readonly isTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Registers a value to mask in every later line, however it got there. */
  redact(secret: string): void;
}

/** One subcommand. */
export interface Command {
  readonly name: string;
  /** One line for `pithos --help`. */
  readonly summary: string;
  /** The text of `pithos <name> --help`. */
  readonly help: string;
  readonly options: ParseArgsOptionsConfig;
  /** Runs the command; returns its exit code. Throws `UsageError` or `CommandError`. */
  run(values: OptionValues, io: CommandIO): Promise<number>;
}

/** Parsed option values: strings, booleans, or lists of strings for `multiple` options. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** `--store URL`. */
export const STORE_OPTION: ParseArgsOptionsConfig = { store: { type: 'string' } };
/** `--secret`, repeatable, and `--secret-file`. */
export const SECRET_OPTIONS: ParseArgsOptionsConfig = {
  secret: { type: 'string', multiple: true },
  'secret-file': { type: 'string' },
};
/** `--help`, `-h`. */
export const HELP_OPTION: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } };

/** The help text shared by every command that takes `--store`. */
export const STORE_HELP = `Store URLs:
  memory:                               this process only (empty at start)
  file:///var/lib/app/sessions          the fs store, one file per record
  sqlite:///var/lib/app/sessions.db     SQLite (better-sqlite3)   ?table=pithos_sessions
  redis://host:6379[/db]                Redis (redis)             ?prefix=pithos:
  redis+cluster://host:7001,host:7002   Redis Cluster (redis)     ?prefix=pithos:
  postgres://user@host:5432/db          PostgreSQL (pg)           ?table=pithos_sessions
  mysql://user:password@host:3306/db    MySQL, MariaDB (mysql2)   ?table=pithos_sessions
  memcached://host:11211                memcached (memjs)         ?prefix=pithos:`;

/** The help text of the secret options. */
export const SECRET_HELP = `Secret (the application's PITHOS_SECRET; never printed):
  --secret VALUE      the server secret; repeat it to add old secrets kept for rotation
  --secret-file PATH  a file holding it, one secret per line, the sealing one first
  PITHOS_SECRET       the environment variable, when neither option is given
Prefer --secret-file or PITHOS_SECRET: other users of the machine can see command lines.`;

function reword(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    // Named only when it looks like an option word: a pasted secret must not come back.
    const name = /^Unknown option '([^']*)'/.exec(message)?.[1] ?? '';
    const isWord = /^--?[a-z][a-z0-9-]{0,30}$/.test(name);
    return isWord ? `unknown option '${name}'` : 'an unknown option (not repeated here)';
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return message.split('\n')[0] ?? message;
  return 'the arguments could not be read';
}

/** Parses `args` for `command`; `undefined` when `--help` was asked for. */
export function parseCommand(command: Command, args: string[]): OptionValues | undefined {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: { ...command.options, ...HELP_OPTION },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(reword(error));
  }
  const values = parsed.values as OptionValues;
  if (values.help === true) return undefined;
  if (parsed.positionals.length > 0) {
    const count = parsed.positionals.length;
    throw new UsageError(
      `pithos ${command.name} takes no arguments besides its options (got ${count} more)`,
    );
  }
  return values;
}

/** The value of a required string option. */
export function requireString(values: OptionValues, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}
