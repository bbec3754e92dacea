/**
 * The request handlers of `bench/stores-server.ts`, one per server mode. Every handler answers
 * `GET /` by changing the session (counter + 1) and `GET /read` by only reading it; a request
 * without a session creates one with 200 B of data. The floors do the same with raw commands of
 * the same client library on a record of the same size as pithos's sealed record, keyed by the
 * cookie's value, with no crypto; the `-crypto` floors add the irreducible crypto and JSON work of
 * a cycle to that, and the `-cas-crypto` floors write with compare-and-set instead of blindly
 * (issue 3 asks every store for it): the least any store meeting the requirements does.
 * The `required-` servers do, on the same raw commands, the floor's work plus only what issue 2
 * requires of every cycle (`requiredRequestWork`). `floor-fs` and
 * `required-fs` write files atomically and sit behind Express, as session-file-store does.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import pg from 'pg';
import { createClient } from 'redis';
import { createSessionMiddleware } from '../dist/adapters/express.js';
import { withSession } from '../dist/adapters/node.js';
import type { Store } from '../dist/core/store.js';
import { createSessionManager, type SessionManager } from '../dist/index.js';
import { fileStore } from '../dist/stores/fs.js';
import { memoryStore } from '../dist/stores/memory.js';
import { postgresStore } from '../dist/stores/postgres.js';
import { redisStore } from '../dist/stores/redis.js';
import { BENCH_SECRET, type BenchData, sampleData } from './data.ts';
import { type RecordWork, recordWork, requiredRequestWork } from './floor.ts';
import {
  PG_FLOOR_TABLE,
  PG_TABLE,
  POSTGRES,
  REDIS_FLOOR_PREFIX,
  REDIS_PREFIX,
  REDIS_URL,
} from './stores-config.ts';

/** A `node:http` request handler. */
export type Handler = (request: IncomingMessage, response: ServerResponse) => unknown;

/** Counters every handler keeps, reported to the parent. */
export const counters = { requests: 0, created: 0, reads: 0, writes: 0, missing: 0 };

/** Connections each server's `pg.Pool` may open, pithos and floor alike. */
const PG_POOL_SIZE = 10;
/** The records' lifetime, pithos's default idle timeout. */
const TTL_MS = 86_400_000;
const BODY = 'ok\n';
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };
const seed = sampleData(200);
/** node-redis's `RESP_TYPES.BLOB_STRING`: replies as Buffers, as the Redis store asks for. */
const BUFFERS = { 36: Buffer };

/** The store, counting its reads and writes (so the report shows that a read skips the write). */
function counted(store: Store): Store {
  return {
    ...store,
    get: (key) => {
      counters.reads++;
      return store.get(key);
    },
    set: (key, record, options) => {
      counters.writes++;
      return store.set(key, record, options);
    },
    compareAndSet: (key, expected, record, options) => {
      counters.writes++;
      return store.compareAndSet?.(key, expected, record, options) ?? Promise.resolve(false);
    },
  };
}

function managerOn(store: Store): SessionManager<BenchData> {
  return createSessionManager<BenchData>({ store: counted(store), secret: BENCH_SECRET });
}

/** The size in bytes of the sealed record of a fresh session with the benchmark's data. */
export async function sealedRecordSize(): Promise<number> {
  let size = 0;
  const store = memoryStore();
  const manager = createSessionManager<BenchData>({
    store: {
      ...store,
      compareAndSet: undefined,
      set: async (_key, record) => {
        size = record.length;
      },
    },
    secret: BENCH_SECRET,
  });
  const fresh = await manager.load(undefined);
  for (const [key, value] of Object.entries(seed)) fresh.set(key, value);
  await manager.commit(fresh);
  return size;
}

