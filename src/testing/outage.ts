/** Outage tests: the back-end stops and comes back. Internal. @module */
import { StoreError } from '../core/errors.ts';
import type { Store } from '../core/store.ts';
import type { StoreConformanceOptions, TestRunner } from './index.ts';
import { check, later, randomRecord, randomStoreKey, sameBytes } from './support.ts';

/** How long an operation may take to fail while the back-end is down, by default. */
const DEFAULT_FAILURE_MS = 5_000;

async function failsInTime(
  run: () => Promise<unknown>,
  limit: number,
  store: Store,
  what: string,
): Promise<void> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), limit + 1_000);
  });
  try {
    const outcome = await Promise.race([
      run().then(
        () => 'ok' as const,
        (error: unknown) => error,
      ),
      timeout,
    ]);
    check(
      outcome !== 'hung',
      `${what} hung for more than ${limit + 1_000} ms while the back-end was down`,
    );
    check(outcome !== 'ok', `${what} succeeded while the back-end was down`);
    check(
      outcome instanceof StoreError,
      `${what} failed with ${String(outcome)}, not a StoreError`,
    );
    check(
      outcome.store === store.name,
      `${what}: the StoreError names ${outcome.store}, not ${store.name}`,
    );
    check(outcome.cause !== undefined, `${what}: the StoreError lost its cause`);
    check(performance.now() - started <= limit, `${what} took more than ${limit} ms to fail`);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers the outage test, when the options say how to stop and start the back-end. */
export function registerOutageTests(runner: TestRunner, options: StoreConformanceOptions): void {
  const outage = options.outage;
  if (outage === undefined) return;
  runner.it(
    'outage: operations fail in bounded time with a StoreError, and work again after',
    async () => {
      const store = await (outage.createStore ?? options.createStore)();
      const limit = outage.failWithinMs ?? DEFAULT_FAILURE_MS;
      try {
        const key = randomStoreKey();
        const record = randomRecord();
        await store.set(key, record, { expiresAt: later() });
        await outage.stop();
        try {
          await failsInTime(() => store.get(key), limit, store, 'get');
          await failsInTime(
            () => store.set(key, randomRecord(), { expiresAt: later() }),
            limit,
            store,
            'set',
          );
          await failsInTime(() => store.delete(key), limit, store, 'delete');
        } finally {
          await outage.start();
        }
        let recovered: Uint8Array | undefined;
        const deadline = performance.now() + (outage.recoverWithinMs ?? 10_000);
        for (;;) {
          try {
            await store.set(key, record, { expiresAt: later() });
            recovered = await store.get(key);
            break;
          } catch (error) {
            if (performance.now() > deadline) throw error;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        check(
          sameBytes(recovered, record),
          'the store did not work again after the back-end came back',
        );
        await store.delete(key);
      } finally {
        await (outage.closeStore ?? options.closeStore)?.(store);
      }
    },
  );
}
