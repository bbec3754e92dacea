// pithos/auth over real HTTP through the node:http adapter: fixation, password change, device
// list and revocation, CSRF and Origin checks, as a browser would meet them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { withSession } from '../../src/adapters/node.ts';
import {
  checkSession,
  csrfToken,
  getUserID,
  keepLogin,
  listSessions,
  login,
  logout,
  revokeSession,
  verifyCSRF,
  verifyOrigin,
} from '../../src/auth/index.ts';
import { createSessionManager } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';

const users = new Map([
  ['alice', { password: 'correct horse', checkvalue: 'cv-alice-1' }],
  ['bob', { password: 'battery staple', checkvalue: 'cv-bob-1' }],
]);
const manager = createSessionManager({
  store: memoryStore(),
  secret: 'auth-http-test-secret-0c9e8d7f6a5b4c3d2e1f',
  cookie: { name: 'sid', secure: false },
});
let base = '';
const origin = () => base;

const server = createServer(
  withSession(manager, async (request, response, session) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    // Every logged-in request checks the checkvalue, as docs/auth.md recommends.
    const userID = getUserID(session);
    if (
      userID !== undefined &&
      !(await checkSession(session, users.get(userID)?.checkvalue ?? ''))
    ) {
      return send(401, { error: 'signed out' });
    }
    if (request.method === 'GET' && url.pathname === '/me')
      return send(200, { user: getUserID(session) ?? null });
    if (request.method === 'GET' && url.pathname === '/csrf')
      return send(200, { token: csrfToken(session) });
    if (request.method === 'GET' && url.pathname === '/sessions') {
      const id = getUserID(session);
      return send(
        200,
        id === undefined ? [] : await listSessions(manager, id, { current: session }),
      );
    }
    if (!verifyOrigin(request, [origin()])) return send(403, { error: 'origin' });
    if (!verifyCSRF(session, request.headers['x-csrf-token'])) return send(403, { error: 'csrf' });
    const user = users.get(url.searchParams.get('user') ?? '');
    switch (url.pathname) {
      case '/login':
        if (user === undefined || user.password !== url.searchParams.get('password'))
          return send(401, { error: 'no' });
        await login(session, url.searchParams.get('user') as string, user.checkvalue);
        return send(200, { user: getUserID(session) });
      case '/password': {
        const id = getUserID(session) as string;
        const record = users.get(id);
        if (record === undefined) return send(401, { error: 'no' });
        record.checkvalue = `cv-${randomBytes(8).toString('hex')}`;
        await keepLogin(session, id, record.checkvalue);
        return send(200, { ok: true });
      }
      case '/revoke':
        return send(200, {
          revoked: await revokeSession(
            manager,
            getUserID(session) ?? '',
            url.searchParams.get('handle') ?? '',
          ),
        });
      case '/logout':
        await logout(session);
        return send(200, { ok: true });
      default:
        return send(404, { error: 'not found' });
    }
  }),
);

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

/** A browser: a cookie jar of one cookie, and the CSRF token it last fetched. */
class Browser {
  cookie = '';
  async fetch(
    path: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    if (init.method === 'POST' && !headers.has('origin')) headers.set('origin', base);
    const response = await fetch(`${base}${path}`, { ...init, headers, redirect: 'manual' });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie)
      this.cookie = setCookie.includes('Max-Age=0') ? '' : (setCookie.split(';')[0] as string);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
  async post(
    path: string,
    token?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const csrf = token ?? ((await this.fetch('/csrf')).body.token as string);
    return this.fetch(path, { method: 'POST', headers: { 'x-csrf-token': csrf } });
  }
  async login(user: string): Promise<void> {
    const password = users.get(user)?.password ?? '';
    const result = await this.post(`/login?user=${user}&password=${encodeURIComponent(password)}`);
    assert.equal(result.status, 200);
  }
  async me(): Promise<unknown> {
    return (await this.fetch('/me')).body.user;
  }
}

