// The app's settings, all from the environment, with defaults that work on a fresh checkout.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the app runs with. */
export interface AppConfig {
  /** TCP port on 127.0.0.1 (`PORT`, default 3000). */
  port: number;
  /** Directory of the SQLite file and the generated secret (`PITHOS_DATA_DIR`, default `examples/app/.data`). */
  dataDir: string;
  /** Where sessions live (`PITHOS_STORE`, default the SQLite file `pithos.sqlite` in `dataDir`). */
  storeURL: string;
  /** `PITHOS_SECURE_COOKIE=1`: the `__Host-pithos` cookie with `Secure`, for an HTTPS proxy in front. */
  secureCookie: boolean;
  /** Origins that forms may be posted from (`PITHOS_ORIGIN`, comma-separated). */
  origins: string[];
}

/** Reads the configuration from `env`. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`);
  }
  const dataDir = env.PITHOS_DATA_DIR || fileURLToPath(new URL('./.data/', import.meta.url));
  const origins = env.PITHOS_ORIGIN
    ? env.PITHOS_ORIGIN.split(',').map((origin) => origin.trim())
    : [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  return {
    port,
    dataDir,
    storeURL: env.PITHOS_STORE || `sqlite:${join(dataDir, 'pithos.sqlite')}`,
    secureCookie: env.PITHOS_SECURE_COOKIE === '1',
    origins,
  };
}
