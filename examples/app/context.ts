// What a route handler gets (the request, its session, the signed-in user, the posted form) and
// the few ways it answers: render a page, redirect, flash a notice.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session, SessionManager } from 'pithos';
import { csrfToken } from 'pithos/auth';
import type { AppData } from './catalog.ts';
import type { SafeHTML } from './html.ts';
import { layout, type Notice } from './layout.ts';
import type { User, Users } from './users.ts';

/** What the app is built from. */
export interface AppOptions {
  manager: SessionManager<AppData>;
  users: Users;
  /** Origins that may post forms, for `verifyOrigin`. */
  origins: readonly string[];
  /** Where the sessions are, for the footer. */
  storeLabel: string;
}

/** One request, as route handlers see it. */
export interface Context {
  readonly app: AppOptions;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly session: Session<AppData>;
  readonly url: URL;
  /** The signed-in user (checked against the user table on this request), if any. */
  user: User | undefined;
  /** The fields of a posted form (empty for GET). */
  form: URLSearchParams;
}

/** Headers of every page: no inline script or style, no framing, no referrer to other sites. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Pages show the user's own data: never from a cache, not even the browser's back button.
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** Notices named in a redirect's query, where no session is left to carry a flash. */
/** The notice a `?notice=` names; own keys only, so `?notice=constructor` names none. */
function noticeOf(key: string | null): Notice | undefined {
  return key !== null && Object.hasOwn(QUERY_NOTICES, key) ? QUERY_NOTICES[key] : undefined;
}

const QUERY_NOTICES: Record<string, Notice> = {
  'signed-out': { tone: 'info', text: 'You are signed out.' },
  ended: { tone: 'info', text: 'Your session has ended. Please log in again.' },
  required: { tone: 'info', text: 'Please log in to continue.' },
};

/** Keeps a notice for the next page this browser shows. */
export function flash(context: Context, tone: Notice['tone'], text: string): void {
  context.session.flash('notice', { tone, text });
}

/** Answers with a page; the notice is `notice`, else this session's flash, else the query's. */
export function render(
  context: Context,
  status: number,
  title: string,
  body: SafeHTML,
  notice?: Notice,
): void {
  const { session, user, url, response } = context;
  const page = layout(
    {
      title,
      email: user?.email,
      csrf: user === undefined ? undefined : csrfToken(session),
      notice:
        notice ?? session.getFlash<Notice>('notice') ?? noticeOf(url.searchParams.get('notice')),
      storeLabel: context.app.storeLabel,
    },
    body,
  );
  response.writeHead(status, PAGE_HEADERS).end(page);
}

/** Answers `303 See Other`: after a form, the browser loads `location` with GET. */
export function redirect(context: Context, location: string): void {
  context.response.writeHead(303, { location }).end();
}

/** The fields of a URL-encoded form body of at most `limit` bytes, or `undefined`. */
export async function readForm(
  request: IncomingMessage,
  limit = 16_384,
): Promise<URLSearchParams | undefined> {
  const type = request.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
