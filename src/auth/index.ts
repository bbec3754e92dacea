/**
 * Authenticated sessions: login and logout with fixation-proof rotation, checkvalues that end a
 * user's sessions when their password changes, the user's device list and revocation, recent
 * authentication, and CSRF protection. Available from `pithos/auth`.
 *
 * @example
 * ```ts
 * import { checkSession, login, logout } from 'pithos/auth';
 *
 * await login(session, user.id, user.passwordHash);          // at sign-in
 * if (!(await checkSession(session, user.passwordHash))) …  // on every request of a logged-in user
 * await logout(session);                                     // at sign-out
 * ```
 *
 * @module
 */
export { csrfToken, type RequestHeadersLike, verifyCSRF, verifyOrigin } from './csrf.ts';
export {
  type ListSessionsOptions,
  listSessions,
  revokeAllSessions,
  revokeOtherSessions,
  revokeSession,
  type SessionInfo,
} from './devices.ts';
export {
  checkSession,
  elevate,
  getUserExtra,
  getUserID,
  isRecentlyAuthenticated,
  keepLogin,
  type LoginOptions,
  login,
  logout,
} from './login.ts';
