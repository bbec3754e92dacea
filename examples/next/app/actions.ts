'use server';
// Server actions: the cookie store of cookies() can be written here. Commit before redirect(),
// which ends the action by throwing.
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { commitSession, getSession } from 'pithos/next';
import { manager } from '../lib/session';

export async function login(formData: FormData): Promise<void> {
  const name = String(formData.get('name') ?? '').trim();
  if (name === '') return;
  const cookieStore = await cookies();
  const session = await getSession(manager, cookieStore);
  await manager.regenerate(session); // a new ID and key at login
  session.set('user', name);
  await commitSession(manager, cookieStore, session);
  redirect('/');
}

export async function logout(): Promise<void> {
  const cookieStore = await cookies();
  const session = await getSession(manager, cookieStore);
  await manager.destroy(session); // deletes the record; the commit expires the cookie
  await commitSession(manager, cookieStore, session);
  redirect('/');
}