/** The part of a session the handlers use: pithos's `Session`, or a view of express-session's. */
interface SessionView {
  readonly isNew: boolean;
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

/** What every handler does with a session: create it, change it (`/`) or only read it (`/read`). */
function touch(path: string | undefined, current: SessionView): void {
  counters.requests++;
  if (current.isNew) {
    counters.created++;
    for (const [key, value] of Object.entries(seed)) current.set(key, value);
  } else if (path === '/read') {
    if (current.get('counter') === undefined) counters.missing++;
  } else {
    current.set('counter', Number(current.get('counter') ?? 0) + 1);
  }
}

/** pithos through the node adapter, on the given store. */
function pithosHandler(store: Store): Handler {
  return withSession(managerOn(store), (request, response, current) => {
    touch(request.url, current as SessionView);
    response.writeHead(200, HEADERS).end(BODY);
  });
}

/** The 64 hex digits of the floor's cookie, or `undefined`. */
function floorID(request: IncomingMessage): string | undefined {
  const match = /(?:^|;\s*)floor=([0-9a-f]{64})/.exec(request.headers.cookie ?? '');
  return match?.[1];
}

/** Raw operations on one record of the floor: read it, write it. */
interface Raw {
  get(id: string): Promise<Buffer | undefined>;
  /**
   * Writes the record. `previous` is the record this request read (absent for a new one): a
   * compare-and-set floor writes only if the stored record is still that one, and returns
   * whether it did.
   */
  set(id: string, record: Buffer, previous?: Buffer): Promise<boolean | undefined>;
}

/**
 * A floor server: GET (+ SET on `/`) of a record of `size` bytes keyed by the cookie. With `work`,
 * the record is a real sealed one and each request also does the irreducible crypto and JSON work
 * of a cycle on it (`recordWork` in `bench/floor.ts`): the most any encrypted session store on
 * this back-end can do.
 */
function floorHandler(raw: Raw, size: number, work?: RecordWork): Handler {
  return async (request, response) => {
    counters.requests++;
    let id = floorID(request);
    const headers: Record<string, string> = { ...HEADERS };
    if (id === undefined) {
      counters.created++;
      id = randomBytes(32).toString('hex');
      await raw.set(id, work === undefined ? Buffer.alloc(size, 1) : asBuffer(work.create()));
      headers['set-cookie'] = `floor=${id}; Path=/; HttpOnly; SameSite=Lax`;
    } else {
      counters.reads++;
      const record = await raw.get(id);
      if (record === undefined) {
        counters.missing++;
        response.writeHead(500, HEADERS).end(BODY);
        return;
      }
      if (request.url === '/read') {
        work?.read(id, record);
      } else {
        counters.writes++;
        let written: boolean | undefined;
        if (work === undefined) {
          // A change of the same size: one byte, standing in for the counter.
          const changed = Buffer.from(record);
          changed[0] = ((changed[0] as number) + 1) & 0xff;
          written = await raw.set(id, changed, record);
        } else {
          written = await raw.set(id, asBuffer(work.change(id, record)), record);
        }
        // Each connection has sessions of its own, so a compare-and-set never loses here.
        if (written === false) counters.missing++;
      }
    }
    response.writeHead(200, headers).end(BODY);
  };
}

/**
 * A `required` server: the floor's work plus only what issue 2 requires of every cycle
 * (`requiredRequestWork` in `bench/floor.ts`), on pithos's cookie, a change written by
 * compare-and-set where `raw` does it (`/read` only loads): the most any implementation of issues
 * 2 and 3 can reach on this back-end.
 */
function requiredHandler(raw: Raw): Handler {
  const work = requiredRequestWork(seed, '__Host-pithos', {
    get: (key) => {
      counters.reads++;
      return raw.get(key);
    },
    set: async (key, record, previous) => {
      counters.writes++;
      const written = await raw.set(key, asBuffer(record), previous && asBuffer(previous));
      // Each connection has sessions of its own, so a compare-and-set never loses here.
      if (written === false) counters.missing++;
    },
  });
  return async (request, response) => {
    counters.requests++;
    const created = await work(request.headers.cookie ?? '', request.url !== '/read');
    if (created === undefined) {
      response.writeHead(200, HEADERS).end(BODY);
    } else {
      counters.created++;
      response.writeHead(200, { ...HEADERS, 'set-cookie': created }).end(BODY);
    }
  };
}

/** A `node:http` handler behind Express 5, as session-file-store is benchmarked. */
function behindExpress(handler: Handler): Handler {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((request, response) => handler(request, response));
  return app;
}

/** `bytes` as a Buffer: itself when it is one (the PostgreSQL floors know records by object). */
function asBuffer(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type RedisClient = ReturnType<typeof createClient>;

async function redisClient(): Promise<RedisClient> {
  const client: RedisClient = createClient({ url: REDIS_URL });
  await client.connect();
  return client;
}

function pgPool(): pg.Pool {
  return new pg.Pool({ ...POSTGRES, max: PG_POOL_SIZE });
}

/**
 * The floor's compare-and-set: the least a Lua script does to write a record only over the one
 * that was read (no TTL arithmetic, no deletes, no user index; pithos's script does those too).
 */
const REDIS_FLOOR_CAS = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** GET + SET, or with `cas` GET + EVALSHA of `REDIS_FLOOR_CAS` (new records by plain SET). */
async function redisRaw(cas: boolean): Promise<Raw> {
  const client = await redisClient();
  const sha = String(await client.sendCommand(['SCRIPT', 'LOAD', REDIS_FLOOR_CAS]));
  return {
    get: async (id) =>
      ((await client.sendCommand(['GET', REDIS_FLOOR_PREFIX + id], { typeMapping: BUFFERS })) ??
        undefined) as Buffer | undefined,
    set: async (id, record, previous) => {
      const key = REDIS_FLOOR_PREFIX + id;
      if (cas && previous !== undefined) {
        const args = ['EVALSHA', sha, '1', key, previous, record, String(TTL_MS)];
        return Number(await client.sendCommand(args)) === 1;
      }
      await client.sendCommand(['SET', key, record, 'PX', String(TTL_MS)]);
      return undefined;
    },
  };
}

/**
 * The floor's statements: pithos's `get`, and an upsert as pithos's `set` (same table design).
 * With `prepare`, both go as named prepared statements, as pithos's `prepare: true` sends them.
 * With `cas`, a change is an `UPDATE … WHERE version = ` the version the SELECT returned, as
 * pithos's compare-and-set (new records still go by the upsert).
 */
function postgresRaw(prepare: boolean, cas: boolean): Raw {
  const pool = pgPool();
  const query = (name: string, text: string, values: unknown[]) =>
    prepare ? pool.query({ name, text, values }) : pool.query(text, values);
  // The compare-and-set floor also reads the version, as pithos does.
  const columns = cas ? 'record, version' : 'record';
  const select = `SELECT ${columns} FROM ${PG_FLOOR_TABLE} WHERE store_key = $1 AND expires_at > $2`;
  const upsert =
    `INSERT INTO ${PG_FLOOR_TABLE} (store_key, record, expires_at, user_key, version) ` +
    'VALUES ($1, $2, $3, NULL, 1) ON CONFLICT (store_key) DO UPDATE SET record = EXCLUDED.record, ' +
    `expires_at = EXCLUDED.expires_at, version = ${PG_FLOOR_TABLE}.version + 1`;
  const update =
    `UPDATE ${PG_FLOOR_TABLE} SET record = $2, expires_at = $3, version = version + 1 ` +
    'WHERE store_key = $1 AND version = $4';
  // The version each record was read at, as pithos's SQL stores remember it.
  const versions = new WeakMap<Buffer, unknown>();
  return {
    get: async (id) => {
      const row = (await query('floor_select', select, [id, Date.now()])).rows[0];
      if (row === undefined) return undefined;
      if (cas) versions.set(row.record, row.version);
      return row.record;
    },
    set: async (id, record, previous) => {
      const expires = Date.now() + TTL_MS;
      if (cas && previous !== undefined) {
        const values = [id, record, expires, versions.get(previous as Buffer)];
        return (await query('floor_update', update, values)).rowCount === 1;
      }
      await query('floor_upsert', upsert, [id, record, expires]);
      return undefined;
    },
  };
}

/**
 * The least a file store meeting issue 3 does: one file per record in 256 subdirectories made
 * up front, read with one `readFile`, written atomically (a new temporary file, the record,
 * `fsync`, `rename` over the record's name), with no lock, compare-and-set or permissions check.
 */
function fsRaw(directory: string): Raw {
  for (let shard = 0; shard < 256; shard++) {
    mkdirSync(join(directory, shard.toString(16).padStart(2, '0')), { recursive: true });
  }
  const pathOf = (id: string): string => join(directory, id.slice(0, 2), id);
  let written = 0;
  return {
    get: async (id) => {
      try {
        return await readFile(pathOf(id));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    set: async (id, record) => {
      const path = pathOf(id);
      const temporary = `${path}.${process.pid}.${written++}`;
      const file = await open(temporary, 'wx', 0o600);
      try {
        await file.write(record);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
      return undefined;
    },
  };
}

/** The same Express app for pithos and for express-session: a session middleware, then `touch`. */
function expressApp(
  middleware: RequestHandler,
  viewOf: (request: express.Request) => SessionView,
): Handler {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(middleware);
  const route: RequestHandler = (request, response) => {
    touch(request.path, viewOf(request));
    response.type('text/plain').send(BODY);
  };
  app.get('/', route);
  app.get('/read', route);
  return app;
}

function pithosExpress(directory: string, sync: boolean): Handler {
  const sessions = createSessionMiddleware(managerOn(fileStore({ directory, sync })));
  return expressApp(
    sessions as unknown as RequestHandler,
    (request) => sessions.getSession(request) as SessionView,
  );
}

/** session-file-store's class, made from express-session (it ships no types). */
type FileStoreClass = new (options: Record<string, unknown>) => session.Store;

function sessionFileStore(directory: string): Handler {
  const load = createRequire(import.meta.url)('session-file-store') as (
    module: typeof session,
  ) => FileStoreClass;
  const FileStore = load(session);
  const store = new FileStore({
    path: directory,
    ttl: TTL_MS / 1000,
    retries: 0,
    reapInterval: -1,
    logFn: () => {},
  });
  const middleware = session({
    store,
    secret: BENCH_SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: TTL_MS },
  });
  return expressApp(middleware, (request) => {
    const data = request.session as unknown as Record<string, unknown>;
    return {
      isNew: data.userID === undefined,
      get: (key) => data[key],
      set: (key, value) => {
        data[key] = value;
      },
    };
  });
}

/** The handler of one server mode; `directory` is the fs stores' directory. */
export async function handlerFor(mode: string, directory: string | undefined): Promise<Handler> {
  const size = await sealedRecordSize();
  switch (mode) {
    case 'pithos-redis':
      return pithosHandler(redisStore({ client: await redisClient(), prefix: REDIS_PREFIX }));
    case 'floor-redis':
      return floorHandler(await redisRaw(false), size);
    case 'floor-redis-crypto':
      return floorHandler(await redisRaw(false), size, recordWork(seed));
    case 'floor-redis-cas-crypto':
      return floorHandler(await redisRaw(true), size, recordWork(seed));
    case 'required-redis':
      return requiredHandler(await redisRaw(true));
    case 'pithos-postgres':
      return pithosHandler(postgresStore({ client: pgPool(), table: PG_TABLE }));
    case 'pithos-postgres-prepared':
      return pithosHandler(postgresStore({ client: pgPool(), table: PG_TABLE, prepare: true }));
    case 'floor-postgres':
      return floorHandler(postgresRaw(false, false), size);
    case 'floor-postgres-crypto':
      return floorHandler(postgresRaw(false, false), size, recordWork(seed));
    case 'floor-postgres-cas-crypto':
      return floorHandler(postgresRaw(false, true), size, recordWork(seed));
    case 'floor-postgres-prepared':
      return floorHandler(postgresRaw(true, false), size);
    case 'required-postgres':
      return requiredHandler(postgresRaw(false, true));
  }
  if (directory === undefined) throw new Error(`${mode} needs a directory`);
  if (mode === 'pithos-fs') return pithosExpress(directory, true);
  if (mode === 'pithos-fs-nosync') return pithosExpress(directory, false);
  if (mode === 'session-file-store') return sessionFileStore(directory);
  if (mode === 'floor-fs') return behindExpress(floorHandler(fsRaw(directory), size));
  if (mode === 'required-fs') return behindExpress(requiredHandler(fsRaw(directory)));
  throw new Error(`unknown mode ${mode}`);
}
