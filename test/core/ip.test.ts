/** IP binding in the manager, and the address helpers behind it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  clientAddress,
  compileTrustProxy,
  normalizeIP,
  sameNetwork,
} from '../../src/index.ts';
import { type SetupOptions, setup } from './helpers.ts';

async function bound(options: SetupOptions, createdFrom: string) {
  const fixture = setup(options);
  const session = await fixture.manager.load(undefined, { ip: createdFrom });
  session.set('user', 'alice');
  const cookie = (await fixture.manager.commit(session))?.split(';')[0] as string;
  fixture.store.resetCounts();
  const from = async (ip: string) => {
    const before = fixture.eventsOf('rejected').length;
    const loaded = await fixture.manager.load(cookie, { ip });
    const rejected = fixture.eventsOf('rejected').slice(before);
    assert.equal(loaded.isNew, rejected.length > 0);
    return rejected.length === 0 ? 'accepted' : rejected.map((event) => event.reason).join();
  };
  return { fixture, from };
}

describe('IP binding in the manager', () => {
  it('rejects a session loaded from another address, without writing', async () => {
    const { fixture, from } = await bound({ bindIP: true }, '203.0.113.7');
    assert.equal(await from('203.0.113.7'), 'accepted');
    assert.equal(await from('203.0.113.8'), 'ip-mismatch');
    assert.equal(await from('2001:db8::1'), 'ip-mismatch');
    assert.equal(await from('not an address'), 'ip-mismatch');
    assert.equal(fixture.store.writes(), 0);
    assert.equal(await from('203.0.113.7'), 'accepted');
  });

  it('treats IPv4-mapped IPv6 as its IPv4 form, both ways', async () => {
    const mapped = await bound({ bindIP: true }, '::ffff:10.0.0.1');
    assert.equal(await mapped.from('10.0.0.1'), 'accepted');
    const plain = await bound({ bindIP: true }, '10.0.0.1');
    assert.equal(await plain.from('::ffff:10.0.0.1'), 'accepted');
    assert.equal(await plain.from('::FFFF:a00:1'), 'accepted');
  });

  it('matches IPv6 on the /64 by default, IPv4 exactly', async () => {
    const v6 = await bound({ bindIP: true }, '2001:db8:1:2::1');
    assert.equal(await v6.from('2001:db8:1:2:ffff:ffff:ffff:ffff'), 'accepted');
    assert.equal(await v6.from('2001:db8:1:3::1'), 'ip-mismatch');
  });

  it('applies configured prefixes per family', async () => {
    const v4 = await bound({ bindIP: { ipv4Prefix: 24, ipv6Prefix: 128 } }, '10.1.2.3');
    assert.equal(await v4.from('10.1.2.254'), 'accepted');
    assert.equal(await v4.from('10.1.3.3'), 'ip-mismatch');
    const v6 = await bound({ bindIP: { ipv6Prefix: 128 } }, '2001:db8::1');
    assert.equal(await v6.from('2001:db8::2'), 'ip-mismatch');
    assert.equal(await v6.from('2001:0db8:0:0::1'), 'accepted');
  });

  it('is off by default', async () => {
    const { from } = await bound({}, '203.0.113.7');
    assert.equal(await from('198.51.100.1'), 'accepted');
  });

  it('keeps the bound address inside the seal', async () => {
    const { fixture } = await bound({ bindIP: true }, '203.0.113.77');
    const record = fixture.store.written.at(-1)?.record;
    assert.ok(record);
    assert.ok(!Buffer.from(record).includes('203.0.113.77'));
  });

  it('needs the client address when on, and valid prefixes', async () => {
    const { manager } = setup({ bindIP: true });
    await assert.rejects(manager.load(undefined), ConfigError);
    assert.throws(() => setup({ bindIP: { ipv4Prefix: 33 } }), ConfigError);
    assert.throws(() => setup({ bindIP: { ipv6Prefix: -1 } }), ConfigError);
    assert.throws(() => setup({ bindIP: { ipv4Prefix: 1.5 } }), ConfigError);
  });
});

describe('normalizeIP', () => {
  const CASES: [string, string | undefined][] = [
    ['10.0.0.1', '10.0.0.1'],
    [' 10.0.0.1 ', '10.0.0.1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::ffff:0a00:0001', '10.0.0.1'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['[::1]', '0:0:0:0:0:0:0:1'],
    ['::', '0:0:0:0:0:0:0:0'],
    ['2001:DB8::1', '2001:db8:0:0:0:0:0:1'],
    ['fe80::1%eth0', 'fe80:0:0:0:0:0:0:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0:0:0:c000:221'],
    ['256.0.0.1', undefined],
    ['01.2.3.4', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['1::2::3', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:2:3:4:5:6:7:8::', undefined],
    ['12345::', undefined],
    ['::ffff:300.1.1.1', undefined],
    ['', undefined],
    ['localhost', undefined],
  ];
  for (const [input, expected] of CASES) {
    it(`${JSON.stringify(input)} → ${String(expected)}`, () => {
      assert.equal(normalizeIP(input), expected);
    });
  }
});

describe('sameNetwork', () => {
  const exact = { ipv4: 32, ipv6: 128 };
  it('compares prefixes bit by bit, per family', () => {
    assert.equal(sameNetwork('10.0.0.1', '10.0.0.1', exact), true);
    assert.equal(sameNetwork('10.0.0.1', '10.0.0.2', exact), false);
    assert.equal(sameNetwork('10.0.0.1', '10.0.15.2', { ipv4: 20, ipv6: 128 }), true);
    assert.equal(sameNetwork('10.0.0.1', '10.0.16.2', { ipv4: 20, ipv6: 128 }), false);
    assert.equal(sameNetwork('1.2.3.4', '200.2.3.4', { ipv4: 0, ipv6: 128 }), true);
    assert.equal(sameNetwork('2001:db8::1', '2001:db8::ff', { ipv4: 32, ipv6: 120 }), true);
    assert.equal(sameNetwork('2001:db8::1', '2001:db8::100', { ipv4: 32, ipv6: 120 }), false);
  });

  it('never matches across families or with garbage', () => {
    assert.equal(sameNetwork('10.0.0.1', '::a00:1', { ipv4: 0, ipv6: 0 }), false);
    assert.equal(sameNetwork('10.0.0.1', 'garbage', { ipv4: 0, ipv6: 0 }), false);
    assert.equal(sameNetwork('::ffff:10.0.0.1', '10.0.0.1', exact), true);
  });
});

describe('clientAddress with compileTrustProxy', () => {
  const trusted = compileTrustProxy(['10.0.0.0/8', '::1', '2001:db8:ffff::/48']);

  it('refuses a range whose prefix is not digits (Number() would read it as /0)', () => {
    for (const entry of [
      '10.0.0.0/',
      '10.0.0.1/-0',
      '10.0.0.1/ ',
      '10.0.0.1/+8',
      '::1/',
      '10.0.0.1/0x8',
    ]) {
      assert.throws(() => compileTrustProxy([entry]), ConfigError, entry);
    }
    const zero = compileTrustProxy(['0.0.0.0/0']);
    assert.equal(zero('203.0.113.9'), true, 'an explicit /0 still means every address');
  });

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    assert.equal(clientAddress('198.51.100.9', '1.2.3.4', trusted), '198.51.100.9');
    assert.equal(
      clientAddress('198.51.100.9', '1.2.3.4', compileTrustProxy(undefined)),
      '198.51.100.9',
    );
  });

  it('reads hops right to left past trusted proxies', () => {
    assert.equal(clientAddress('10.0.0.1', '203.0.113.5', trusted), '203.0.113.5');
    assert.equal(
      clientAddress('10.0.0.1', '6.6.6.6, 203.0.113.5, 10.9.9.9', trusted),
      '203.0.113.5',
    );
    assert.equal(
      clientAddress('::1', ['6.6.6.6, 203.0.113.5', '10.1.1.1'], trusted),
      '203.0.113.5',
    );
    assert.equal(clientAddress('::ffff:10.0.0.1', '::ffff:203.0.113.5', trusted), '203.0.113.5');
    assert.equal(clientAddress('2001:db8:ffff:1::1', '10.2.2.2', trusted), '10.2.2.2');
  });

  it('drops the port some proxies add to a hop', () => {
    assert.equal(clientAddress('10.0.0.1', '203.0.113.5:5678', trusted), '203.0.113.5');
    assert.equal(clientAddress('10.0.0.1', '[2001:db8::7]:443', trusted), '2001:db8:0:0:0:0:0:7');
    assert.equal(clientAddress('10.0.0.1', '2001:db8::7', trusted), '2001:db8:0:0:0:0:0:7');
  });

  it('stops at a garbage hop and never returns it', () => {
    assert.equal(clientAddress('10.0.0.1', 'evil, <script>', trusted), '10.0.0.1');
    assert.equal(clientAddress('10.0.0.1', '6.6.6.6, unknown, 10.0.0.2', trusted), '10.0.0.2');
    assert.equal(clientAddress('10.0.0.1', '', trusted), '10.0.0.1');
  });

  it('returns the peer without a header, and undefined for no or a bad peer', () => {
    assert.equal(clientAddress('10.0.0.1', undefined, trusted), '10.0.0.1');
    assert.equal(clientAddress('10.0.0.1', null, trusted), '10.0.0.1');
    assert.equal(clientAddress(undefined, '1.2.3.4', trusted), undefined);
    assert.equal(
      clientAddress('garbage', '1.2.3.4', () => true),
      undefined,
    );
  });

  it('accepts a predicate, and refuses bad entries', () => {
    const all = compileTrustProxy(() => true);
    assert.equal(clientAddress('9.9.9.9', '1.1.1.1, 2.2.2.2', all), '1.1.1.1');
    for (const bad of ['10.0.0.0/33', 'proxy.local', '::1/129', '10.0.0.0/x', '']) {
      assert.throws(() => compileTrustProxy([bad]), ConfigError, bad);
    }
  });
});
