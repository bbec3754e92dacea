/** Expiry: idle and absolute timeouts from the sealed timestamps, setDuration, cookie lifetimes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryStore } from '../../src/stores/memory.ts';
import { type Fixture, maxAgeOf, type SetupOptions, setup, storedSession } from './helpers.ts';

/**
 * A fixture whose memory store never expires anything by itself (its clock stands still), so
 * that only the manager's check of the sealed timestamps decides: the plaintext expiry a store
 * keeps is for cleanup only and must never make a session valid.
 */
function withLazyStore(options: SetupOptions = {}): Fixture<Record<string, number>> {
  const frozen = Date.UTC(2000, 0, 1);
  return setup({ ...options, memory: memoryStore({ clock: () => frozen }) });
}

async function write(fixture: Fixture<Record<string, number>>, cookie: string, value: number) {
  const session = await fixture.manager.load(cookie);
  assert.equal(session.isNew, false, 'expected the session to be alive');
  session.set('n', value);
  return fixture.manager.commit(session);
}

describe('idle timeout', () => {
  it('slides: every write pushes the expiry', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, touchInterval: 60 });
    const { cookie } = await storedSession(fixture, { n: 0 });
    for (let i = 1; i <= 5; i++) {
      fixture.clock.advance(599);
      await write(fixture, cookie, i);
    }
    fixture.clock.advance(599);
    assert.equal((await fixture.manager.load(cookie)).get('n'), 5);
    fixture.clock.advance(1);
    assert.equal((await fixture.manager.load(cookie)).isNew, true);
  });

  it('every write slides the deadline; the unchanged cookie is not re-sent within touchInterval', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, touchInterval: 60 });
    const { cookie } = await storedSession(fixture, { n: 0 });
    fixture.clock.advance(30);
    fixture.store.resetCounts();
    assert.equal(await write(fixture, cookie, 1), undefined, 'the browser cookie still fits');
    assert.equal(fixture.store.writes(), 1, 'the change itself is written');
    fixture.clock.advance(29);
    assert.equal(await write(fixture, cookie, 2), undefined);
    // The deadline is the last write + 600 s, as for any write.
    fixture.clock.advance(599);
    assert.equal((await fixture.manager.load(cookie)).get('n'), 2);
    fixture.clock.advance(1);
    assert.equal((await fixture.manager.load(cookie)).isNew, true);
  });

  it('a write touchInterval after the cookie was last sent re-sends it with the full Max-Age', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, touchInterval: 60 });
    const { cookie } = await storedSession(fixture, { n: 0 });
    fixture.clock.advance(30);
    assert.equal(await write(fixture, cookie, 1), undefined);
    fixture.clock.advance(29);
    assert.equal(await write(fixture, cookie, 2), undefined, '59 s after the cookie');
    fixture.clock.advance(1);
    const setCookie = await write(fixture, cookie, 3);
    assert.equal(setCookie?.split(';')[0], cookie, 'the same token');
    assert.equal(maxAgeOf(setCookie), 600);
    fixture.clock.advance(30);
    assert.equal(await write(fixture, cookie, 4), undefined, 'and the interval starts again');
    fixture.clock.advance(599);
    assert.equal((await fixture.manager.load(cookie)).get('n'), 4);
  });

  it('a browser-session cookie is sent once, whatever the writes after it', async () => {
    const fixture = withLazyStore({
      idleTimeout: 600,
      touchInterval: 60,
      cookie: { persistent: false },
    });
    const { cookie } = await storedSession(fixture, { n: 0 });
    fixture.clock.advance(120);
    assert.equal(await write(fixture, cookie, 1), undefined);
    fixture.clock.advance(500);
    assert.equal(
      (await fixture.manager.load(cookie)).get('n'),
      1,
      'the deadline moved all the same',
    );
  });

  it('an expired session loads as new, its record is deleted, and `expired` is emitted', async () => {
    const fixture = withLazyStore({ idleTimeout: 600 });
    const { cookie, storeKey } = await storedSession(fixture, { n: 1 });
    fixture.clock.advance(600);
    fixture.store.resetCounts();
    const session = await fixture.manager.load(cookie);
    assert.equal(session.isNew, true);
    assert.equal(session.size, 0);
    assert.equal(fixture.eventsOf('expired').length, 1);
    assert.equal(fixture.eventsOf('rejected').length, 0);
    assert.deepEqual(
      { set: fixture.store.calls.set, cas: fixture.store.calls.compareAndSet },
      { set: 0, cas: 0 },
    );
    assert.equal(fixture.store.calls.delete, 1, 'deleting its own record is the one write');
    assert.equal(await fixture.memory.get(storeKey), undefined);
  });

  it('with a store that expires records itself, an expired session is gone too', async () => {
    const fixture = setup({ idleTimeout: 600 });
    const { cookie, storeKey } = await storedSession(fixture, { n: 1 });
    fixture.clock.advance(599);
    assert.equal((await fixture.manager.load(cookie)).get('n'), 1);
    fixture.clock.advance(1);
    assert.equal((await fixture.manager.load(cookie)).isNew, true);
    assert.equal(await fixture.memory.get(storeKey), undefined);
  });
});

