/**
 * The `pithos` command without a service: keygen, help, usage errors, secrets that never come
 * back, a missing driver, and the memory store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertExit, assertNothingSecret, CLI, OTHER_SECRET, pithos, SECRET } from './support.ts';

const COMMANDS = ['keygen', 'prune', 'stats', 'revoke', 'doctor'];

after(() => assertNothingSecret(SECRET, OTHER_SECRET));

describe('pithos keygen', () => {
  it('prints 32 random bytes in base64url, different every time', async () => {
    const first = await pithos(['keygen']);
    const second = await pithos(['keygen']);
    assertExit(first, 0);
    assert.match(first.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    assert.equal(Buffer.from(first.stdout.trim(), 'base64url').length, 32);
    assert.notEqual(first.stdout, second.stdout);
    assert.equal(first.stderr, '');
  });

  it('--json prints {"secret": …}', async () => {
    const run = await pithos(['keygen', '--json']);
    assertExit(run, 0);
    const parsed = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['secret']);
    assert.match(String(parsed.secret), /^[A-Za-z0-9_-]{43}$/);
  });

  it('makes a secret the manager accepts (doctor with it passes)', async () => {
    const secret = (await pithos(['keygen'])).stdout.trim();
    const run = await pithos(['doctor', '--store', 'memory:'], { env: { PITHOS_SECRET: secret } });
    assertExit(run, 0);
    assert.match(run.stdout, /ok {4}secret +1 secret from PITHOS_SECRET/);
    assert.ok(!run.stdout.includes(secret));
  });
});

describe('pithos --help', () => {
  it('pithos --help lists every command; pithos alone is a usage error', async () => {
    const help = await pithos(['--help']);
    assertExit(help, 0);
    for (const command of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
    assert.match(help.stdout, /Exit codes: 0 done, 1 failed, 2 usage error/);
    const bare = await pithos([]);
    assertExit(bare, 2);
    assert.match(bare.stderr, /Usage: pithos <command>/);
  });

  for (const command of COMMANDS) {
    it(`pithos ${command} --help and -h`, async () => {
      for (const flag of ['--help', '-h']) {
        const run = await pithos([command, flag]);
        assertExit(run, 0);
        assert.match(run.stdout, new RegExp(`^Usage: pithos ${command}`));
      }
    });
  }

  it('--version prints the package version', async () => {
    const run = await pithos(['--version']);
    assertExit(run, 0);
    assert.match(run.stdout, /^\d+\.\d+\.\d+/);
  });
});

describe('usage errors exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown command', ['frobnicate'], /unknown command/],
    ['an unknown option', ['keygen', '--bogus'], /unknown option '--bogus'/],
    ['a missing --store', ['stats'], /--store is required/],
    ['an option without its value', ['stats', '--store'], /--store/],
    ['an unknown kind of store', ['stats', '--store', 'ftp://x'], /unknown kind of store/],
    ['a malformed URL', ['stats', '--store', 'postgres://a b'], /not a valid URL/],
    ['an unknown parameter', ['stats', '--store', 'sqlite:///tmp/x.db?tabel=t'], /\?tabel=/],
    ['a bad cluster URL', ['stats', '--store', 'redis+cluster://a,b'], /host:port/],
    ['revoke without --user', ['revoke', '--store', 'memory:', '--secret', SECRET], /--user/],
    ['revoke without a secret', ['revoke', '--store', 'memory:', '--user', '1'], /secret/],
    [
      'both --secret and --secret-file',
      ['revoke', '--store', 'memory:', '--user', '1', '--secret', SECRET, '--secret-file', '/x'],
      /not both/,
    ],
    ['a stray argument', ['prune', '--store', 'memory:', SECRET], /no arguments/],
    [
      'a SQL table name the stores refuse',
      ['stats', '--store', 'postgres://postgres@127.0.0.1:5432/test?table=bad;name'],
      /table must be a lower-case identifier/,
    ],
    [
      'a SQLite table name the stores refuse',
      ['stats', '--store', 'sqlite:///tmp/pithos-cli-never.db?table=bad-name'],
      /table must be a lower-case identifier/,
    ],
    [
      'a Redis path that is not a database number',
      ['stats', '--store', 'redis://127.0.0.1:6379/abc'],
      /database number/,
    ],
    ['a malformed %-escape', ['stats', '--store', 'mysql://root:%zz@127.0.0.1/test'], /%-escape/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const run = await pithos(args);
      assertExit(run, 2);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    });
  }
});

describe('a closed output pipe', () => {
  it('ends the command quietly, without a stack trace', async () => {
    const child = spawn(process.execPath, [CLI, 'keygen'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|at /);
  });
});

describe('secrets', () => {
  it('a secret typed where the --secret-file path belongs is not printed', async () => {
    const run = await pithos([
      'revoke',
      '--store',
      'memory:',
      '--user',
      '1',
      '--secret-file',
      SECRET,
    ]);
    assertExit(run, 1);
    assert.match(run.stderr, /cannot read the file given to --secret-file/);
    assertNothingSecret(SECRET);
  });

  it('are never echoed: not from a stray argument, a weak secret or an unknown option', async () => {
    assertExit(await pithos(['stats', '--store', 'memory:', OTHER_SECRET]), 2);
    const pasted = await pithos(['revoke', '--store', 'memory:', '--user', '1', `--${SECRET}`]);
    assertExit(pasted, 2);
    assert.match(pasted.stderr, /an unknown option \(not repeated here\)/);
    const weak = await pithos([
      'revoke',
      '--store',
      'memory:',
      '--user',
      '1',
      '--secret',
      'x'.repeat(40),
    ]);
    assertExit(weak, 1);
    assert.match(weak.stderr, /repeated character/);
    assertNothingSecret(SECRET, OTHER_SECRET, 'x'.repeat(40));
  });

  it('--secret-file reads one secret per line, the first one sealing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pithos-cli-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'secret');
    await writeFile(file, `${SECRET}\n${OTHER_SECRET}\n`, { mode: 0o600 });
    const run = await pithos(['doctor', '--store', 'memory:', '--secret-file', file]);
    assertExit(run, 0);
    assert.match(run.stdout, /2 secrets \(the first seals\) from .*secret/);
    const missing = await pithos([
      'doctor',
      '--store',
      'memory:',
      '--secret-file',
      join(dir, 'no'),
    ]);
    assertExit(missing, 1);
    assert.match(missing.stderr, /cannot read the file given to --secret-file \(ENOENT\)/);
  });
});

describe('the memory store', () => {
  it('doctor passes, with every capability', async () => {
    const run = await pithos(['doctor', '--store', 'memory:', '--secret', SECRET]);
    assertExit(run, 0);
    for (const check of ['connect', 'secret', 'round trip', 'user index']) {
      assert.match(run.stdout, new RegExp(`^  ok {4}${check} `, 'm'));
    }
    for (const capability of ['compare-and-set', 'per-user index', 'prune', 'stats']) {
      assert.match(run.stdout, new RegExp(`^  info  ${capability} +yes`, 'm'));
    }
    assert.match(run.stdout, /^healthy: every check passed$/m);
  });

  it('stats counts nothing (a new process), prune removes nothing', async () => {
    const stats = await pithos(['stats', '--store', 'memory:', '--json']);
    assertExit(stats, 0);
    assert.deepEqual(JSON.parse(stats.stdout), {
      store: 'memory',
      label: 'memory (this process only)',
      records: 0,
      expired: 0,
      bytes: 0,
    });
    const prune = await pithos(['prune', '--store', 'memory:']);
    assertExit(prune, 0);
    assert.match(prune.stdout, /^removed 0 expired records from memory/);
  });
});

describe('a missing driver', () => {
  it('says which package to install, and exits 1', async () => {
    // The built package alone, with its own dependencies but none of the drivers.
    const dir = await mkdtemp(join(tmpdir(), 'pithos-cli-bare-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const root = fileURLToPath(new URL('../../', import.meta.url));
    await cp(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'package.json'), '{"type": "module", "version": "0.0.0"}');
    await mkdir(join(dir, 'node_modules'));
    await symlink(join(root, 'node_modules/@noble'), join(dir, 'node_modules/@noble'));
    const cli = join(dir, 'dist/cli/main.js');
    const drivers: [string, string][] = [
      ['postgres://postgres@127.0.0.1/test', 'install pg to use postgres:// stores'],
      ['mysql://root@127.0.0.1/test', 'install mysql2 to use mysql:// stores'],
      // Where Node has node:sqlite built in, sqlite:// needs no driver: the file check speaks.
      process.getBuiltinModule?.('node:sqlite') === undefined
        ? ['sqlite:///tmp/none.db', 'install better-sqlite3 to use sqlite:// stores']
        : ['sqlite:///tmp/none.db', 'there is no SQLite database at /tmp/none.db'],
      ['redis://127.0.0.1:6379', 'install redis to use redis:// stores'],
      ['memcached://127.0.0.1:11211', 'install memjs to use memcached:// stores'],
    ];
    for (const [store, message] of drivers) {
      const run = await pithos(['stats', '--store', store], { cli });
      assertExit(run, 1);
      assert.ok(run.stderr.includes(message), run.stderr);
    }
    assertExit(await pithos(['stats', '--store', 'memory:'], { cli }), 0);
  });
});
