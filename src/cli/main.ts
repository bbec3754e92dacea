#!/usr/bin/env node
/**
 * The `pithos` command: operates pithos session stores (`keygen`, `prune`, `stats`, `revoke`,
 * `doctor`). The package's `bin`; see `docs/cli.md`.
 *
 * Exit codes: 0 done, 1 failed, 2 usage error. Nothing secret is printed: server secrets, tokens
 * and passwords in store URLs are masked in every line, error messages included.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { PithosError } from '../core/errors.ts';
import { type Command, CommandError, type CommandIO, parseCommand, UsageError } from './args.ts';
import { doctorCommand } from './doctor.ts';
import { describeError } from './drivers.ts';
import { keygen } from './keygen.ts';
import { processIO } from './output.ts';
import { pruneCommand } from './prune.ts';
import { revokeCommand } from './revoke.ts';
import { statsCommand } from './stats.ts';

const COMMANDS: readonly Command[] = [
  keygen,
  pruneCommand,
  statsCommand,
  revokeCommand,
  doctorCommand,
];

/** How long the process may linger after a command, should a driver keep a handle open. */
const EXIT_GRACE_MS = 2_000;

function version(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length)) + 2;
  const list = COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`);
  return `pithos: operate the stores of pithos sessions

Usage: pithos <command> [options]

Commands:
${list.join('\n')}

Run \`pithos <command> --help\` for a command's options and its store URLs.
Options of every command: -h, --help. Also: pithos --version.
Exit codes: 0 done, 1 failed, 2 usage error. Nothing secret is printed, but for the new
secret of pithos keygen.
Documentation: docs/cli.md`;
}

function explain(error: unknown): string {
  if (error instanceof CommandError || error instanceof PithosError) return describeError(error);
  return `unexpected error: ${describeError(error)}`;
}

/** Runs the command line `args` (without `node` and the script); returns the exit code. */
export async function main(args: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(version());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    const known = COMMANDS.map((candidate) => candidate.name).join(', ');
    io.err(`pithos: unknown command (the commands are ${known}); see pithos --help`);
    return 2;
  }
  try {
    const values = parseCommand(command, rest);
    if (values === undefined) {
      io.out(command.help);
      return 0;
    }
    return await command.run(values, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`pithos ${command.name}: ${error.message}`);
      io.err(`see pithos ${command.name} --help`);
      return 2;
    }
    io.err(`pithos ${command.name}: ${explain(error)}`);
    if (io.env.PITHOS_DEBUG === '1' && error instanceof Error) io.err(String(error.stack));
    return 1;
  }
}

const code = await main(process.argv.slice(2), processIO());
process.exitCode = code;
// Connections are closed by now; should a driver still hold the event loop, do not hang a cron job.
setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
