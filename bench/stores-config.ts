/** Where the store benchmarks find their back-ends, and the names they create there (and remove). */

export const REDIS_URL = 'redis://127.0.0.1:6379';
/** Key prefixes of pithos's Redis store and of the Redis floor. */
export const REDIS_PREFIX = 'pithos-bench:';
export const REDIS_FLOOR_PREFIX = 'pithos-bench-floor:';
/** PostgreSQL on this machine: trust authentication, database `test`. */
export const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
/** Tables of pithos's PostgreSQL store, of the PostgreSQL floor and of the prune benchmark. */
export const PG_TABLE = 'pithos_bench_sessions';
export const PG_FLOOR_TABLE = 'pithos_bench_floor';
export const PG_PRUNE_TABLE = 'pithos_bench_prune';
