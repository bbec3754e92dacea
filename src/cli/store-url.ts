/**
 * Store URLs: one string that names a store and where it lives, for the `pithos` command and the
 * example app (`PITHOS_STORE`). `parseStoreURL` only reads the text; `openStore` loads the
 * driver (a dynamic `import()`, so only the one in use must be installed), connects, and builds
 * the store on that client.
 *
 * ```
 * memory:                                   memoryStore(), empty in a new process
 * file:///var/lib/app/sessions              fileStore({ directory })
 * sqlite:///var/lib/app/sessions.db         sqliteStore on better-sqlite3      ?table=
 * redis://[user:password@]host:6379[/db]    redisStore on node-redis           ?prefix=
 * rediss://…                                the same over TLS
 * redis+cluster://host:7001,host:7002       redisStore on a node-redis cluster ?prefix=
 * postgres://user:password@host:5432/db     postgresStore on a pg Pool         ?table=
 * mysql://user:password@host:3306/db        mysqlStore on a mysql2 pool        ?table=
 * memcached://host:11211[,host:11212]       memcachedStore on memjs            ?prefix=
 * ```
 *
 * Other query parameters of postgres and mysql URLs go to the driver (`?sslmode=require`).
 * Labels never hold a password.
 *
 * @module
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/errors.ts';
import type { Store } from '../core/store.ts';
import { TABLE_PATTERN } from '../stores/sql-dialect.ts';
import { OPENERS } from './store-openers.ts';

/** The kinds of store a URL can name. */
export type StoreKind = 'memory' | 'fs' | 'sqlite' | 'redis' | 'postgres' | 'mysql' | 'memcached';

/** A store URL, read but not opened. */
export interface StoreURL {
  readonly kind: StoreKind;
  /** Where it is, without credentials: "PostgreSQL at 127.0.0.1:5432/test, table pithos_sessions". */
  readonly label: string;
  /** The server alone, for connection errors: "PostgreSQL at 127.0.0.1:5432/test". */
  readonly server?: string;
  /** The driver's connection string without pithos's parameters (redis, postgres, mysql). */
  readonly connection?: string;
  /** Servers as `host:port` (Redis Cluster, memcached). */
  readonly servers?: readonly string[];
  /** Credentials given in a cluster or memcached URL. */
  readonly username?: string;
  readonly password?: string;
  /** The file (sqlite) or directory (fs). */
  readonly path?: string;
  /** `?table=` of SQL stores. */
  readonly table?: string;
  /** `?prefix=` of Redis and memcached stores. */
  readonly prefix?: string;
  /** Whether it names a Redis Cluster. */
  readonly cluster?: boolean;
}

/** Whether a SQL table has pithos's columns. */
export interface SchemaCheck {
  readonly table: string;
  readonly exists: boolean;
  /** Columns pithos needs that the table lacks. */
  readonly missingColumns: readonly string[];
}

/** An open store and what the opener made for it. */
export interface OpenedStore {
  readonly store: Store;
  readonly kind: StoreKind;
  /** Where the sessions are, without any password. */
  readonly label: string;
  /**
   * The driver's client, for the caller's other uses: a better-sqlite3 `Database`, a pg `Pool`,
   * a node-redis client or cluster, a mysql2 pool, a memjs client; `undefined` for memory and fs.
   */
  readonly client?: unknown;
  /** SQL stores: whether the table exists with pithos's columns. Throws when the server cannot be reached. */
  checkSchema?(): Promise<SchemaCheck>;
  /** SQL stores: creates the table and its indexes when missing. */
  createSchema?(): Promise<void>;
  /** Closes what the opener opened (connections, the database file); the data stays. */
  close(): Promise<void>;
  /**
   * Drops the connections at once, without waiting for commands still in flight: for a server
   * that stopped answering, where `close` would wait for it. Absent where there is nothing to drop.
   */
  destroy?(): void;
}

/** Options of `openStore`. */
export interface OpenStoreOptions {
  /**
   * Create a missing SQLite file or file-store directory. When `false`, a missing one is an
   * error rather than a new empty store (a typo in a path must not look like an empty store).
   * SQL tables are created by `createSchema()` of the opened store. Default `false`.
   */
  create?: boolean;
}

