// Routing, and what every request goes through before its route runs: the signed-in user is
// checked against the user table (`checkSession`), and every form post must come from this site
// (`verifyOrigin`) and carry this session's CSRF token (`verifyCSRF`).
import { checkSession, getUserID, logout, verifyCSRF, verifyOrigin } from 'pithos/auth';
import { ACCOUNT_ROUTES } from './account.ts';
import { type Context, readForm, redirect, render } from './context.ts';
import { HOME_ROUTES } from './home.ts';
import { errorPage } from './pages.ts';

/** One page or form action: who may use it, and what it does. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  /** `user`: signed-in users only; `guest`: signed-out only (login, sign up); `any`. */
  access: 'user' | 'guest' | 'any';
  run(context: Context): void | Promise<void>;
}

const ROUTES = new Map(
  [...HOME_ROUTES, ...ACCOUNT_ROUTES].map((route) => [`${route.method} ${route.path}`, route]),
);

function fail(context: Context, status: number, title: string, text: string): void {
  render(context, status, title, errorPage(title, text));
}

/** The signed-in user, after checking the session against the user table; `false` if it ended. */
async function currentUser(context: Context): Promise<Context['user'] | false> {
  const userID = getUserID(context.session);
  if (userID === undefined) return undefined;
  const user = await context.app.users.find(userID);
  if (user === undefined) {
    await logout(context.session); // the account is gone (users in memory, app restarted)
    return false;
  }
  // A changed password renewed the checkvalue: checkSession then destroys this session.
  return (await checkSession(context.session, user.checkvalue)) ? user : false;
}

/** Answers one request. */
export async function dispatch(context: Context): Promise<void> {
  const method = context.request.method === 'HEAD' ? 'GET' : context.request.method;
  const route = ROUTES.get(`${method} ${context.url.pathname}`);
  const user = await currentUser(context);
  if (user === false) return redirect(context, '/login?notice=ended');
  context.user = user;
  if (route === undefined) return fail(context, 404, 'Not found', 'There is no page here.');
  if (route.access === 'user' && user === undefined)
    return redirect(context, '/login?notice=required');
  if (route.access === 'guest' && user !== undefined) return redirect(context, '/');
  if (route.method === 'POST') {
    if (!verifyOrigin(context.request, context.app.origins)) {
      return fail(context, 403, 'Forbidden', 'This form was sent from another site.');
    }
    const form = await readForm(context.request);
    if (form === undefined)
      return fail(context, 400, 'Bad request', 'This form could not be read.');
    if (!verifyCSRF(context.session, form.get('_csrf'))) {
      const text =
        'This form has expired (you may have signed in or out in another tab). Reload the page and try again.';
      return fail(context, 403, 'Form expired', text);
    }
    context.form = form;
  }
  await route.run(context);
}
