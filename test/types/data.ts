// Type tests, checked by `tsc -p test/types` against the BUILT package (imported by name), so the
// published declarations and the exports map are what is tested. Each @ts-expect-error must fail
// to compile; tsc reports an unused one as an error.
import { createSessionManager, type Session } from 'pithos';
import { withSession as withFetchSession } from 'pithos/fetch';
import { memoryStore } from 'pithos/memory';
import { withSession as withNodeSession } from 'pithos/node';

interface Cart {
  visits: number;
  cart: string[];
  profile?: { name: string; tags: readonly string[] };
  when?: string;
}

const secret = 'a-type-test-secret-that-is-long-enough!!';
const manager = createSessionManager<Cart>({ store: memoryStore(), secret });
const session: Session<Cart> = await manager.load(undefined);

const visits: number | undefined = session.get('visits');
session.set('visits', (visits ?? 0) + 1);
session.set('cart', ['apple']);
session.set('profile', { name: 'Ada', tags: ['x'] });
session.get('cart')?.push('pear');

// @ts-expect-error an unknown key does not compile
session.get('unknown-key');
// @ts-expect-error a wrongly typed value does not compile
session.set('visits', 'many');
// @ts-expect-error a wrongly typed array does not compile
session.set('cart', [1, 2]);

// Types that JSON cannot carry are refused for the whole data type.
// @ts-expect-error functions
createSessionManager<{ callback: () => void }>({ store: memoryStore(), secret });
// @ts-expect-error Dates (stored as ISO strings: declare them as string)
createSessionManager<{ at: Date }>({ store: memoryStore(), secret });
// @ts-expect-error Maps
createSessionManager<{ tags: Map<string, string> }>({ store: memoryStore(), secret });
// @ts-expect-error bigints
createSessionManager<{ big: bigint }>({ store: memoryStore(), secret });
// @ts-expect-error undefined inside arrays
createSessionManager<{ list: (number | undefined)[] }>({ store: memoryStore(), secret });

// The data type flows through the adapters.
withFetchSession(manager, async (_request, fetchSession) => {
  // @ts-expect-error wrong type through the fetch adapter
  fetchSession.set('visits', true);
  return new Response(String(fetchSession.get('visits') ?? 0));
});
withNodeSession(manager, (_request, response, nodeSession) => {
  // @ts-expect-error unknown key through the node adapter
  nodeSession.get('nope');
  response.end(String(nodeSession.get('cart')?.length));
});

// Without a type argument, any JSON value is accepted.
const loose = createSessionManager({ store: memoryStore(), secret });
(await loose.load(undefined)).set('anything', { nested: [1, 'two', null] });
