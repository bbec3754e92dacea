// The minimal example: `node --import tsx examples/counter/server.ts` (after `npm run build`)
// serves a visit counter on 127.0.0.1 (PORT, default 3000), on the memory store.
import { randomBytes } from 'node:crypto';
import { memoryStore } from 'pithos/memory';
import { counterManager, createCounterServer } from './app.ts';

let secret = process.env.PITHOS_SECRET;
if (!secret) {
  secret = randomBytes(32).toString('base64url');
  console.log(
    'PITHOS_SECRET is not set: using a random secret for this run (sessions end when it stops).',
  );
}
const port = Number(process.env.PORT ?? 3000);
const manager = counterManager(memoryStore(), secret, process.env.PITHOS_SECURE_COOKIE === '1');
createCounterServer(manager).listen(port, '127.0.0.1', () => {
  console.log(
    `pithos counter example: http://127.0.0.1:${port}/ (store: memory, crypto: ${manager.cryptoName})`,
  );
});
