// `npm start`: the example app on http://127.0.0.1:3000 (PORT), sessions in a local SQLite file
// unless PITHOS_STORE names another store. See README.md beside this file.
import type { AddressInfo } from 'node:net';
import { createSessionManager } from 'pithos';
import { createAppServer } from './app.ts';
import type { AppData } from './catalog.ts';
import { readConfig } from './config.ts';
import { openStore } from './open-store.ts';
import { loadSecret } from './secret.ts';
import { openUsers } from './users.ts';

const log = (line: string): void => console.log(`pithos app: ${line}`);

async function start(): Promise<void> {
  const config = readConfig();
  const secret = loadSecret(config.dataDir, log);
  const opened = await openStore(config.storeURL);
  const users = await openUsers(opened.database);
  const manager = createSessionManager<AppData>({
    store: opened.store,
    secret,
    // `__Host-` cookies need HTTPS: on plain HTTP the browser would drop them.
    cookie: config.secureCookie ? {} : { name: 'pithos', secure: false },
  });

  log(`sessions: ${opened.location}, crypto: ${manager.cryptoName}`);
  log(`users: ${users.where}${opened.database ? '' : ' (they vanish when the app stops)'}`);
  log(
    config.secureCookie
      ? `cookie: ${manager.cookieName} (Secure: serve the app through HTTPS)`
      : `cookie: ${manager.cookieName}, without Secure for plain HTTP (PITHOS_SECURE_COOKIE=1 behind HTTPS)`,
  );

  const server = createAppServer({
    manager,
    users,
    origins: config.origins,
    storeLabel: opened.label,
  });
  // A port already taken, say: a message and exit 1, not an unhandled 'error' event.
  server.on('error', (error) => fail(error));
  server.listen(config.port, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    log(`listening on http://127.0.0.1:${port}/`);
  });

  async function stop(): Promise<void> {
    server.close();
    server.closeAllConnections();
    await opened.close();
    process.exit(0);
  }
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

/** A configuration or start-up mistake: its message, no stack trace, exit 1. */
function fail(error: unknown): never {
  console.error(
    `pithos app: cannot start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
}

await start().catch(fail);
