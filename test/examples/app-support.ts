// Helpers of the example app's end-to-end test: start the app as `npm start` does (a child
// process on a free port), and launch Debian's Chromium through playwright-core.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

/** A running app. */
export interface RunningApp {
  readonly url: string;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts `examples/app/server.ts` with `env`, and waits until it listens. */
export async function startApp(env: Record<string, string>): Promise<RunningApp> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/app/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...{ PITHOS_SECRET: '', PITHOS_STORE: '', PITHOS_ORIGIN: '', PITHOS_SECURE_COOKIE: '' },
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start:\n${output}`)), 20_000);
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+?)\/?$/m.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (${code}) before listening:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      await waitForExit(child);
    },
  };
}

/** Launches Debian's headless Chromium; throws (so the tests fail) when it cannot start. */
export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 30_000,
    });
  } catch (error) {
    throw new Error(`cannot start ${CHROMIUM} (run scripts/browser.sh to install it)`, {
      cause: error,
    });
  }
}

/** Clicks a button that submits a form, waits for the page it leads to, and checks its URL. */
export async function submit(page: Page, button: string, to: RegExp): Promise<void> {
  // The next page's load event, not its URL: after a post, the URL may be the same as before.
  await Promise.all([
    page.waitForEvent('load'),
    page.getByRole('button', { name: button }).click(),
  ]);
  if (!to.test(page.url()))
    throw new Error(`expected to land on ${to}, but landed on ${page.url()}`);
}

/** The visible notice (flash message) of the page, or `null`. */
export async function notice(page: Page): Promise<string | null> {
  const element = page.locator('.notice');
  return (await element.count()) === 0 ? null : element.textContent();
}

/** Fills the login (or sign-up) form, sends it, and checks where it leads (home by default). */
export async function logIn(
  page: Page,
  base: string,
  credentials: { email: string; password: string; signUp?: boolean },
  to: RegExp = /\/$/,
): Promise<void> {
  await page.goto(`${base}${credentials.signUp ? '/signup' : '/login'}`);
  await page.getByLabel('Email').fill(credentials.email);
  await page.getByLabel('Password', { exact: true }).fill(credentials.password);
  await submit(page, credentials.signUp ? 'Sign up' : 'Log in', to);
}

/** The visit counter shown on the home page. */
export async function visits(page: Page): Promise<number> {
  return Number(await page.locator('#visits').textContent());
}
