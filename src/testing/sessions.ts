/** Conformance tests that run real sessions through a manager over the store. Internal. @module */
import { fromBase64URL, toHex } from '../core/bytes.ts';
import { createSessionManager, type SessionManager } from '../core/manager.ts';
import type { Store } from '../core/store.ts';
import type { StoreConformanceOptions, TestRunner } from './index.ts';
import { check, withStore } from './support.ts';

type Data = Record<string, string>;

function managerFor(store: Store): SessionManager<Data> {
  const secret = toHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
  return createSessionManager<Data>({ store, secret });
}

function cookieOf(setCookie: string | undefined): string {
  check(setCookie !== undefined, 'commit sent no cookie');
  return setCookie.split(';')[0] as string;
}

/** Captures every record handed to the store, to check what reaches the back-end. */
function capturing(store: Store): { store: Store; written: Uint8Array[] } {
  const written: Uint8Array[] = [];
  const wrapped: Store = Object.create(store);
  wrapped.set = (key, record, options) => {
    written.push(record);
    return store.set(key, record, options);
  };
  const compareAndSet = store.compareAndSet?.bind(store);
  if (compareAndSet) {
    wrapped.compareAndSet = (key, expected, record, options) => {
      written.push(record);
      return compareAndSet(key, expected, record, options);
    };
  }
  return { store: wrapped, written };
}

function contains(haystack: string | Uint8Array, needle: string): boolean {
  const text = typeof haystack === 'string' ? haystack : Buffer.from(haystack).toString('latin1');
  return text.includes(needle);
}

/** Registers the manager-level tests. */
export function registerSessionTests(runner: TestRunner, options: StoreConformanceOptions): void {
  const { it } = runner;

  it('a session round-trips through a manager, and destroy removes it', async () => {
    await withStore(options, async (store) => {
      const manager = managerFor(store);
      const session = await manager.load(undefined);
      session.set('greeting', 'hello');
      const cookie = cookieOf(await manager.commit(session));
      const loaded = await manager.load(cookie);
      check(loaded.get('greeting') === 'hello', 'the session data did not come back');
      await manager.destroy(loaded);
      check((await manager.load(cookie)).isNew, 'a destroyed session still loads');
    });
  });

  it('with compare-and-set, 50 concurrent requests setting different keys keep all 50', async () => {
    await withStore(options, async (store) => {
      if (store.compareAndSet === undefined) return; // without compare-and-set this is not promised
      const manager = managerFor(store);
      const first = await manager.load(undefined);
      first.set('start', 'yes');
      const cookie = cookieOf(await manager.commit(first));
      const sessions = await Promise.all(Array.from({ length: 50 }, () => manager.load(cookie)));
      for (const [i, session] of sessions.entries()) session.set(`key${i}`, String(i));
      await Promise.all(sessions.map((session) => manager.commit(session)));
      const final = await manager.load(cookie);
      const missing = Array.from({ length: 50 }, (_, i) => `key${i}`).filter(
        (key) => final.get(key) === undefined,
      );
      check(missing.length === 0, `lost updates: ${missing.length} of 50 keys missing`);
    });
  });

  it('with compare-and-set, a destroy wins over a concurrent commit', async () => {
    await withStore(options, async (store) => {
      if (store.compareAndSet === undefined) return;
      const manager = managerFor(store);
      const first = await manager.load(undefined);
      first.set('a', '1');
      const cookie = cookieOf(await manager.commit(first));
      const [writer, destroyer] = await Promise.all([manager.load(cookie), manager.load(cookie)]);
      await manager.destroy(destroyer);
      writer.set('b', '2');
      const setCookie = await manager.commit(writer);
      check(setCookie === undefined, 'the late commit sent a cookie');
      check((await manager.load(cookie)).isNew, 'a destroyed session came back');
    });
  });

  it('nothing readable at rest: no data, session ID or token reaches the back-end', async () => {
    await withStore(options, async (plain) => {
      const { store, written } = capturing(plain);
      const manager = managerFor(store);
      const canary = `canary-${toHex(globalThis.crypto.getRandomValues(new Uint8Array(8)))}`;
      const session = await manager.load(undefined);
      session.set('secret', canary);
      const cookie = cookieOf(await manager.commit(session));
      const token = cookie.slice(cookie.indexOf('=') + 1);
      const id = fromBase64URL(token)?.subarray(0, 16);
      check(id !== undefined, 'cookie value is not a token');
      const needles = [canary, token, toHex(id), Buffer.from(id).toString('base64url')];
      const dumps: (string | Uint8Array)[] = [...written];
      if (options.dump) dumps.push(await options.dump());
      for (const dump of dumps) {
        for (const needle of needles)
          check(!contains(dump, needle), 'plaintext found in what the store holds');
      }
      await manager.destroy(await manager.load(cookie));
    });
  });
}
