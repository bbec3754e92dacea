// The counter example: a node:http app that counts visits per session.
import { createServer, type Server } from 'node:http';
import { createSessionManager, type SessionManager, type Store } from 'pithos';
import { verifyOrigin } from 'pithos/auth';
import { withSession } from 'pithos/node';

/** What this app keeps in a session. */
export interface CounterData {
  visits: number;
  firstVisit: string;
}

/** The app's session manager over a store. A plain-HTTP dev server cannot use Secure cookies. */
export function counterManager(
  store: Store,
  secret: string,
  secure: boolean,
): SessionManager<CounterData> {
  return createSessionManager<CounterData>({
    store,
    secret,
    cookie: secure ? {} : { name: 'pithos', secure: false },
    idleTimeout: 30 * 60,
  });
}

const escapeHTML = (text: string): string =>
  text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

function page(visits: number, firstVisit: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pithos counter</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
.count{font-size:3rem;font-weight:600}form{display:inline}button{font:inherit;padding:.3rem .8rem}</style></head>
<body><h1>pithos counter</h1>
<p>You have visited this page <span class="count" id="visits">${visits}</span> time${visits === 1 ? '' : 's'}.</p>
<p>First visit: <time>${escapeHTML(firstVisit)}</time></p>
<form method="post" action="/reset"><button>Forget me</button></form>
</body></html>`;
}

/**
 * The HTTP server: `GET /` counts, `POST /reset` (from this site's own pages only) destroys the
 * session, everything else is 404.
 */
export function createCounterServer(manager: SessionManager<CounterData>): Server {
  return createServer(
    withSession(manager, async (request, response, session) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (request.method === 'POST' && url.pathname === '/reset') {
        // Only this site's own form may end the session: a page of another origin (another port
        // or subdomain is same-site, so SameSite=Lax lets its cookie through) is refused.
        const host = request.headers.host ?? '';
        if (!verifyOrigin(request, [`http://${host}`, `https://${host}`])) {
          response.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden');
          return;
        }
        await manager.destroy(session);
        response.writeHead(303, { location: '/' }).end();
        return;
      }
      if (request.method !== 'GET' || url.pathname !== '/') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
        return;
      }
      const visits = (session.get('visits') ?? 0) + 1;
      session.set('visits', visits);
      if (!session.has('firstVisit')) session.set('firstVisit', new Date().toISOString());
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(page(visits, session.get('firstVisit') ?? ''));
    }),
  );
}
