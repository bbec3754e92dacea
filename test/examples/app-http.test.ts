// The example app over plain HTTP, for what a browser does not send: HEAD requests, request
// targets no URL parser accepts, odd `?notice=` values, and mistakes at start-up.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunningApp, startApp } from './app-support.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One raw request on its own connection; the status line and the body. */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('example app: requests a browser does not make', { timeout: 60_000 }, () => {
  let app: RunningApp;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pithos-app-http-'));
    app = await startApp({ PITHOS_DATA_DIR: dataDir });
  });
  after(async () => {
    await app?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Signs a new user up as the form does; the session cookie of the signed-in user. */
  async function signUp(): Promise<string> {
    const form = await fetch(`${app.url}/signup`);
    let cookie = form.headers.get('set-cookie')?.split(';')[0] ?? '';
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    const body = new URLSearchParams({
      _csrf: csrf,
      email: `head-${Date.now()}@example.com`,
      password: 'correct horse battery staple',
    });
    const posted = await fetch(`${app.url}/signup`, {
      method: 'POST',
      body,
      headers: { cookie, origin: app.url },
      redirect: 'manual',
    });
    assert.equal(posted.status, 303, await posted.text());
    cookie = posted.headers.get('set-cookie')?.split(';')[0] ?? cookie;
    return cookie;
  }

  it('HEAD / is not a visit', async () => {
    const cookie = await signUp();
    const first = await (await fetch(`${app.url}/`, { headers: { cookie } })).text();
    assert.match(first, /id="visits">1</);
    for (let i = 0; i < 3; i++) {
      const head = await fetch(`${app.url}/`, { method: 'HEAD', headers: { cookie } });
      assert.equal(head.status, 200);
    }
    const again = await (await fetch(`${app.url}/`, { headers: { cookie } })).text();
    assert.match(again, /id="visits">2</);
  });

  it('a request target no URL parser accepts is a 400, and nothing is logged as a failure', async () => {
    const answer = await raw(app.url, 'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(app.output(), /request failed|TypeError/);
  });

  it('?notice=constructor shows no notice box', async () => {
    const page = await (await fetch(`${app.url}/login?notice=constructor`)).text();
    assert.doesNotMatch(page, /class="notice/);
  });
});

describe('example app: mistakes at start-up', () => {
  it('a bad PORT gives one line and exit 1, no stack trace', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/app/server.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: 'abc', PITHOS_STORE: 'memory:' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
    }
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 1);
    assert.match(output, /pithos app: cannot start: PORT must be a port number/);
    assert.doesNotMatch(output, /\n\s+at /);
  });
});
