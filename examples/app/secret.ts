// The server secret: `PITHOS_SECRET`, or one generated on first start and kept in a file only
// this user can read, so sessions survive restarts. The secret itself is never printed.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The secret from `PITHOS_SECRET`, else from `dataDir/secret`, created (mode 0600) when missing. */
export function loadSecret(
  dataDir: string,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (env.PITHOS_SECRET) {
    log('secret: from PITHOS_SECRET');
    return env.PITHOS_SECRET;
  }
  const file = join(dataDir, 'secret');
  try {
    const secret = readFileSync(file, 'utf8').trim();
    if ((statSync(file).mode & 0o077) !== 0) log(`secret: warning, ${file} is readable by others`);
    log(`secret: from ${file}`);
    return secret;
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  // 'wx': never overwrite a secret another process has just written.
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  log(`secret: PITHOS_SECRET is not set, generated a new one in ${file} (mode 0600)`);
  return secret;
}
