/**
 * Reading one cookie from a `Cookie` header. Never throws, whatever the header holds.
 *
 * @module
 */

/** What a `Cookie` header says about one cookie name. */
export type CookieLookup =
  | { readonly status: 'absent' }
  | { readonly status: 'duplicate' }
  | { readonly status: 'present'; readonly value: string };

const ABSENT: CookieLookup = { status: 'absent' };
const DUPLICATE: CookieLookup = { status: 'duplicate' };

/**
 * Removes spaces and tabs around a name or value, and nothing else (RFC 6265bis): `String#trim`
 * would also strip U+00A0 and other Unicode spaces, so that a cookie a browser files under another
 * name (`"\u00a0__Host-pithos"`, which escapes the `__Host-` rules) would be read as this one.
 */
function trimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Finds `name` in a `Cookie` header. A header that carries the name twice (a sign of a cookie
 * planted from a sibling domain or path) is reported as `duplicate`, and treated as no session.
 */
export function readCookie(header: unknown, name: string): CookieLookup {
  if (typeof header !== 'string' || header.length === 0) return ABSENT;
  let found: string | undefined;
  let start = 0;
  let equals = -1;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    // Search for '=' again only once the last one found is behind us, so that a long header of
    // many empty pairs (";;;;…") costs linear time, not quadratic.
    if (equals < start) {
      equals = header.indexOf('=', start);
      if (equals === -1) break;
    }
    if (equals < end && trimSpace(header.slice(start, equals)) === name) {
      if (found !== undefined) return DUPLICATE;
      let value = trimSpace(header.slice(equals + 1, end));
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
        value = value.slice(1, -1);
      found = value;
    }
    start = end + 1;
  }
  return found === undefined ? ABSENT : { status: 'present', value: found };
}
