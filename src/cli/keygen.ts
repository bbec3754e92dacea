/**
 * `pithos keygen`: prints a new random server secret for `PITHOS_SECRET`. Internal to the command.
 *
 * @module
 */
import type { Command } from './args.ts';
import { newSecret, SECRET_BYTES } from './secret.ts';

/** `pithos keygen`. */
export const keygen: Command = {
  name: 'keygen',
  summary: 'print a new random server secret for PITHOS_SECRET',
  help: `Usage: pithos keygen [--json]

Prints a new server secret: ${SECRET_BYTES} random bytes from the operating system's CSPRNG, in
base64url (43 characters), suitable for PITHOS_SECRET. It is the one thing pithos ever prints
that is secret: put it straight into your secret manager or environment file.

To rotate, put the new secret first and keep the old one after it (secrets: [new, old]) until
the sessions sealed under the old one have expired.

Options:
  --json      print {"secret": "…"} instead of the bare secret
  -h, --help  show this help

Example:
  echo "PITHOS_SECRET=$(pithos keygen)" >> .env`,
  options: { json: { type: 'boolean' } },
  async run(values, io) {
    const secret = newSecret();
    io.out(values.json === true ? JSON.stringify({ secret }) : secret);
    return 0;
  },
};
