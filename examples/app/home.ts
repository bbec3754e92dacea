// The pages of a signed-in user: the home page (a visit counter and a cart, kept in the session)
// and "your sessions" (this user's devices, from pithos/auth's per-user index).
import { PithosError } from 'pithos';
import {
  csrfToken,
  keepLogin,
  listSessions,
  revokeOtherSessions,
  revokeSession,
  type SessionInfo,
} from 'pithos/auth';
import { MAX_QUANTITY, productByID } from './catalog.ts';
import { type Context, flash, redirect, render } from './context.ts';
import { homePage, sessionsPage } from './pages.ts';
import type { Route } from './routes.ts';

type SignedIn = Context & { user: NonNullable<Context['user']> };

const isNotSupported = (error: unknown): boolean =>
  error instanceof PithosError && error.code === 'NOT_SUPPORTED';

function showHome(context: Context): void {
  const { session } = context;
  // HEAD asks about the page without opening it: not a visit.
  const isVisit = context.request.method !== 'HEAD';
  const visits = (session.get('visits') ?? 0) + (isVisit ? 1 : 0);
  if (isVisit) session.set('visits', visits);
  const page = homePage({ csrf: csrfToken(session), visits, cart: session.get('cart') ?? {} });
  render(context, 200, 'Home', page);
}

/** Adds (+1) or removes (-1) one of a product. */
function changeCart(delta: 1 | -1) {
  return (context: Context): void => {
    const { session } = context;
    const product = productByID(context.form.get('product'));
    if (product === undefined) {
      redirect(context, '/');
      return;
    }
    if (!session.has('cart')) session.set('cart', {});
    // Changed in place: pithos sees changes inside a value it handed out, and saves them.
    const cart = session.get('cart') as Record<string, number>;
    const quantity = Math.min((cart[product.id] ?? 0) + delta, MAX_QUANTITY);
    if (quantity > 0) cart[product.id] = quantity;
    else delete cart[product.id];
    flash(context, 'success', `${delta > 0 ? 'Added' : 'Removed'} one ${product.name}.`);
    redirect(context, '/#cart');
  };
}

async function showSessions(context: Context): Promise<void> {
  const { app, session, user } = context as SignedIn;
  let sessions: SessionInfo[] | undefined;
  try {
    // With the current checkvalue, sessions a password change ended are not listed.
    sessions = await listSessions(app.manager, user.id, {
      current: session,
      checkvalue: user.checkvalue,
    });
  } catch (error) {
    if (!isNotSupported(error)) throw error;
  }
  const storeName = app.manager.store.name;
  const page = sessionsPage({ csrf: csrfToken(session), sessions, storeName, now: Date.now() });
  render(context, 200, 'Your sessions', page);
}

async function revokeOne(context: Context): Promise<void> {
  const { app, user, form } = context as SignedIn;
  const ended = await revokeSession(app.manager, user.id, form.get('handle') ?? '');
  flash(
    context,
    ended ? 'success' : 'info',
    ended ? 'Signed out that session.' : 'That session had already ended.',
  );
  redirect(context, '/sessions');
}

async function revokeOthers(context: Context): Promise<void> {
  const { app, user, session } = context as SignedIn;
  try {
    const count = await revokeOtherSessions(session);
    flash(context, 'success', `Signed out ${count} other session${count === 1 ? '' : 's'}.`);
  } catch (error) {
    if (!isNotSupported(error)) throw error;
    // No per-user index (memcached): a new checkvalue ends the others at their next request.
    await keepLogin(session, user.id, await app.users.renewCheckvalue(user.id));
    flash(context, 'success', 'Your other sessions end at their next request.');
  }
  redirect(context, '/sessions');
}

/** The routes of signed-in users. */
export const HOME_ROUTES: Route[] = [
  { method: 'GET', path: '/', access: 'user', run: showHome },
  { method: 'POST', path: '/cart/add', access: 'user', run: changeCart(1) },
  { method: 'POST', path: '/cart/remove', access: 'user', run: changeCart(-1) },
  {
    method: 'POST',
    path: '/visits/reset',
    access: 'user',
    run(context) {
      context.session.delete('visits');
      flash(context, 'success', 'The visit counter starts over.');
      redirect(context, '/');
    },
  },
  { method: 'GET', path: '/sessions', access: 'user', run: showSessions },
  { method: 'POST', path: '/sessions/revoke', access: 'user', run: revokeOne },
  { method: 'POST', path: '/sessions/revoke-others', access: 'user', run: revokeOthers },
];
