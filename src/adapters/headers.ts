/**
 * What every adapter adds to a response that sets or clears the session cookie. Internal.
 *
 * @module
 */

/** A response that sets a cookie must never be cached by a shared cache. */
export const CACHE_CONTROL = 'no-store';

/** `Vary` with `Cookie` added, unless it is already there (or `*`). */
export function varyWithCookie(existing: string | null | undefined): string {
  if (!existing) return 'Cookie';
  const names = existing.split(',').map((name) => name.trim().toLowerCase());
  return names.includes('cookie') || names.includes('*') ? existing : `${existing}, Cookie`;
}

/** The body of the default error response: never a stack trace or any detail. */
export const ERROR_BODY = 'Internal Server Error';