const SCHEMES: Record<string, StoreKind> = {
  'memory:': 'memory',
  'file:': 'fs',
  'sqlite:': 'sqlite',
  'redis:': 'redis',
  'rediss:': 'redis',
  'redis+cluster:': 'redis',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
  'memcached:': 'memcached',
};

/** The URL schemes `openStore` understands. */
export const STORE_SCHEMES: readonly string[] = Object.keys(SCHEMES);

function fail(message: string): never {
  throw new ConfigError(`store URL: ${message}`);
}

/** `decodeURIComponent`, failing as a store URL that cannot be read on a malformed %-escape. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail('a %-escape in it is malformed (write % itself as %25)');
  }
}

/** The `?table=` of SQL URLs, checked by the rule the SQL stores apply. */
function checkTable(table: string | undefined): string | undefined {
  if (table !== undefined && !TABLE_PATTERN.test(table)) {
    fail('table must be a lower-case identifier (a-z, 0-9, _), optionally schema-qualified');
  }
  return table;
}

/** Takes pithos's own parameters out of `params`; refuses unknown ones when `strict`. */
function own(params: URLSearchParams, names: string[], strict: boolean): Record<string, string> {
  const found: Record<string, string> = {};
  for (const name of names) {
    const value = params.get(name);
    if (value === '') fail(`?${name}= is empty`);
    if (value !== null) found[name] = value;
    params.delete(name);
  }
  const unknown = [...params.keys()];
  if (strict && unknown.length > 0) {
    // Named only when it looks like a name and nothing around it like the rest of an authority:
    // an unencoded '?' in a password starts a "parameter" that runs on to the '@'.
    const [name = ''] = unknown;
    const isAuthority = [...params].some(([key, value]) => `${key}${value}`.includes('@'));
    const isName = /^[A-Za-z][\w-]{0,31}$/.test(name) && !isAuthority;
    const what = isName ? `parameter ?${name}=` : 'parameter';
    const known = names.join(', ') || 'none';
    fail(`unknown ${what} (known: ${known}; write '?' or '@' in a password as %3F or %40)`);
  }
  return found;
}

