// The app's session manager. Created once per process: Next.js re-evaluates modules on every
// change in development, and a new memory store would forget every session each time.
import { createSessionManager, type SessionManager } from 'pithos';
import { memoryStore } from 'pithos/memory';

/** What this app keeps in a session. */
export interface SessionData {
  user?: string;
  visits: number;
}

const globalForPithos = globalThis as { pithosManager?: SessionManager<SessionData> };

globalForPithos.pithosManager ??= createSessionManager<SessionData>({
  store: memoryStore(), // one process only: use a shared store (Redis, PostgreSQL) in production
  secret: process.env.PITHOS_SECRET,
  // `next dev` serves plain HTTP on localhost, where browsers accept Secure cookies, so the
  // default cookie (__Host-pithos; Secure; HttpOnly; SameSite=Lax) works as it is.
  idleTimeout: 30 * 60,
});

export const manager: SessionManager<SessionData> = globalForPithos.pithosManager;