describe('pithos/auth over HTTP', () => {
  it('fixation: the attacker’s planted cookie is useless after the victim logs in', async () => {
    const attacker = new Browser();
    await attacker.fetch('/csrf'); // gets an anonymous session cookie
    const victim = new Browser();
    victim.cookie = attacker.cookie; // planted
    await victim.login('alice');
    assert.notEqual(victim.cookie, attacker.cookie);
    assert.equal(await victim.me(), 'alice');
    assert.equal(await attacker.me(), null);
    const act = await attacker.post('/password');
    assert.equal(act.status, 401, 'the attacker cannot act as alice');
  });

  it('password change: the other device is signed out, this one stays', async () => {
    const laptop = new Browser();
    const phone = new Browser();
    await laptop.login('bob');
    await phone.login('bob');
    assert.equal((await laptop.post('/password')).status, 200);
    assert.equal(await laptop.me(), 'bob');
    assert.equal((await phone.fetch('/me')).status, 401);
    assert.equal(await phone.me(), null);
  });

  it('the device list shows both devices, and revoking one signs it out at once', async () => {
    const first = new Browser();
    const second = new Browser();
    await first.login('alice');
    await second.login('alice');
    const listed = (await first.fetch('/sessions')).body as unknown as {
      handle: string;
      current: boolean;
    }[];
    const other = listed.find((info) => !info.current);
    assert.ok(other);
    assert.ok(listed.some((info) => info.current));
    assert.equal((await first.post(`/revoke?handle=${other.handle}`)).body.revoked, true);
    assert.equal(await second.me(), null);
    assert.equal(await first.me(), 'alice');
  });

  it('CSRF: a token from another session, from before login, or none is refused', async () => {
    const mallory = new Browser();
    const stolen = (await mallory.fetch('/csrf')).body.token as string;
    const user = new Browser();
    const beforeLogin = (await user.fetch('/csrf')).body.token as string;
    await user.login('alice');
    assert.equal((await user.post('/logout', stolen)).status, 403);
    assert.equal((await user.post('/logout', beforeLogin)).status, 403);
    assert.equal((await user.fetch('/logout', { method: 'POST' })).status, 403);
    assert.equal(await user.me(), 'alice');
    assert.equal((await user.post('/logout')).status, 200);
    assert.equal(await user.me(), null);
  });

  it('Origin: a cross-site POST is refused even with a valid token', async () => {
    const user = new Browser();
    await user.login('alice');
    const token = (await user.fetch('/csrf')).body.token as string;
    const result = await user.fetch('/logout', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'x-csrf-token': token },
    });
    assert.equal(result.status, 403);
    assert.equal(await user.me(), 'alice');
  });
});

describe('verifyOrigin', () => {
  const allowed = ['https://app.example'];
  const request = (method: string, headers: Record<string, string>) => ({
    method,
    headers: new Headers(headers),
  });
  it('lets safe methods through without headers', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'get'])
      assert.equal(verifyOrigin(request(method, {}), allowed), true);
  });
  it('checks Origin on unsafe methods, normalising it', () => {
    assert.equal(verifyOrigin(request('POST', { origin: 'https://app.example' }), allowed), true);
    assert.equal(
      verifyOrigin(request('POST', { origin: 'HTTPS://APP.EXAMPLE:443' }), allowed),
      true,
    );
    assert.equal(
      verifyOrigin(request('DELETE', { origin: 'https://evil.example' }), allowed),
      false,
    );
    assert.equal(verifyOrigin(request('POST', { origin: 'null' }), allowed), false);
    assert.equal(verifyOrigin(request('POST', { origin: 'not a url' }), allowed), false);
  });
  it('falls back to Sec-Fetch-Site, and refuses without either', () => {
    assert.equal(verifyOrigin(request('POST', { 'sec-fetch-site': 'same-origin' }), allowed), true);
    assert.equal(verifyOrigin(request('POST', { 'sec-fetch-site': 'cross-site' }), allowed), false);
    assert.equal(verifyOrigin(request('POST', { 'sec-fetch-site': 'same-site' }), allowed), false);
    assert.equal(verifyOrigin(request('PUT', {}), allowed), false);
  });
  it('reads node:http header objects too', () => {
    assert.equal(
      verifyOrigin({ method: 'POST', headers: { origin: 'https://app.example' } }, allowed),
      true,
    );
    assert.equal(
      verifyOrigin({ method: 'POST', headers: { origin: ['https://evil.example'] } }, allowed),
      false,
    );
  });
});
