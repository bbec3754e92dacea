// Account routes: sign up, log in, log out, change password. Every login goes through pithos/auth:
// `login` rotates the session (no fixation) and binds it to the user's checkvalue.
import { csrfToken, keepLogin, login, logout } from 'pithos/auth';
import { type Context, flash, redirect, render } from './context.ts';
import { credentialsPage, passwordPage } from './pages.ts';
import type { Route } from './routes.ts';

// Labels that cannot contain the dots between them: matched in linear time, whatever the input
// (a pattern whose parts overlap takes quadratic time on `a@` and thousands of dots).
const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

// On a guest's form the token comes with a new session, stored (and its cookie sent) right away.
const csrfOf = (context: Context): string => csrfToken(context.session);

function emailOf(context: Context): string {
  return (context.form.get('email') ?? '').trim().toLowerCase();
}

/** Why a new password is refused, or `undefined` when it is fine. */
function passwordProblem(password: string, confirm?: string | null): string | undefined {
  if (password.length < 8) return 'Choose a password of at least 8 characters.';
  if (password.length > 1024) return 'Choose a password of at most 1024 characters.';
  if (confirm !== undefined && confirm !== password) return 'The two new passwords differ.';
  return undefined;
}

function showCredentials(context: Context, mode: 'login' | 'signup', status = 200, error?: string) {
  const page = credentialsPage({ csrf: csrfOf(context), mode, email: emailOf(context) });
  const title = mode === 'login' ? 'Log in' : 'Sign up';
  render(
    context,
    status,
    title,
    page,
    error === undefined ? undefined : { tone: 'error', text: error },
  );
}

async function signUp(context: Context): Promise<void> {
  const email = emailOf(context);
  const password = context.form.get('password') ?? '';
  const problem =
    email.length > 254 || !EMAIL.test(email)
      ? 'Enter a valid email address.'
      : passwordProblem(password);
  if (problem !== undefined) return showCredentials(context, 'signup', 400, problem);
  const user = await context.app.users.create(email, password);
  if (user === undefined) {
    return showCredentials(context, 'signup', 409, 'An account with this email already exists.');
  }
  await login(context.session, user.id, user.checkvalue, { method: 'password' });
  flash(context, 'success', 'Welcome! Your account is ready and you are signed in.');
  redirect(context, '/');
}

async function logIn(context: Context): Promise<void> {
  const password = context.form.get('password') ?? '';
  const user = await context.app.users.authenticate(emailOf(context), password);
  if (user === undefined) return showCredentials(context, 'login', 401, 'Wrong email or password.');
  await login(context.session, user.id, user.checkvalue, { method: 'password' });
  flash(context, 'success', `Welcome back, ${user.email}.`);
  redirect(context, '/');
}

async function changePassword(context: Context): Promise<void> {
  const { form, session, app } = context;
  const user = context.user as NonNullable<Context['user']>;
  const show = (status: number, text: string) =>
    render(context, status, 'Password', passwordPage({ csrf: csrfOf(context) }), {
      tone: 'error',
      text,
    });
  if ((await app.users.authenticate(user.email, form.get('current') ?? '')) === undefined) {
    return show(401, 'Your current password is not right.');
  }
  const password = form.get('password') ?? '';
  const problem = passwordProblem(password, form.get('confirm'));
  if (problem !== undefined) return show(400, problem);
  // The new checkvalue ends every other session at its next request (checkSession);
  // keepLogin keeps this one signed in under the new checkvalue, with a new ID.
  const checkvalue = await app.users.setPassword(user.id, password);
  await keepLogin(session, user.id, checkvalue);
  flash(context, 'success', 'Password changed. Your other sessions end at their next request.');
  redirect(context, '/');
}

/** The account routes. */
export const ACCOUNT_ROUTES: Route[] = [
  { method: 'GET', path: '/signup', access: 'guest', run: (c) => showCredentials(c, 'signup') },
  { method: 'POST', path: '/signup', access: 'guest', run: signUp },
  { method: 'GET', path: '/login', access: 'guest', run: (c) => showCredentials(c, 'login') },
  { method: 'POST', path: '/login', access: 'guest', run: logIn },
  {
    method: 'POST',
    path: '/logout',
    access: 'any',
    async run(context) {
      await logout(context.session);
      redirect(context, '/login?notice=signed-out');
    },
  },
  {
    method: 'GET',
    path: '/password',
    access: 'user',
    run: (c) => render(c, 200, 'Password', passwordPage({ csrf: csrfOf(c) })),
  },
  { method: 'POST', path: '/password', access: 'user', run: changePassword },
];
