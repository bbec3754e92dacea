/** Store URLs: what `parseStoreURL` reads from each form, and what it refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStoreURL } from '../../src/cli/store-url.ts';
import { ConfigError } from '../../src/core/errors.ts';

describe('parseStoreURL', () => {
  it('reads every form', () => {
    assert.deepEqual(parseStoreURL('memory:'), {
      kind: 'memory',
      label: 'memory (this process only)',
    });
    assert.deepEqual(parseStoreURL('file:///var/lib/app/sessions'), {
      kind: 'fs',
      label: 'files in /var/lib/app/sessions',
      path: '/var/lib/app/sessions',
    });
    assert.deepEqual(parseStoreURL('sqlite:///srv/s.db?table=app_sessions'), {
      kind: 'sqlite',
      label: 'SQLite at /srv/s.db, table app_sessions',
      path: '/srv/s.db',
      table: 'app_sessions',
    });
    assert.equal(parseStoreURL('sqlite:data/s.db').path, `${process.cwd()}/data/s.db`);
    const redis = parseStoreURL('redis://:pw@cache:6380/2?prefix=shop:');
    assert.equal(redis.label, 'Redis at cache:6380/2, prefix shop:');
    assert.equal(redis.connection, 'redis://:pw@cache:6380/2');
    assert.equal(redis.prefix, 'shop:');
    const cluster = parseStoreURL('redis+cluster://u:p%40ss@a:7001,b:7002?prefix=x:');
    assert.deepEqual(
      [cluster.cluster, cluster.servers, cluster.username, cluster.password, cluster.prefix],
      [true, ['a:7001', 'b:7002'], 'u', 'p@ss', 'x:'],
    );
    const pg = parseStoreURL('postgres://app:secret@db:5432/app?table=s&sslmode=require');
    assert.equal(pg.label, 'PostgreSQL at db:5432/app, table s');
    assert.equal(pg.connection, 'postgres://app:secret@db:5432/app?sslmode=require');
    assert.equal(parseStoreURL('mariadb://root@db/app').kind, 'mysql');
    assert.deepEqual(parseStoreURL('memcached://m1:11211,m2:11211').servers, [
      'm1:11211',
      'm2:11211',
    ]);
  });

  it('keeps passwords out of labels and errors', () => {
    for (const url of ['postgres://app:hunter22@db/app', 'redis://:hunter22@cache:6379']) {
      assert.ok(!parseStoreURL(url).label.includes('hunter22'));
    }
    assert.throws(
      () => parseStoreURL('postgres://app:hunter22@db app/x'),
      (error: Error) => error instanceof ConfigError && !error.message.includes('hunter22'),
    );
  });

  it('reads a password up to the "@", colons included, and no user name as none', () => {
    const cluster = parseStoreURL('redis+cluster://app:pa:ss@a:7001');
    assert.deepEqual([cluster.username, cluster.password], ['app', 'pa:ss']);
    const noUser = parseStoreURL('redis+cluster://:s3cret@a:7001');
    assert.deepEqual([noUser.username || undefined, noUser.password], [undefined, 's3cret']);
    assert.equal(parseStoreURL('memcached://u:a:b@m:11211').password, 'a:b');
  });

  it('does not repeat what follows an unencoded "?" in a password', () => {
    for (const [url, secret] of [
      ['memcached://admin:2024?Tr0ub4dor@cache.internal:11211', 'Tr0ub4dor'],
      ['memcached://app:2024?Summer=sun@h1:11211', 'Summer'],
    ]) {
      assert.throws(
        () => parseStoreURL(url as string),
        (error: Error) =>
          error instanceof ConfigError &&
          /unknown parameter \(/.test(error.message) &&
          !error.message.includes(secret as string),
        url,
      );
    }
  });

  it('refuses what it cannot use, saying why', () => {
    const cases: [string, RegExp][] = [
      ['ftp://x', /unknown kind of store/],
      ['memory:x', /takes nothing after memory:/],
      ['sqlite://host/x.db', /name a file/],
      ['sqlite:///tmp/x.db?tabel=t', /unknown parameter \?tabel=/],
      ['memcached://m1', /host:port/],
      ['memcached:m1:11211', /memcached:\/\/host:port/],
      ['redis+cluster://a:1,b', /host:port/],
      ['postgres:///db', /name a server/],
      ['redis://x?prefix=', /\?prefix= is empty/],
    ];
    for (const [url, message] of cases) {
      assert.throws(() => parseStoreURL(url), message, url);
    }
  });
});
