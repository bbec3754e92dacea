/**
 * Server secrets for the `pithos` command: from `--secret`, `--secret-file` or `PITHOS_SECRET`,
 * and new ones for `pithos keygen`. Every secret read is registered for redaction, so it cannot
 * reach the output even through an error message. Internal to the command.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CommandError, type CommandIO, type OptionValues, UsageError } from './args.ts';

/** Bytes of a secret made by `pithos keygen`. */
export const SECRET_BYTES = 32;

/** A new random secret: 32 bytes from the CSPRNG, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** Where the secrets came from, for messages (never the secrets themselves). */
export interface Secrets {
  secrets: string[];
  source: string;
}

async function fromFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // Not the path: a secret typed where the path belongs would be printed.
    throw new CommandError(
      `cannot read the file given to --secret-file (${String(code ?? error)})`,
    );
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * The secrets given to the command, the sealing one first; `undefined` when none was given.
 * Giving both `--secret` and `--secret-file` is a usage error.
 */
export async function readSecrets(
  values: OptionValues,
  io: CommandIO,
): Promise<Secrets | undefined> {
  const given = (values.secret as string[] | undefined) ?? [];
  const file = values['secret-file'] as string | undefined;
  if (given.length > 0 && file !== undefined) {
    throw new UsageError('give --secret or --secret-file, not both');
  }
  let found: Secrets | undefined;
  if (given.length > 0) found = { secrets: given, source: '--secret' };
  else if (file !== undefined) found = { secrets: await fromFile(file), source: file };
  else if (io.env.PITHOS_SECRET)
    found = { secrets: [io.env.PITHOS_SECRET], source: 'PITHOS_SECRET' };
  for (const secret of found?.secrets ?? []) io.redact(secret);
  if (found !== undefined && found.secrets.length === 0) {
    throw new CommandError(`the secret file ${found.source} holds no secret`);
  }
  return found;
}
