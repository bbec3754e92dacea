// The counter example over real HTTP: counts per session, and "forget me" starts over.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { memoryStore } from 'pithos/memory';
import { counterManager, createCounterServer } from '../../examples/counter/app.ts';

const server = createCounterServer(
  counterManager(memoryStore(), 'counter-example-test-secret-0123456789', false),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => server.close());

async function visit(
  cookie?: string,
): Promise<{ visits: string | undefined; cookie: string | undefined }> {
  const response = await fetch(`${base}/`, { headers: cookie ? { cookie } : {} });
  assert.equal(response.status, 200);
  const body = await response.text();
  return {
    visits: /id="visits">(\d+)</.exec(body)?.[1],
    cookie: response.headers.get('set-cookie')?.split(';')[0],
  };
}

describe('counter example', () => {
  it('counts visits per session and keeps sessions apart', async () => {
    const first = await visit();
    assert.equal(first.visits, '1');
    assert.ok(first.cookie?.startsWith('pithos='));
    assert.equal((await visit(first.cookie)).visits, '2');
    assert.equal((await visit(first.cookie)).visits, '3');
    assert.equal((await visit()).visits, '1', 'a new client starts at 1');
  });

  it('"forget me" from another origin is refused and changes nothing', async () => {
    const { cookie } = await visit();
    for (const origin of ['https://evil.example', undefined]) {
      const reset = await fetch(`${base}/reset`, {
        method: 'POST',
        headers: { cookie: cookie ?? '', ...(origin === undefined ? {} : { origin }) },
        redirect: 'manual',
      });
      assert.equal(reset.status, 403, `origin ${origin}`);
      assert.equal(reset.headers.get('set-cookie'), null);
    }
    assert.equal((await visit(cookie)).visits, '2', 'the session lives on');
  });

  it('"forget me" destroys the session and clears the cookie', async () => {
    const { cookie } = await visit();
    const reset = await fetch(`${base}/reset`, {
      method: 'POST',
      headers: { cookie: cookie ?? '', origin: base },
      redirect: 'manual',
    });
    assert.equal(reset.status, 303);
    assert.match(reset.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await visit(cookie)).visits, '1', 'the old cookie no longer counts');
  });
});
