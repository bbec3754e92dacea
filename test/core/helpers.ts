/**
 * Shared fixtures of the core tests: a fake clock, a store wrapper that counts and records every
 * call, and a manager wired to both. Not a test file itself.
 */
import assert from 'node:assert/strict';
import type { JSONOnly } from '../../src/core/json.ts';
import {
  createSessionManager,
  type JSONValue,
  type LoadOptions,
  type SessionEvents,
  type SessionManager,
  type SessionManagerOptions,
  type Store,
  type StoreSetOptions,
} from '../../src/index.ts';
import { type MemoryStore, memoryStore } from '../../src/stores/memory.ts';

/** A server secret for tests (not a real one). */
export const SECRET = 'pithos-test-secret-3f9a1c07e2b84d6a9c5e1f0b7d2a4e68';
/** A second, unrelated secret. */
export const OTHER_SECRET = 'pithos-other-secret-8d1e5b93c0f24a7e6b1d9c3a5f0e2b74';
/** The default cookie name. */
export const COOKIE_NAME = '__Host-pithos';
/** Where the fake clock starts: 2030-01-01T00:00:00Z. */
export const START = Date.UTC(2030, 0, 1);

/** A clock the test moves by hand. */
export interface FakeClock {
  now: number;
  readonly read: () => number;
  /** Moves the clock forward by `seconds`. */
  advance(seconds: number): void;
}

export function fakeClock(start = START): FakeClock {
  const clock: FakeClock = {
    now: start,
    read: () => clock.now,
    advance(seconds) {
      clock.now += seconds * 1000;
    },
  };
  return clock;
}

type Method = 'get' | 'set' | 'delete' | 'compareAndSet';

/** A store that forwards to an inner store and records what it was asked to do. */
export interface SpyStore extends Store {
  /** Calls by method since the last `resetCounts`. */
  readonly calls: Record<Method, number>;
  /** Every record written (by set or a successful compareAndSet), with its key. */
  readonly written: { key: string; record: Uint8Array; options: StoreSetOptions }[];
  /** set + delete + compareAndSet calls since the last `resetCounts`. */
  writes(): number;
  resetCounts(): void;
}

/** Wraps `inner`; without `compareAndSet` when `withCAS` is false. */
export function spyStore(inner: Store, withCAS = true): SpyStore {
  const calls: Record<Method, number> = { get: 0, set: 0, delete: 0, compareAndSet: 0 };
  const written: SpyStore['written'] = [];
  const spy: SpyStore = {
    name: inner.name,
    calls,
    written,
    writes: () => calls.set + calls.delete + calls.compareAndSet,
    resetCounts() {
      for (const method of Object.keys(calls) as Method[]) calls[method] = 0;
    },
    async get(key) {
      calls.get++;
      return inner.get(key);
    },
    async set(key, record, options) {
      calls.set++;
      written.push({ key, record, options });
      return inner.set(key, record, options);
    },
    async delete(key) {
      calls.delete++;
      return inner.delete(key);
    },
  };
  const compareAndSet = inner.compareAndSet?.bind(inner);
  if (withCAS && compareAndSet) {
    spy.compareAndSet = async (key, expected, record, options) => {
      calls.compareAndSet++;
      const wrote = await compareAndSet(key, expected, record, options);
      if (wrote) written.push({ key, record, options });
      return wrote;
    };
  }
  return spy;
}

/** One event as a listener received it. */
export interface SeenEvent {
  type: keyof SessionEvents;
  event: SessionEvents[keyof SessionEvents];
}

const EVENT_TYPES: (keyof SessionEvents)[] = [
  'created',
  'loaded',
  'rejected',
  'rotated',
  'destroyed',
  'expired',
];

/** A manager, its store (wrapped), its clock and every event it emitted. */
export interface Fixture<Data extends object> {
  manager: SessionManager<Data>;
  memory: MemoryStore;
  store: SpyStore;
  clock: FakeClock;
  events: SeenEvent[];
  /** The events of one type. */
  eventsOf<K extends keyof SessionEvents>(type: K): SessionEvents[K][];
}

export interface SetupOptions extends Partial<SessionManagerOptions> {
  /** Share the memory store and clock of another fixture (another manager, same store). */
  memory?: MemoryStore;
  fakeClock?: FakeClock;
  /** Wrap the memory store without compare-and-set. */
  withCAS?: boolean;
}

export function setup<Data extends object = Record<string, JSONValue>>(
  options: SetupOptions = {},
): Fixture<Data> {
  const { memory: shared, fakeClock: sharedClock, withCAS = true, ...rest } = options;
  const clock = sharedClock ?? fakeClock();
  const memory = shared ?? memoryStore({ clock: clock.read });
  const store = spyStore(memory, withCAS);
  const secrets = rest.secret === undefined && rest.secrets === undefined ? { secret: SECRET } : {};
  const managerOptions = { store, clock: clock.read, ...secrets, ...rest };
  const manager = createSessionManager<Data>(
    managerOptions as SessionManagerOptions & JSONOnly<Data>,
  );
  const events: SeenEvent[] = [];
  for (const type of EVENT_TYPES) manager.on(type, (event) => events.push({ type, event }));
  return {
    manager,
    memory,
    store,
    clock,
    events,
    eventsOf: <K extends keyof SessionEvents>(type: K) =>
      events.filter((seen) => seen.type === type).map((seen) => seen.event as SessionEvents[K]),
  };
}

/** The `name=value` pair of a `Set-Cookie` value, as a browser sends it back. */
export function cookieFrom(setCookie: string | undefined): string {
  assert.ok(setCookie, 'expected a Set-Cookie value');
  const pair = setCookie.split(';')[0] as string;
  return pair;
}

/** The value (the token) of a `Set-Cookie` value. */
export function tokenFrom(setCookie: string | undefined): string {
  const pair = cookieFrom(setCookie);
  return pair.slice(pair.indexOf('=') + 1);
}

/** The `Max-Age` of a `Set-Cookie` value, or `undefined` when it has none. */
export function maxAgeOf(setCookie: string | undefined): number | undefined {
  const match = /; Max-Age=(\d+)/.exec(setCookie ?? '');
  return match ? Number(match[1]) : undefined;
}

/** Creates a stored session with `data` and returns its cookie header and store key. */
export async function storedSession<Data extends object>(
  fixture: Fixture<Data>,
  data: Partial<Data>,
  loadOptions: LoadOptions = {},
): Promise<{ cookie: string; token: string; storeKey: string }> {
  const session = await fixture.manager.load(undefined, loadOptions);
  for (const [key, value] of Object.entries(data)) session.set(key as never, value as never);
  const setCookie = await fixture.manager.commit(session);
  const last = fixture.store.written.at(-1);
  assert.ok(last, 'expected the commit to write a record');
  return { cookie: cookieFrom(setCookie), token: tokenFrom(setCookie), storeKey: last.key };
}
