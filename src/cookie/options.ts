/**
 * Session cookie options: secure defaults, validation at construction, and `Set-Cookie` values.
 *
 * @module
 */
import { ConfigError } from '../core/errors.ts';

/** How the session cookie is named and scoped. Every field has a secure default. */
export interface CookieOptions {
  /** Cookie name. Default `__Host-pithos` (which requires `secure`, path `/` and no domain). */
  name?: string;
  /** Cookie path. Default `/`. */
  path?: string;
  /** Cookie domain. Default: none (host-only cookie). */
  domain?: string;
  /** `Secure` attribute. Default `true`; turn off only for plain-HTTP development. */
  secure?: boolean;
  /** `HttpOnly` attribute. Default `true`. */
  httpOnly?: boolean;
  /** `SameSite` attribute. Default `lax`; `none` requires `secure`. */
  sameSite?: 'lax' | 'strict' | 'none';
  /**
   * `true` (default): the cookie carries `Max-Age`, never longer than the session's remaining
   * lifetime. `false`: a browser-session cookie, dropped when the browser closes.
   */
  persistent?: boolean;
  /** `Partitioned` attribute (CHIPS), for cookies in third-party contexts. Default `false`. */
  partitioned?: boolean;
}

/** Cookie options with every default applied. */
export type ResolvedCookieOptions = Required<Omit<CookieOptions, 'domain'>> & { domain?: string };

// RFC 6265 token: visible ASCII except separators.
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ATTRIBUTE_VALUE = /^[\x21-\x3a\x3c-\x7e]+$/;

function fail(message: string): never {
  throw new ConfigError(`cookie: ${message}`, 'COOKIE_INVALID');
}

/** Applies defaults and throws `ConfigError` (`COOKIE_INVALID`) for invalid combinations. */
export function resolveCookieOptions(
  given: CookieOptions | null | undefined = {},
): ResolvedCookieOptions {
  // `null` (from a JSON configuration, say) means the default, for the whole object and each option.
  const options: CookieOptions = given ?? {};
  if (typeof options !== 'object') fail('cookie options must be an object');
  for (const key of ['name', 'path', 'domain'] as const) {
    const value = options[key];
    if (value != null && typeof value !== 'string') fail(`${key} must be a string`);
  }
  const resolved: ResolvedCookieOptions = {
    name: options.name ?? '__Host-pithos',
    path: options.path ?? '/',
    secure: options.secure ?? true,
    httpOnly: options.httpOnly ?? true,
    sameSite: options.sameSite ?? 'lax',
    persistent: options.persistent ?? true,
    partitioned: options.partitioned ?? false,
  };
  if (options.domain != null) resolved.domain = options.domain;
  const { name, path, domain, secure, sameSite } = resolved;
  if (!NAME.test(name))
    fail(`name ${JSON.stringify(name)} has characters a cookie name cannot hold`);
  if (!ATTRIBUTE_VALUE.test(path) || !path.startsWith('/'))
    fail('path must start with / and hold no ; or spaces');
  if (domain !== undefined && !/^\.?[A-Za-z0-9.-]+$/.test(domain))
    fail(`domain ${JSON.stringify(domain)} is not a host name`);
  if (!['lax', 'strict', 'none'].includes(sameSite))
    fail('sameSite must be "lax", "strict" or "none"');
  if (sameSite === 'none' && !secure)
    fail('sameSite "none" requires secure: true (browsers drop it otherwise)');
  if (resolved.partitioned && !secure) fail('partitioned requires secure: true');
  const lower = name.toLowerCase();
  if (lower.startsWith('__host-') && (!secure || path !== '/' || domain !== undefined)) {
    fail('a __Host- cookie needs secure: true, path "/" and no domain (or choose another name)');
  }
  if (lower.startsWith('__secure-') && !secure) fail('a __Secure- cookie needs secure: true');
  return resolved;
}

const attributeCache = new WeakMap<ResolvedCookieOptions, string>();

/** The attributes after the cookie's value, built once per options object. */
function attributes(options: ResolvedCookieOptions): string {
  let out = attributeCache.get(options);
  if (out !== undefined) return out;
  out = `; Path=${options.path}`;
  if (options.domain !== undefined) out += `; Domain=${options.domain}`;
  if (options.httpOnly) out += '; HttpOnly';
  if (options.secure) out += '; Secure';
  out += `; SameSite=${options.sameSite[0]?.toUpperCase()}${options.sameSite.slice(1)}`;
  if (options.partitioned) out += '; Partitioned';
  attributeCache.set(options, out);
  return out;
}

/** The `Set-Cookie` value that stores a token; `maxAge` in seconds, ignored when not persistent. */
export function serializeCookie(
  options: ResolvedCookieOptions,
  value: string,
  maxAge: number,
): string {
  const age = options.persistent ? `; Max-Age=${Math.max(0, Math.floor(maxAge))}` : '';
  return `${options.name}=${value}${age}${attributes(options)}`;
}

/** The `Set-Cookie` value that removes the cookie from the browser. */
export function serializeClearCookie(options: ResolvedCookieOptions): string {
  return `${options.name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${attributes(options)}`;
}
