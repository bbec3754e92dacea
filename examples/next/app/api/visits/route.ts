// A route handler with Request/Response: withSession loads the session, commits after the
// handler, and adds Set-Cookie, Cache-Control: no-store and Vary: Cookie to its response.
import { withSession } from 'pithos/next';
import { manager } from '../../../lib/session';

export const GET = withSession(manager, async (_request, session) =>
  Response.json({ user: session.get('user') ?? null, visits: session.get('visits') ?? 0 }),
);

export const POST = withSession(manager, async (_request, session) => {
  const visits = (session.get('visits') ?? 0) + 1;
  session.set('visits', visits);
  return Response.json({ visits });
});