describe('absolute timeout', () => {
  it('is never extended by writes', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, absoluteTimeout: 1800, touchInterval: 60 });
    const { cookie } = await storedSession(fixture, { n: 0 });
    for (let i = 1; i <= 3; i++) {
      fixture.clock.advance(500);
      await write(fixture, cookie, i);
    }
    fixture.clock.advance(299);
    assert.equal((await fixture.manager.load(cookie)).get('n'), 3);
    fixture.clock.advance(1);
    assert.equal((await fixture.manager.load(cookie)).isNew, true);
    assert.equal(fixture.eventsOf('expired').length, 1);
  });

  it('caps Max-Age at the remaining absolute lifetime', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, absoluteTimeout: 1000, touchInterval: 60 });
    const session = await fixture.manager.load(undefined);
    session.set('n', 0);
    const first = await fixture.manager.commit(session);
    assert.equal(maxAgeOf(first), 600);
    const cookie = first?.split(';')[0] as string;
    fixture.clock.advance(500);
    assert.equal(maxAgeOf(await write(fixture, cookie, 1)), 500);
    fixture.clock.advance(400);
    assert.equal(maxAgeOf(await write(fixture, cookie, 2)), 100);
  });
});

describe('setDuration', () => {
  it('lengthens this session’s idle timeout, and the new duration sticks', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, touchInterval: 60 });
    const { cookie } = await storedSession(fixture, { n: 0 });
    const session = await fixture.manager.load(cookie);
    session.setDuration(7200);
    assert.equal(session.isModified, true);
    assert.equal(maxAgeOf(await fixture.manager.commit(session)), 7200);
    fixture.clock.advance(3600);
    assert.equal(maxAgeOf(await write(fixture, cookie, 1)), 7200);
    fixture.clock.advance(7199);
    assert.equal((await fixture.manager.load(cookie)).get('n'), 1);
  });

  it('shortens it', async () => {
    const fixture = withLazyStore({ idleTimeout: 600 });
    const session = await fixture.manager.load(undefined);
    session.set('n', 1);
    session.setDuration(30);
    const cookie = (await fixture.manager.commit(session))?.split(';')[0] as string;
    fixture.clock.advance(30);
    assert.equal((await fixture.manager.load(cookie)).isNew, true);
  });

  it('a duration at or below touchInterval still keeps a session in use alive, and its cookie too', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, touchInterval: 60 });
    const session = await fixture.manager.load(undefined);
    session.set('n', 1);
    session.setDuration(30);
    const cookie = (await fixture.manager.commit(session))?.split(';')[0] as string;
    // Read-only requests every 10 s: each unchanged session is rewritten once half its own
    // duration (15 s) has passed, not only after the manager's 60 s.
    for (let second = 10; second <= 120; second += 10) {
      fixture.clock.advance(10);
      const loaded = await fixture.manager.load(cookie);
      assert.equal(loaded.get('n'), 1, `alive at ${second} s`);
      const setCookie = await fixture.manager.commit(loaded);
      assert.equal(
        setCookie === undefined ? undefined : maxAgeOf(setCookie),
        second % 20 === 0 ? 30 : undefined,
      );
    }
    // The loop's last commit (at 120 s) sent the cookie. A change within half the duration is
    // written without it; one 17 s after it sends it again: the browser's copy (30 s) must not
    // end before the server's deadline.
    fixture.clock.advance(5);
    assert.equal(await write(fixture, cookie, 2), undefined);
    fixture.clock.advance(12);
    assert.equal(maxAgeOf(await write(fixture, cookie, 3)), 30);
  });

  it('never goes past the absolute deadline', async () => {
    const fixture = withLazyStore({ idleTimeout: 600, absoluteTimeout: 3600 });
    const { cookie, storeKey } = await storedSession(fixture, { n: 0 });
    fixture.clock.advance(100);
    const session = await fixture.manager.load(cookie);
    session.setDuration(365 * 86_400);
    const setCookie = await fixture.manager.commit(session);
    assert.equal(maxAgeOf(setCookie), 3500);
    const expiry = fixture.store.written.at(-1)?.options.expiresAt;
    assert.equal(expiry, fixture.clock.now + 3500_000);
    assert.equal(fixture.store.written.at(-1)?.key, storeKey);
    fixture.clock.advance(3500);
    assert.equal((await fixture.manager.load(cookie)).isNew, true);
  });

  it('refuses a duration that is not a positive number', async () => {
    const session = await setup().manager.load(undefined);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => session.setDuration(bad), { code: 'CONFIG_INVALID' });
    }
  });
});

describe('cookie lifetime', () => {
  it('a persistent cookie carries Max-Age equal to the idle timeout', async () => {
    const fixture = setup({ idleTimeout: 900 });
    const session = await fixture.manager.load(undefined);
    session.set('n', 1);
    assert.equal(maxAgeOf(await fixture.manager.commit(session)), 900);
  });

  it('`persistent: false` gives a browser-session cookie without Max-Age or Expires', async () => {
    const fixture = setup({ cookie: { persistent: false } });
    const session = await fixture.manager.load(undefined);
    session.set('n', 1);
    const setCookie = await fixture.manager.commit(session);
    assert.ok(setCookie);
    assert.doesNotMatch(setCookie, /Max-Age|Expires/i);
    assert.match(setCookie, /^__Host-pithos=[A-Za-z0-9_-]{64}; Path=\//);
  });
});
