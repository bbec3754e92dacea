/** Reading the session cookie from a `Cookie` header: never throws, refuses duplicates. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCookie } from '../../src/index.ts';
import { COOKIE_NAME, setup, storedSession } from '../core/helpers.ts';

/** A small seeded generator, so that the fuzz is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  ';',
  '=',
  '"',
  ' ',
  '\t',
  ',',
  '\\',
  'a',
  'Z',
  '0',
  '-',
  '_',
  'é',
  '🗝',
  '\u0000',
  '\ud800',
  '\r\n',
  '__Host-pithos',
  '__Host-pithos=',
  '; __Host-pithos="',
  '%3B',
  '==',
];

function randomHeader(next: () => number): string {
  const length = Math.floor(next() * 60);
  let out = '';
  for (let i = 0; i < length; i++) {
    out +=
      next() < 0.5
        ? (PIECES[Math.floor(next() * PIECES.length)] as string)
        : String.fromCharCode(Math.floor(next() * 0x3000));
  }
  return out;
}

describe('readCookie', () => {
  it('finds the cookie among others, trimming spaces and quotes', () => {
    assert.deepEqual(readCookie('a=1; __Host-pithos=tok; b=2', COOKIE_NAME), {
      status: 'present',
      value: 'tok',
    });
    assert.deepEqual(readCookie('__Host-pithos= "tok" ', COOKIE_NAME), {
      status: 'present',
      value: 'tok',
    });
    assert.deepEqual(readCookie('x__Host-pithos=1;__Host-pithosx=2', COOKIE_NAME), {
      status: 'absent',
    });
  });

  it('trims only spaces and tabs: a name behind another blank is another cookie', () => {
    assert.deepEqual(readCookie('\t__Host-pithos=\ttok\t ', COOKIE_NAME), {
      status: 'present',
      value: 'tok',
    });
    // A browser files "\u00a0__Host-pithos" under that name, outside the __Host- prefix's rules,
    // so a sibling domain can set it: it must not be read as the session cookie.
    for (const blank of ['\u00a0', '\u2003', '\ufeff', '\n', '\v', '\f']) {
      assert.deepEqual(
        readCookie(`${blank}__Host-pithos=planted`, COOKIE_NAME),
        { status: 'absent' },
        JSON.stringify(blank),
      );
      assert.deepEqual(readCookie(`__Host-pithos=tok${blank}`, COOKIE_NAME), {
        status: 'present',
        value: `tok${blank}`,
      });
    }
  });

  it('reports absent for missing, empty or non-string headers', () => {
    for (const header of [undefined, null, '', 'a=1', ';;;', '=', 42, {}, ['__Host-pithos=x']]) {
      assert.deepEqual(readCookie(header, COOKIE_NAME), { status: 'absent' });
    }
  });

  it('reports a cookie given twice as duplicate, whatever the values', () => {
    for (const header of [
      '__Host-pithos=a; __Host-pithos=b',
      '__Host-pithos=a;__Host-pithos=a',
      'x=1; __Host-pithos=a; y=2; __Host-pithos=',
    ]) {
      assert.deepEqual(readCookie(header, COOKIE_NAME), { status: 'duplicate' });
    }
  });

  it('never throws on arbitrary input (seeded fuzz)', () => {
    const next = random(0x9e3779b9);
    const statuses = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const header = randomHeader(next);
      const found = readCookie(header, COOKIE_NAME);
      statuses.add(found.status);
      if (found.status === 'present') {
        assert.equal(typeof found.value, 'string');
        assert.ok(header.includes(found.value), 'the value comes from the header');
        assert.ok(!found.value.includes(';'));
      }
    }
    assert.deepEqual([...statuses].sort(), ['absent', 'duplicate', 'present']);
  });

  it('never throws on very long headers', () => {
    const token = 'A'.repeat(64);
    const long = `${'x=1; '.repeat(100_000)}__Host-pithos=${token}`;
    assert.deepEqual(readCookie(long, COOKIE_NAME), { status: 'present', value: token });
    assert.deepEqual(readCookie(';'.repeat(1_000_000), COOKIE_NAME), { status: 'absent' });
    assert.deepEqual(readCookie('='.repeat(1_000_000), COOKIE_NAME), { status: 'absent' });
  });

  it('reads back exactly the value placed among random other cookies', () => {
    const next = random(7);
    for (let i = 0; i < 500; i++) {
      const value = Buffer.from(
        Array.from({ length: 48 }, () => Math.floor(next() * 256)),
      ).toString('base64url');
      const others = Array.from({ length: Math.floor(next() * 6) }, (_, j) => `c${j}=v${next()}`);
      others.splice(Math.floor(next() * (others.length + 1)), 0, `${COOKIE_NAME}=${value}`);
      assert.deepEqual(readCookie(others.join('; '), COOKIE_NAME), { status: 'present', value });
      const twice = [...others, `${COOKIE_NAME}=${value}`].join('; ');
      assert.deepEqual(readCookie(twice, COOKIE_NAME), { status: 'duplicate' });
    }
  });
});

describe('the manager and the Cookie header', () => {
  it('treats a duplicated session cookie as no session, emitting a rejected event', async () => {
    const fixture = setup();
    const { cookie } = await storedSession(fixture, { visits: 3 });
    fixture.store.resetCounts();
    const session = await fixture.manager.load(`${cookie}; ${cookie}`);
    assert.equal(session.isNew, true);
    assert.equal(session.get('visits'), undefined);
    assert.deepEqual(fixture.eventsOf('rejected'), [{ reason: 'duplicate-cookie' }]);
    assert.equal(fixture.store.calls.get + fixture.store.writes(), 0);
    assert.equal((await fixture.manager.load(cookie)).get('visits'), 3);
  });

  it('never throws on arbitrary Cookie headers', async () => {
    const { manager, store } = setup();
    const next = random(99);
    for (let i = 0; i < 300; i++) {
      const session = await manager.load(`${COOKIE_NAME}=${randomHeader(next)}`);
      assert.equal(session.isNew, true);
    }
    assert.equal(store.writes(), 0);
  });
});
