// The example app (`npm start`) in a real headless Chromium: two browser contexts are two devices
// of one user. First on the default store (a SQLite file in a temporary directory), then once on
// Redis to show the store switch. Fails, never skips, when Chromium or Redis is missing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createClient } from 'redis';
import {
  launchChromium,
  logIn,
  notice,
  type RunningApp,
  startApp,
  submit,
  visits,
} from './app-support.ts';

const SCREENSHOT = fileURLToPath(new URL('../../docs/screenshot-sessions.png', import.meta.url));
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const EMAIL = 'ada@example.com';
const FIRST_PASSWORD = 'correct horse battery';
const SECOND_PASSWORD = 'staple tuning fork';

// At the top level: when Chromium cannot start, the file fails with the reason (not "cancelled").
const browser: Browser = await launchChromium();
after(() => browser.close());

async function device(options: { userAgent?: string } = {}): Promise<Page> {
  const context: BrowserContext = await browser.newContext({
    viewport: { width: 960, height: 640 },
    ...options,
  });
  return context.newPage();
}

describe('example app on the default SQLite store', { timeout: 60_000 }, () => {
  let app: RunningApp;
  let dataDir: string;
  let laptop: Page;
  let phone: Page;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pithos-app-'));
    app = await startApp({ PITHOS_DATA_DIR: dataDir });
    laptop = await device();
    phone = await device({ userAgent: IPHONE });
  });
  after(async () => {
    await app?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts with a generated secret, kept 0600 next to the SQLite file and never printed', async () => {
    const secretFile = join(dataDir, 'secret');
    assert.equal((await stat(secretFile)).mode & 0o777, 0o600);
    assert.ok((await stat(join(dataDir, 'pithos.sqlite'))).isFile());
    const secret = (await readFile(secretFile, 'utf8')).trim();
    assert.match(app.output(), /generated a new one in .*secret \(mode 0600\)/);
    assert.ok(!app.output().includes(secret), 'the secret is not in the log');
    assert.match(app.output(), /sessions: SQLite at /);
  });

  it('signs up, logs out and logs in', async () => {
    await laptop.goto(`${app.url}/`);
    assert.match(laptop.url(), /\/login\?notice=required$/, 'guests are sent to the login page');
    await logIn(laptop, app.url, { email: EMAIL, password: FIRST_PASSWORD, signUp: true });
    assert.match((await notice(laptop)) ?? '', /Welcome! Your account is ready/);
    assert.equal(await visits(laptop), 1);
    await submit(laptop, 'Log out', /\/login\?notice=signed-out$/);
    assert.equal(await notice(laptop), 'You are signed out.');
    await logIn(laptop, app.url, { email: EMAIL, password: 'wrong password' }, /\/login$/);
    assert.equal(await notice(laptop), 'Wrong email or password.');
    await logIn(laptop, app.url, { email: EMAIL, password: FIRST_PASSWORD });
    assert.equal(await notice(laptop), `Welcome back, ${EMAIL}.`);
  });

  it('keeps the counter and the cart in the session, across reloads', async () => {
    await submit(laptop, 'Add Olive oil, 1 l', /\/#cart$/);
    assert.equal(await notice(laptop), 'Added one Olive oil, 1 l.');
    await submit(laptop, 'Add Olive oil, 1 l', /\/#cart$/);
    await submit(laptop, 'Add Thyme honey', /\/#cart$/);
    await submit(laptop, 'Remove one Thyme honey', /\/#cart$/);
    await submit(laptop, 'Add Dried figs', /\/#cart$/);
    const before = await visits(laptop);
    await laptop.reload();
    assert.equal(await visits(laptop), before + 1);
    assert.equal(await notice(laptop), null, 'a flash is shown once');
    assert.equal(await laptop.locator('[data-quantity="olive-oil"]').textContent(), '2');
    assert.equal(await laptop.locator('[data-quantity="figs"]').textContent(), '1');
    assert.equal(await laptop.locator('[data-quantity="honey"]').count(), 0);
    assert.equal(await laptop.locator('#total').textContent(), '€35.90');
  });

  it('refuses form posts without the CSRF token or from another origin', async () => {
    const request = laptop.context().request;
    const noToken = await request.post(`${app.url}/cart/add`, {
      form: { product: 'figs' },
      headers: { origin: app.url },
      maxRedirects: 0,
    });
    assert.equal(noToken.status(), 403);
    const html = await laptop.content();
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const foreign = await request.post(`${app.url}/cart/add`, {
      form: { product: 'figs', _csrf: token },
      headers: { origin: 'http://evil.example' },
      maxRedirects: 0,
    });
    assert.equal(foreign.status(), 403);
    await laptop.reload();
    assert.equal(await laptop.locator('[data-quantity="figs"]').textContent(), '1');
  });

  it('lists both devices in "your sessions"', async () => {
    await logIn(phone, app.url, { email: EMAIL, password: FIRST_PASSWORD });
    assert.equal(await visits(phone), 1, 'the second device has its own session');
    assert.equal(await phone.locator('#cart .muted').count(), 1, 'and its own (empty) cart');
    await laptop.goto(`${app.url}/sessions`);
    const rows = laptop.locator('#sessions tbody tr');
    assert.equal(await rows.count(), 2);
    const current = rows.filter({ hasText: 'This device' });
    assert.match((await current.textContent()) ?? '', /Chrome on Linux/);
    assert.match((await rows.filter({ hasText: 'Safari on iOS' }).textContent()) ?? '', /just now/);
    await laptop.setViewportSize({ width: 960, height: 540 });
    await laptop.screenshot({ path: SCREENSHOT, fullPage: true });
    await laptop.setViewportSize({ width: 960, height: 640 });
  });

  it('signs the other device out, which loses its session at its next request', async () => {
    const other = laptop.locator('#sessions tbody tr').filter({ hasText: 'Safari on iOS' });
    await Promise.all([
      laptop.waitForEvent('load'),
      other.getByRole('button', { name: 'Sign out this one' }).click(),
    ]);
    assert.equal(await notice(laptop), 'Signed out that session.');
    assert.equal(await laptop.locator('#sessions tbody tr').count(), 1);
    await phone.reload();
    assert.match(phone.url(), /\/login\?notice=required$/);
  });

  it('changes the password: this device stays, the other one is signed out', async () => {
    await logIn(phone, app.url, { email: EMAIL, password: FIRST_PASSWORD });
    await laptop.goto(`${app.url}/password`);
    await laptop.getByLabel('Current password').fill(FIRST_PASSWORD);
    await laptop.getByLabel('New password', { exact: true }).fill(SECOND_PASSWORD);
    await laptop.getByLabel('New password, again').fill(SECOND_PASSWORD);
    await submit(laptop, 'Change password', /\/$/);
    assert.match((await notice(laptop)) ?? '', /^Password changed/);
    await phone.reload();
    assert.match(phone.url(), /\/login\?notice=ended$/, 'the checkvalue no longer matches');
    assert.equal(await notice(phone), 'Your session has ended. Please log in again.');
    await laptop.reload();
    assert.ok((await visits(laptop)) > 1, 'this device kept its session and its data');
    await logIn(phone, app.url, { email: EMAIL, password: FIRST_PASSWORD }, /\/login$/);
    assert.equal(await notice(phone), 'Wrong email or password.');
    await logIn(phone, app.url, { email: EMAIL, password: SECOND_PASSWORD });
    assert.equal(await visits(phone), 1);
  });

  it('signs out all other sessions, then logs out', async () => {
    await laptop.goto(`${app.url}/sessions`);
    await submit(laptop, 'Sign out all other sessions', /\/sessions$/);
    assert.equal(await notice(laptop), 'Signed out 1 other session.');
    await phone.reload();
    assert.match(phone.url(), /\/login\?notice=required$/);
    await submit(laptop, 'Log out', /\/login\?notice=signed-out$/);
    await laptop.goto(`${app.url}/`);
    assert.match(laptop.url(), /\/login\?notice=required$/, 'the cookie is gone');
  });
});

describe('example app on Redis (PITHOS_STORE)', { timeout: 30_000 }, () => {
  const prefix = `pithos-e2e-${randomBytes(6).toString('hex')}:`;
  let app: RunningApp;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pithos-app-redis-'));
    const store = `redis://127.0.0.1:6379?prefix=${prefix}`;
    app = await startApp({ PITHOS_DATA_DIR: dataDir, PITHOS_STORE: store });
  });
  after(async () => {
    await app?.stop();
    await rm(dataDir, { recursive: true, force: true });
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*` })) {
      if (keys.length > 0) await client.del(keys);
    }
    await client.close();
  });

  it('signs up, logs in and counts, with the sessions in Redis', async () => {
    assert.match(app.output(), /sessions: Redis at 127\.0\.0\.1:6379/);
    const page = await device();
    await logIn(page, app.url, { email: EMAIL, password: FIRST_PASSWORD, signUp: true });
    await submit(page, 'Log out', /\/login\?notice=signed-out$/);
    await logIn(page, app.url, { email: EMAIL, password: FIRST_PASSWORD });
    assert.equal(await visits(page), 1);
    await page.reload();
    await page.reload();
    assert.equal(await visits(page), 3);
    assert.match((await page.locator('footer').textContent()) ?? '', /Redis at 127\.0\.0\.1:6379/);
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*` })) keys.push(...batch);
    await client.close();
    // The session record, its device record and the user's index.
    assert.equal(keys.length, 3, keys.join(' '));
    await page.goto(`${app.url}/sessions`);
    assert.equal(await page.locator('#sessions tbody tr').count(), 1);
  });
});
