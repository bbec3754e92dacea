// Imports every subpath of the built package by name, so the exports map is tested too.
// `npm test` builds the package first.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

const manifest = JSON.parse(
  await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
) as {
  exports: Record<string, unknown>;
};

const expected: Record<string, string[]> = {
  pithos: [
    'createSessionManager',
    'PithosError',
    'ConfigError',
    'StoreError',
    'Session',
    'readCookie',
  ],
  'pithos/memory': ['memoryStore'],
  'pithos/fetch': ['withSession', 'withSetCookie'],
  'pithos/node': ['withSession', 'attachSession', 'commitBeforeHeaders'],
  'pithos/testing': ['describeStoreConformance'],
  'pithos/errors': ['PithosError', 'ConfigError', 'DataError', 'StoreError'],
  'pithos/auth': ['login', 'logout', 'checkSession', 'keepLogin', 'listSessions', 'csrfToken'],
  'pithos/redis': ['redisStore'],
  'pithos/memcached': ['memcachedStore'],
  'pithos/fs': ['fileStore'],
  'pithos/sqlite': ['sqliteStore', 'sqliteSchema'],
  'pithos/postgres': ['postgresStore', 'postgresSchema'],
  'pithos/mysql': ['mysqlStore', 'mysqlSchema'],
  'pithos/express': ['createSessionMiddleware'],
  'pithos/koa': ['createSessionMiddleware'],
  'pithos/fastify': ['createSessionPlugin'],
  'pithos/hono': ['createSessionMiddleware'],
  'pithos/next': ['getSession', 'commitSession', 'withSession'],
};

describe('the built package', () => {
  it('lists exactly the subpaths this test knows', () => {
    const subpaths = Object.keys(manifest.exports)
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? 'pithos' : `pithos/${key.slice(2)}`));
    assert.deepEqual(subpaths.sort(), Object.keys(expected).sort());
  });

  for (const [specifier, names] of Object.entries(expected)) {
    it(`imports ${specifier} by name`, async () => {
      const module = (await import(specifier)) as Record<string, unknown>;
      for (const name of names)
        assert.equal(typeof module[name], 'function', `${specifier} exports ${name}`);
    });
  }

  it('the core and its errors are one module instance', async () => {
    const core = (await import('pithos')) as Record<string, unknown>;
    const errors = (await import('pithos/errors')) as Record<string, unknown>;
    assert.equal(core.PithosError, errors.PithosError);
  });
});