/** `user:password@host:1,host:2/rest?query`, for the schemes whose authority lists servers. */
function serverList(text: string, scheme: string) {
  if (text.slice(scheme.length, scheme.length + 2) !== '//') fail(`write ${scheme}//host:port`);
  const body = text.slice(scheme.length + 2);
  const end = body.search(/[/?#]/);
  const authority = end === -1 ? body : body.slice(0, end);
  const query = end === -1 ? '' : body.slice(end).replace(/^\/?/, '');
  if (query.startsWith('#') || (query !== '' && !query.startsWith('?'))) {
    fail(`${scheme}// URLs take servers and ?parameters only`);
  }
  const at = authority.lastIndexOf('@');
  // The password runs from the first colon to the '@', colons included (as WHATWG URLs read it).
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const colon = userinfo?.indexOf(':') ?? -1;
  const username =
    userinfo === undefined ? undefined : decode(colon === -1 ? userinfo : userinfo.slice(0, colon));
  const password =
    userinfo === undefined || colon === -1 ? undefined : decode(userinfo.slice(colon + 1));
  const servers = authority.slice(at + 1).split(',');
  for (const server of servers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(server))
      fail(`${scheme}// servers are host:port, separated by commas`);
  }
  return { username, password, servers, params: new URLSearchParams(query.slice(1)) };
}

function parseRedis(text: string, scheme: string, url: URL | undefined): StoreURL {
  if (url === undefined || scheme === 'redis+cluster:') {
    if (scheme !== 'redis+cluster:') fail('not a valid URL');
    const { username, password, servers, params } = serverList(text, 'redis+cluster:');
    const { prefix } = own(params, ['prefix'], true);
    const server = `Redis Cluster at ${servers.join(',')}`;
    const label = `${server}, prefix ${prefix ?? 'pithos:'}`;
    return { kind: 'redis', cluster: true, label, server, servers, username, password, prefix };
  }
  const { prefix } = own(url.searchParams, ['prefix'], false);
  const connection = url.href;
  const db = url.pathname.length > 1 ? url.pathname : '';
  if (db !== '' && !/^\/\d{1,5}$/.test(db))
    fail('the path of a redis:// URL is a database number: redis://host:6379/0');
  decode(url.username);
  decode(url.password);
  const server = `Redis at ${url.host}${db}`;
  const label = `${server}, prefix ${prefix ?? 'pithos:'}`;
  return { kind: 'redis', label, server, connection, prefix };
}

function parseSQL(kind: 'postgres' | 'mysql', url: URL): StoreURL {
  const table = checkTable(own(url.searchParams, ['table'], false).table);
  decode(url.username);
  decode(url.password);
  if (url.hostname === '')
    fail(`${url.protocol}// URLs name a server: ${url.protocol}//user@host/database`);
  const name = kind === 'postgres' ? 'PostgreSQL' : 'MySQL';
  const server = `${name} at ${url.host}${url.pathname}`;
  const label = `${server}, table ${table ?? 'pithos_sessions'}`;
  return { kind, label, server, connection: url.href, table };
}

function parseSQLite(url: URL): StoreURL {
  const table = checkTable(own(url.searchParams, ['table'], true).table);
  if (url.host !== '')
    fail('sqlite URLs name a file: sqlite:///absolute/path.db or sqlite:relative.db');
  const file = decode(url.pathname);
  if (file === '' || file.endsWith('/'))
    fail('sqlite URLs name a file, such as sqlite:///var/lib/app/sessions.db');
  const path = isAbsolute(file) ? file : resolve(file);
  return {
    kind: 'sqlite',
    label: `SQLite at ${path}, table ${table ?? 'pithos_sessions'}`,
    path,
    table,
  };
}

function parseFile(url: URL): StoreURL {
  own(url.searchParams, [], true);
  if (url.host !== '') fail('file URLs name a local directory: file:///var/lib/app/sessions');
  const bare = new URL(url);
  bare.search = '';
  const path = fileURLToPath(bare);
  return { kind: 'fs', label: `files in ${path}`, path };
}

/**
 * Reads a store URL. Throws a `ConfigError` that says what is wrong, and never repeats the URL,
 * which may hold a password.
 *
 * @example
 * ```ts
 * parseStoreURL('postgres://app@db.internal/app?table=sessions').label
 * // 'PostgreSQL at db.internal/app, table sessions'
 * ```
 */
export function parseStoreURL(text: string): StoreURL {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(text)?.[0].toLowerCase();
  const kind = scheme === undefined ? undefined : SCHEMES[scheme];
  if (kind === undefined) {
    fail(`unknown kind of store; it starts with one of ${STORE_SCHEMES.join(' ')}`);
  }
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // A Redis Cluster's or memcached's server list is not a valid URL host.
    if (scheme !== 'redis+cluster:' && scheme !== 'memcached:') fail('not a valid URL');
  }
  switch (kind) {
    case 'memory':
      if (text.replace(/^memory:(\/\/)?/i, '') !== '')
        fail('the memory store takes nothing after memory:');
      return { kind, label: 'memory (this process only)' };
    case 'fs':
      return parseFile(url as URL);
    case 'sqlite':
      return parseSQLite(url as URL);
    case 'redis':
      return parseRedis(text, scheme as string, url);
    case 'postgres':
    case 'mysql':
      return parseSQL(kind, url as URL);
    case 'memcached': {
      const { username, password, servers, params } = serverList(text, 'memcached:');
      const { prefix } = own(params, ['prefix'], true);
      return {
        kind,
        label: `memcached at ${servers.join(',')}, prefix ${prefix ?? 'pithos:'}`,
        servers,
        username,
        password,
        prefix,
      };
    }
  }
}

/**
 * Opens the store a URL names: loads its driver, connects, builds the store. Throws a
 * `ConfigError` for a bad URL or a driver that is not installed ("install pg to use postgres://
 * stores"), and a `StoreError` when the server cannot be reached.
 *
 * @example
 * ```ts
 * const opened = await openStore(process.env.PITHOS_STORE ?? 'memory:', { create: true });
 * await opened.createSchema?.();
 * const manager = createSessionManager({ store: opened.store, secret });
 * // at shutdown: await opened.close();
 * ```
 */
export async function openStore(
  url: string | StoreURL,
  options: OpenStoreOptions = {},
): Promise<OpenedStore> {
  const parsed = typeof url === 'string' ? parseStoreURL(url) : url;
  return OPENERS[parsed.kind](parsed, options.create === true);
}
