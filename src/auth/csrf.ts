/**
 * CSRF protection: a token bound to the session, and an `Origin`/`Sec-Fetch-Site` check that needs
 * no token. Part of `pithos/auth`.
 *
 * @module
 */
import { equalBytes, toBase64URL, utf8 } from '../core/bytes.ts';
import { PithosError } from '../core/errors.ts';
import { type Session, stateOf } from '../core/session.ts';
import { generateToken, type Token } from '../core/token.ts';

const CSRF_LABEL = utf8('pithos:csrf:v1');
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

// biome-ignore lint/suspicious/noExplicitAny: helpers accept sessions of any data type
type AnySession = Session<any>;

function tokenFor(session: AnySession, token: Token): string {
  const state = stateOf(session);
  return toBase64URL(state.context.crypto.hash(CSRF_LABEL, 33, token.key));
}

/**
 * A CSRF token for forms and headers, bound to this session: it changes whenever the session's ID
 * rotates (login, `regenerate`, `elevate`), so a token from another session or from before login
 * is useless. A new session is given its ID now, and is stored at commit.
 */
export function csrfToken(session: AnySession): string {
  const state = stateOf(session);
  if (state.destroyed)
    throw new PithosError('SESSION_DESTROYED', 'a destroyed session has no CSRF token');
  if (state.token === undefined) {
    state.token = generateToken(state.context.crypto);
    state.issueCookie = true;
  }
  return tokenFor(session, state.token);
}

/** Whether `token` is this session's CSRF token, compared in constant time. Never throws. */
export function verifyCSRF(session: AnySession, token: unknown): boolean {
  const state = stateOf(session);
  if (typeof token !== 'string' || state.token === undefined || state.destroyed) return false;
  return equalBytes(utf8(tokenFor(session, state.token)), utf8(token));
}

/** The parts of a request `verifyOrigin` reads: a Fetch `Request` or a `node:http` request. */
export interface RequestHeadersLike {
  method?: string | undefined;
  headers: { get(name: string): string | null } | Record<string, string | string[] | undefined>;
}

function header(request: RequestHeadersLike, name: string): string | undefined {
  const { headers } = request;
  const value =
    typeof headers.get === 'function'
      ? (headers as { get(name: string): string | null }).get(name)
      : (headers as Record<string, string | string[] | undefined>)[name];
  return (Array.isArray(value) ? value[0] : value) ?? undefined;
}

/**
 * The origin of a URL as `scheme://host[:port]`, or `undefined`. Not `URL#origin`, which is the
 * string `'null'` for every scheme that is not special (`capacitor:`, `tauri:`, extensions), so
 * that any two such origins would compare equal.
 */
function originOf(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.origin !== 'null') return url.origin;
  return url.host === '' ? undefined : `${url.protocol}//${url.host}`;
}

/**
 * Checks that an unsafe request (anything but GET, HEAD, OPTIONS, TRACE) comes from one of
 * `allowedOrigins` (`https://app.example`), from its `Origin` header or, without one, from
 * `Sec-Fetch-Site: same-origin`. Without either header the request is refused. Safe methods
 * always pass. Needs no token.
 */
export function verifyOrigin(
  request: RequestHeadersLike,
  allowedOrigins: readonly string[],
): boolean {
  try {
    // A request that does not say its method is treated as unsafe.
    const method = request.method;
    if (typeof method === 'string' && SAFE_METHODS.has(method.toUpperCase())) return true;
    const origin = header(request, 'origin');
    if (typeof origin === 'string' && origin !== '') {
      const actual = originOf(origin);
      return actual !== undefined && allowedOrigins.some((allowed) => originOf(allowed) === actual);
    }
    return header(request, 'sec-fetch-site') === 'same-origin';
  } catch {
    // Headers that cannot be read (missing, or not headers at all): refused, never thrown.
    return false;
  }
}
