/**
 * `pithos doctor`: connects to a store, checks its schema, round-trips a sealed test record
 * through a manager, tries the per-user index, and reports what the store can do. Internal to the
 * command.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { toHex } from '../core/bytes.ts';
import { createSessionManager, type SessionManager } from '../core/manager.ts';
import {
  type Command,
  type CommandIO,
  type OptionValues,
  SECRET_HELP,
  SECRET_OPTIONS,
  STORE_HELP,
  STORE_OPTION,
} from './args.ts';
import { closeWithin, open, storeURLOf } from './connect.ts';
import { capabilities, type DoctorData, roundTrip, userIndexTrip } from './doctor-checks.ts';
import { describeError } from './drivers.ts';
import { readSecrets, type Secrets } from './secret.ts';
import type { OpenedStore, SchemaCheck, StoreURL } from './store-url.ts';

type Status = 'ok' | 'FAIL' | 'info';

class Report {
  failures = 0;
  constructor(private readonly io: CommandIO) {}
  line(status: Status, check: string, text: string): void {
    if (status === 'FAIL') this.failures++;
    this.io.out(`  ${status.padEnd(5)} ${check.padEnd(16)} ${text}`);
  }
  /** Runs one check: `ok` with its result and duration, or `FAIL` with the reason. */
  async check(name: string, run: () => Promise<string>): Promise<boolean> {
    const start = performance.now();
    try {
      const text = await run();
      this.line('ok', name, `${text} (${Math.round(performance.now() - start)} ms)`);
      return true;
    } catch (error) {
      this.line('FAIL', name, describeError(error));
      return false;
    }
  }
}

/** Opens the store and makes it answer once: the table lookup on SQL stores, a read elsewhere. */
async function connect(
  url: StoreURL,
  report: Report,
  create: boolean,
): Promise<{ opened?: OpenedStore; schema?: SchemaCheck }> {
  const found: { opened?: OpenedStore; schema?: SchemaCheck } = {};
  await report.check('connect', async () => {
    const opened = await open(url, create);
    found.opened = opened;
    if (opened.checkSchema !== undefined) {
      found.schema = await opened.checkSchema();
      return `${opened.store.name} answered a lookup of table ${found.schema.table}`;
    }
    await opened.store.get(toHex(randomBytes(32)));
    return `${opened.store.name} answered a read`;
  });
  return found;
}

/** SQL stores: the table has pithos's columns, created first when asked; whether to go on. */
async function checkSchema(
  opened: OpenedStore,
  schema: SchemaCheck,
  report: Report,
  create: boolean,
): Promise<boolean> {
  const { table } = schema;
  if (!schema.exists && create && opened.createSchema !== undefined) {
    const { createSchema } = opened;
    return report.check('schema', async () => {
      await createSchema();
      return `created table ${table} and its indexes`;
    });
  }
  if (!schema.exists) {
    report.line(
      'FAIL',
      'schema',
      `table ${table} does not exist: add --create-schema to create it`,
    );
    return false;
  }
  if (schema.missingColumns.length > 0) {
    report.line('FAIL', 'schema', `table ${table} lacks ${schema.missingColumns.join(', ')}`);
    return false;
  }
  report.line('ok', 'schema', `table ${table} has every column pithos needs`);
  return true;
}

function describeSecret(found: Secrets | undefined): string {
  if (found === undefined) return 'none given: the checks used a throwaway one';
  const count = found.secrets.length;
  const many = count > 1 ? `${count} secrets (the first seals)` : '1 secret';
  return `${many} from ${found.source}, at least 32 bytes each`;
}

async function checkStore(
  opened: OpenedStore,
  io: CommandIO,
  report: Report,
  found: Secrets | undefined,
): Promise<void> {
  const secrets = found?.secrets ?? [randomBytes(32).toString('base64url')];
  let manager: SessionManager<DoctorData>;
  try {
    // Short-lived: should a check fail halfway, what it wrote expires within minutes, and so
    // does the entry a per-user index may keep until its member's deadline (Redis).
    manager = createSessionManager<DoctorData>({
      store: opened.store,
      secrets,
      idleTimeout: 60,
      absoluteTimeout: 120,
    });
    report.line(found === undefined ? 'info' : 'ok', 'secret', describeSecret(found));
  } catch (error) {
    report.line('FAIL', 'secret', error instanceof Error ? error.message : String(error));
    return;
  }
  const nonce = toHex(randomBytes(8));
  const redact = (value: string): void => io.redact(value);
  await report.check('round trip', async () => {
    await roundTrip(manager, nonce, redact);
    return 'sealed a test session, wrote it, read it back, opened it, deleted it';
  });
  if (opened.store.listByUser !== undefined) {
    await report.check('user index', async () => {
      await userIndexTrip(manager, nonce, redact);
      return 'logged a test user in, found the session by user, revoked it';
    });
  }
  for (const [name, text] of capabilities(opened.store, opened.kind))
    report.line('info', name, text);
  const crypto = manager.cryptoName === 'native' ? 'native (sodium-native)' : 'portable (@noble)';
  report.line('info', 'crypto', crypto);
}

async function run(values: OptionValues, io: CommandIO): Promise<number> {
  const url = storeURLOf(values, io);
  const found = await readSecrets(values, io);
  const create = values['create-schema'] === true;
  const report = new Report(io);
  io.out(`pithos doctor: ${url.label}`);
  const { opened, schema } = await connect(url, report, create);
  try {
    const isReady =
      opened !== undefined &&
      report.failures === 0 &&
      (schema === undefined || (await checkSchema(opened, schema, report, create)));
    if (isReady) await checkStore(opened, io, report, found);
  } finally {
    if (opened !== undefined) await closeWithin(opened);
  }
  const failed = report.failures;
  io.out(failed === 0 ? 'healthy: every check passed' : `unhealthy: ${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

/** `pithos doctor`. */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check a store: connection, schema, a sealed round trip, capabilities',
  help: `Usage: pithos doctor --store URL [--create-schema] [--secret … | --secret-file PATH]

Checks a store the way an application uses it, and prints what it found:
  connect          the driver is installed and the store answers (SQL: a lookup of the
                   table; others: a read of an absent record)
  schema           SQL stores: the table exists with pithos's columns
  secret           the secret given is usable (without one, a throwaway secret is used)
  round trip       a test session is sealed, written, read back, opened and deleted
  user index       stores with a per-user index: a test user logs in, is found, is revoked
  capabilities     compare-and-set, per-user index, prune, stats: what each means here
It removes what it wrote. Exit code 0 when every check passed, 1 otherwise.

Options:
  --store URL       the store (see below)
  --create-schema   create what is missing: the SQL table and its indexes, the SQLite file,
                    the file store's directory
  -h, --help        show this help

${SECRET_HELP}

${STORE_HELP}`,
  options: { ...STORE_OPTION, ...SECRET_OPTIONS, 'create-schema': { type: 'boolean' } },
  run,
};
