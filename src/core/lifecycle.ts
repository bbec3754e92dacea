/**
 * Regenerating and destroying a session: shared by the manager and `pithos/auth`. Internal.
 *
 * @module
 */
import { emitFor, guard } from './context.ts';
import type { SessionState } from './session.ts';
import { removeSession } from './user.ts';

/** Gives the session a new ID and key at its next commit, deleting the old record now. */
export async function regenerateState(state: SessionState): Promise<void> {
  if (state.destroyed) return;
  const old = state.token;
  if (old !== undefined && state.record !== undefined) {
    await removeSession(state.context, old.storeKey, state.opened?.meta.u !== undefined);
    emitFor(state.context, 'rotated', old, { cause: 'regenerate' });
    state.forceWrite = true;
  }
  state.token = undefined;
  state.record = undefined;
}

/** Deletes the session's record now; every later commit clears the cookie and writes nothing. */
export async function destroyState(state: SessionState): Promise<void> {
  const { context, token } = state;
  if (token !== undefined && state.record !== undefined && !state.destroyed) {
    await removeSession(
      context,
      token.storeKey,
      state.opened?.meta.u !== undefined || state.user !== undefined,
    );
    emitFor(context, 'destroyed', token, {});
  }
  for (const key of state.retired.splice(0))
    await guard(context, 'delete', () => context.store.delete(key));
  state.destroyed = true;
}
