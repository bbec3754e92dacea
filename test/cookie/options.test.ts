/** Cookie options: secure defaults, invalid combinations refused at construction, serialization. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CookieOptions,
  resolveCookieOptions,
  serializeClearCookie,
  serializeCookie,
} from '../../src/cookie/options.ts';
import { ConfigError, createSessionManager } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import { SECRET } from '../core/helpers.ts';

function assertInvalid(options: CookieOptions, message?: RegExp): void {
  const check = (error: unknown): boolean => {
    assert.ok(error instanceof ConfigError, 'expected a ConfigError');
    assert.equal(error.code, 'COOKIE_INVALID');
    if (message) assert.match(error.message, message);
    return true;
  };
  assert.throws(() => resolveCookieOptions(options), check);
  assert.throws(
    () => createSessionManager({ store: memoryStore(), secret: SECRET, cookie: options }),
    check,
  );
}

describe('cookie defaults', () => {
  it('are HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, named __Host-pithos', () => {
    const resolved = resolveCookieOptions();
    assert.equal(
      serializeCookie(resolved, 'TOKEN', 3600),
      '__Host-pithos=TOKEN; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Lax',
    );
    assert.equal(resolved.domain, undefined);
    assert.equal(resolved.persistent, true);
  });

  it('the manager uses them', () => {
    const manager = createSessionManager({ store: memoryStore(), secret: SECRET });
    assert.equal(manager.cookieName, '__Host-pithos');
    assert.equal(
      manager.clearCookie(),
      '__Host-pithos=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; Secure; SameSite=Lax',
    );
  });
});

describe('custom cookies', () => {
  it('serializes every attribute', () => {
    const resolved = resolveCookieOptions({
      name: 'sid',
      path: '/app',
      domain: 'example.com',
      sameSite: 'strict',
      secure: false,
      httpOnly: false,
    });
    assert.equal(
      serializeCookie(resolved, 'v', 59.9),
      'sid=v; Max-Age=59; Path=/app; Domain=example.com; SameSite=Strict',
    );
    assert.equal(
      serializeClearCookie(resolved),
      'sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=example.com; SameSite=Strict',
    );
  });

  it('allows SameSite=None and Partitioned with Secure', () => {
    const resolved = resolveCookieOptions({ sameSite: 'none', partitioned: true });
    assert.match(serializeCookie(resolved, 'v', 1), /; Secure; SameSite=None; Partitioned$/);
  });

  it('never writes a negative Max-Age, and none when not persistent', () => {
    assert.match(serializeCookie(resolveCookieOptions(), 'v', -5), /Max-Age=0;/);
    const session = resolveCookieOptions({ persistent: false });
    assert.equal(
      serializeCookie(session, 'v', 100),
      '__Host-pithos=v; Path=/; HttpOnly; Secure; SameSite=Lax',
    );
  });
});

describe('cookie options from JSON configuration', () => {
  it('reads null as the default, for the object and for each option', () => {
    const fromJSON = JSON.parse('{"name":"sid","path":null,"domain":null}') as CookieOptions;
    const resolved = resolveCookieOptions(fromJSON);
    assert.equal(resolved.domain, undefined);
    assert.equal(resolved.path, '/');
    assert.doesNotMatch(serializeCookie(resolved, 'TOKEN', 60), /Domain/);
    assert.equal(resolveCookieOptions(null).name, '__Host-pithos');
  });

  it('refuses a name, path or domain that is not a string', () => {
    assertInvalid({ name: 'sid', domain: 123 as never }, /domain must be a string/);
    assertInvalid({ name: 'sid', domain: ['a.example'] as never }, /domain must be a string/);
    assertInvalid({ name: 'sid', domain: true as never }, /domain must be a string/);
    assertInvalid({ name: 123 as never }, /name must be a string/);
    assertInvalid({ name: 'sid', path: 1 as never }, /path must be a string/);
  });
});

describe('invalid cookie options', () => {
  it('refuses a __Host- cookie with a domain, another path, or without Secure', () => {
    assertInvalid({ domain: 'example.com' }, /__Host-/);
    assertInvalid({ path: '/app' }, /__Host-/);
    assertInvalid({ secure: false }, /__Host-/);
    assertInvalid({ name: '__host-sid', domain: 'example.com' }, /__Host-/);
  });

  it('refuses a __Secure- cookie without Secure', () => {
    assertInvalid({ name: '__Secure-sid', secure: false }, /__Secure-/);
  });

  it('refuses SameSite=None or Partitioned without Secure', () => {
    assertInvalid({ name: 'sid', sameSite: 'none', secure: false }, /secure/);
    assertInvalid({ name: 'sid', partitioned: true, secure: false }, /secure/);
    assertInvalid({ name: 'sid', sameSite: 'bogus' as 'lax' });
  });

  it('refuses names with characters a cookie name cannot hold', () => {
    for (const name of [
      '',
      'a b',
      'a;b',
      'a=b',
      'a,b',
      '"sid"',
      '(sid)',
      'sid\t',
      'sïd',
      'a/b',
      'a\nb',
    ]) {
      assertInvalid({ name }, /name/);
    }
  });

  it('refuses bad paths and domains', () => {
    for (const path of ['app', '/a;b', '/a b', '']) assertInvalid({ name: 'sid', path });
    for (const domain of ['exa mple.com', 'a;b', 'example.com\r\nX: y', '']) {
      assertInvalid({ name: 'sid', domain });
    }
  });
});
