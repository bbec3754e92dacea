/** Session data is JSON, and nothing is silently changed: at compile time, at set, at commit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessionManager, DataError } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import { cookieFrom, SECRET, setup, storedSession } from './helpers.ts';

function isDataError(code: 'DATA_NOT_JSON' | 'DATA_TOO_LARGE') {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

class Point {
  x = 1;
}
const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;
const sparse: number[] = [1];
sparse[2] = 3;
class Cart extends Array<string> {}
const tagged = Object.assign(['a'], { note: 'gift' });

const REFUSED: [string, unknown][] = [
  ['a function', () => 1],
  ['a symbol', Symbol('s')],
  ['a BigInt', 10n],
  ['a Map', new Map([['a', 1]])],
  ['a Set', new Set([1])],
  ['a class instance', new Point()],
  ['undefined in an array', [1, undefined]],
  ['a hole in an array', sparse],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', { deep: [Number.NEGATIVE_INFINITY] }],
  ['an invalid Date', new Date(Number.NaN)],
  ['a cycle', cyclic],
  ['a nested function', { list: [{ ok: true, run: () => 0 }] }],
  ['undefined itself', undefined],
  ['a subclass of Array', Cart.from(['apple'])],
  ['an array with a named property', tagged],
  ['a symbol key', { a: 1, [Symbol('s')]: 2 }],
  ['a symbol key deep inside', { list: [{ [Symbol.for('x')]: true }] }],
];

describe('what JSON cannot see is not a change', () => {
  it('accepts a non-enumerable symbol key (metadata JSON never carried)', async () => {
    const fixture = setup();
    const value = { a: 1 };
    Object.defineProperty(value, Symbol('meta'), { value: 'x', enumerable: false });
    const session = await fixture.manager.load(undefined);
    session.set('key', value as never);
    const reloaded = await fixture.manager.load(cookieFrom(await fixture.manager.commit(session)));
    assert.deepEqual(reloaded.get('key'), { a: 1 });
  });
});

describe('set refuses what JSON cannot carry', () => {
  for (const [label, value] of REFUSED) {
    it(`refuses ${label} and keeps the previous value`, async () => {
      const fixture = setup();
      const { cookie } = await storedSession(fixture, { key: 'before' });
      const session = await fixture.manager.load(cookie);
      assert.throws(() => session.set('key', value as never), isDataError('DATA_NOT_JSON'));
      assert.equal(session.get('key'), 'before');
      assert.equal(session.isModified, false);
      fixture.store.resetCounts();
      assert.equal(await fixture.manager.commit(session), undefined);
      assert.equal(fixture.store.writes(), 0);
    });
  }

  it('says when the problem is a cycle', async () => {
    const session = await setup().manager.load(undefined);
    const list: unknown[] = [1];
    list.push({ back: list });
    assert.throws(() => session.set('list', list as never), /list\[1\]\.back .*cycle/);
  });

  it('names the path of the bad part', () => {
    const { manager } = setup();
    return manager.load(undefined).then((session) => {
      assert.throws(
        () => session.set('cart', [{ price: 1 }, { price: Number.NaN }]),
        (error: DataError) => error.path === 'cart[1].price' && /NaN/.test(error.message),
      );
    });
  });

  it('refuses a non-JSON flash value, at flash and at commit', async () => {
    const fixture = setup();
    const session = await fixture.manager.load(undefined);
    assert.throws(() => session.flash('notice', new Map()), isDataError('DATA_NOT_JSON'));
    const notice: Record<string, unknown> = { text: 'saved' };
    session.flash('notice', notice);
    notice.when = Number.NaN;
    await assert.rejects(fixture.manager.commit(session), isDataError('DATA_NOT_JSON'));
    assert.equal(fixture.store.writes(), 0);
  });
});

describe('commit refuses what slipped past set', () => {
  it('throws for a bad value put inside a nested object from get, keeping the old record', async () => {
    const fixture = setup<{ cart: { items: unknown[] } }>();
    const { cookie, storeKey } = await storedSession(fixture, { cart: { items: ['apple'] } });
    const before = await fixture.memory.get(storeKey);
    const session = await fixture.manager.load(cookie);
    session.get('cart')?.items.push(() => 'code');
    fixture.store.resetCounts();
    await assert.rejects(fixture.manager.commit(session), isDataError('DATA_NOT_JSON'));
    assert.equal(fixture.store.writes(), 0);
    assert.equal(await fixture.memory.get(storeKey), before);
    assert.deepEqual((await fixture.manager.load(cookie)).get('cart'), { items: ['apple'] });
  });

  it('throws for a bad value put inside an object after set', async () => {
    const fixture = setup();
    const { cookie, storeKey } = await storedSession(fixture, { profile: { name: 'a' } });
    const before = await fixture.memory.get(storeKey);
    const session = await fixture.manager.load(cookie);
    const profile: Record<string, unknown> = { name: 'b' };
    session.set('profile', profile as never);
    profile.greet = () => 'hello';
    fixture.store.resetCounts();
    await assert.rejects(fixture.manager.commit(session), isDataError('DATA_NOT_JSON'));
    assert.equal(fixture.store.writes(), 0);
    assert.equal(await fixture.memory.get(storeKey), before);
  });
});

describe('data that JSON carries', () => {
  it('stores a Date as its ISO string', async () => {
    const fixture = setup();
    const when = new Date(Date.UTC(2031, 4, 6, 7, 8, 9, 10));
    const { cookie } = await storedSession(fixture, {
      when: when as never,
      nested: { when } as never,
    });
    const session = await fixture.manager.load(cookie);
    assert.equal(session.get('when'), '2031-05-06T07:08:09.010Z');
    assert.deepEqual(session.get('nested'), { when: '2031-05-06T07:08:09.010Z' });
  });

  it('round-trips a nested "__proto__" key as plain data', async () => {
    const fixture = setup();
    const value = JSON.parse('{"__proto__": {"isAdmin": true}, "ok": 1}');
    const { cookie } = await storedSession(fixture, { value });
    const loaded = (await fixture.manager.load(cookie)).get('value') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(loaded), Object.prototype);
    assert.equal(loaded.isAdmin, undefined);
    assert.deepEqual(Object.keys(loaded), ['__proto__', 'ok']);
  });

  it('round-trips JSON values exactly, and leaves out undefined properties', async () => {
    const fixture = setup();
    const value = {
      s: 'Zoë 🗝',
      n: -0.5,
      b: false,
      z: null,
      a: [[], {}, [1, 'x']],
      gone: undefined,
    };
    const { cookie } = await storedSession(fixture, { value: value as never });
    const { gone: _, ...expected } = value;
    assert.deepEqual((await fixture.manager.load(cookie)).get('value'), expected);
  });
});

describe('maxDataBytes', () => {
  it('refuses data over the limit at commit and leaves the store untouched', async () => {
    const fixture = setup({ maxDataBytes: 1024 });
    const { cookie, storeKey } = await storedSession(fixture, { small: 'x' });
    const before = await fixture.memory.get(storeKey);
    const session = await fixture.manager.load(cookie);
    session.set('big', 'y'.repeat(1024));
    fixture.store.resetCounts();
    await assert.rejects(fixture.manager.commit(session), isDataError('DATA_TOO_LARGE'));
    assert.equal(fixture.store.writes(), 0);
    assert.equal(await fixture.memory.get(storeKey), before);
  });

  it('refuses a new session over the limit without creating anything', async () => {
    const fixture = setup({ maxDataBytes: 512 });
    const session = await fixture.manager.load(undefined);
    session.set('big', 'y'.repeat(600));
    await assert.rejects(fixture.manager.commit(session), isDataError('DATA_TOO_LARGE'));
    assert.equal(fixture.store.writes(), 0);
    assert.equal(fixture.memory.size, 0);
  });

  it('accepts data just under the limit', async () => {
    const fixture = setup({ maxDataBytes: 1024 });
    const session = await fixture.manager.load(undefined);
    session.set('big', 'y'.repeat(900));
    assert.ok(await fixture.manager.commit(session));
  });
});

describe('compile-time checks (run by tsc -p tsconfig.json)', () => {
  it('only JSON-compatible data types compile', () => {
    const store = memoryStore();
    // @ts-expect-error: functions are not JSON
    createSessionManager<{ f: () => void }>({ store, secret: SECRET });
    // @ts-expect-error: a Map is not JSON
    createSessionManager<{ m: Map<string, number> }>({ store, secret: SECRET });
    // @ts-expect-error: a bigint is not JSON
    createSessionManager<{ n: bigint }>({ store, secret: SECRET });
    const manager = createSessionManager<{ visits: number; cart: string[] }>({
      store,
      secret: SECRET,
    });
    return manager.load(undefined).then((session) => {
      // @ts-expect-error: visits is a number
      session.set('visits', 'not a number');
      // @ts-expect-error: no such key in the data type
      session.get('unknown');
      session.set('cart', ['ok']);
      assert.deepEqual(session.get('cart'), ['ok']);
    });
  });
});
