/**
 * Regenerating and destroying a session: shared by the manager and `pithos/auth`. Internal.
 *
 * @module
 */
import { equalBytes } from './bytes.ts';
import { emitFor, guard } from './context.ts';
import { type OpenedRecord, type OpenFailure, openRecord } from './record.ts';
import { newState, type SessionState } from './session.ts';
import { removeSession } from './user.ts';

/**
 * Gives the session a new ID and key at its next commit, deleting the old record now. Returns
 * `false` when the session turned out to be gone.
 *
 * With `merge` (regenerate, elevate, keepLogin), the record is read first, as a commit would: if
 * another request destroyed it (or regenerated it) meanwhile, the session becomes a new empty
 * one, since a destroyed session never comes back; if another request changed it, the commit
 * applies this request's changes onto that newer record, so neither is lost. Without it (login),
 * the new session holds this request's data only, whatever other requests wrote to the old one.
 */
export async function regenerateState(state: SessionState, merge = true): Promise<boolean> {
  if (state.destroyed) return false;
  // Without merging, nothing found by an earlier regenerate of this request is merged either.
  if (!merge) state.latest = undefined;
  const old = state.token;
  if (old !== undefined && state.record !== undefined) {
    const { context } = state;
    if (merge) {
      const latest = await guard(context, 'get', () => context.store.get(old.storeKey));
      let reopened: OpenedRecord | OpenFailure | undefined;
      if (latest === undefined) reopened = undefined;
      else if (equalBytes(latest, state.record)) reopened = state.opened;
      else reopened = openRecord(context.crypto, context.keyring, old, latest);
      if (reopened === undefined || typeof reopened === 'string') {
        // Gone, or replaced by something this session cannot open: start afresh, keeping the
        // deletes that an earlier reset() asked for.
        Object.assign(state, newState(state), { retired: state.retired });
        return false;
      }
      if (reopened !== state.opened) state.latest = reopened;
    }
    await removeSession(context, old.storeKey, state.opened?.meta.u !== undefined);
    emitFor(context, 'rotated', old, { cause: 'regenerate' });
    state.forceWrite = true;
  }
  state.token = undefined;
  state.record = undefined;
  return true;
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
  // Nobody is logged in to a destroyed session (getUserID, revokeOtherSessions).
  state.user = undefined;
}
