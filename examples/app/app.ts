// The HTTP server: static files straight from disk, every other request through pithos/node's
// `withSession`, which loads the session before the route and commits it before the headers leave.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { withSession } from 'pithos/node';
import { type AppOptions, PAGE_HEADERS } from './context.ts';
import { layout } from './layout.ts';
import { errorPage } from './pages.ts';
import { dispatch } from './routes.ts';

export type { AppOptions } from './context.ts';

const STATIC: Record<string, { type: string; body: Buffer }> = {
  '/style.css': { type: 'text/css; charset=utf-8', body: readAsset('style.css') },
  '/favicon.svg': { type: 'image/svg+xml', body: readAsset('favicon.svg') },
};

function readAsset(name: string): Buffer {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url));
}

function serveStatic(request: IncomingMessage, response: ServerResponse): boolean {
  const asset = STATIC[request.url ?? ''];
  if (asset === undefined || (request.method !== 'GET' && request.method !== 'HEAD')) return false;
  response.writeHead(200, {
    'content-type': asset.type,
    'cache-control': 'public, max-age=3600',
    'x-content-type-options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : asset.body);
  return true;
}

/** The app's server (not yet listening). */
export function createAppServer(app: AppOptions): Server {
  const onError = (error: unknown, _request: IncomingMessage, response: ServerResponse): void => {
    console.error('request failed:', error);
    if (response.headersSent) return void response.destroy();
    const body = errorPage(
      'Something went wrong',
      'The server could not answer. Try again in a moment.',
    );
    response
      .writeHead(500, PAGE_HEADERS)
      .end(layout({ title: 'Error', storeLabel: app.storeLabel }, body));
  };
  const handle = withSession(
    app.manager,
    (request, response, session) => {
      let url: URL;
      try {
        url = new URL(request.url ?? '/', 'http://app.invalid');
      } catch {
        // A request target no URL parser accepts (`//[`): the client's mistake, not the server's.
        response
          .writeHead(400, { 'content-type': 'text/plain; charset=utf-8' })
          .end('Bad request\n');
        return;
      }
      return dispatch({
        app,
        request,
        response,
        session,
        url,
        user: undefined,
        form: new URLSearchParams(),
      });
    },
    { onError },
  );
  return createServer((request, response) => {
    if (!serveStatic(request, response)) void handle(request, response);
  });
}
