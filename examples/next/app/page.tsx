// A server component: it may read the session, but cannot set cookies (commit in actions).
import { cookies } from 'next/headers';
import { getSession } from 'pithos/next';
import { manager } from '../lib/session';
import { login, logout } from './actions';

export default async function Home() {
  const session = await getSession(manager, await cookies());
  const user = session.get('user');
  return (
    <main>
      <h1>pithos + Next.js</h1>
      {user === undefined ? (
        <form action={login}>
          <input name="name" placeholder="your name" />
          <button type="submit">Sign in</button>
        </form>
      ) : (
        <form action={logout}>
          <p>Signed in as {user}.</p>
          <button type="submit">Sign out</button>
        </form>
      )}
      <p>
        Visits counted by the route handler: {session.get('visits') ?? 0} (POST /api/visits to add
        one).
      </p>
    </main>
  );
}
