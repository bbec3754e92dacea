import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryStore } from '../../src/stores/memory.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';

describeStoreConformance('memory', { createStore: () => memoryStore() });

describe('memory store: stats', () => {
  it('counts records, expired ones and bytes exactly', async () => {
    let now = Date.UTC(2030, 0, 1);
    const store = memoryStore({ clock: () => now });
    const key = (n: number): string => n.toString(16).padStart(64, 'a');
    for (let i = 0; i < 3; i++) {
      await store.set(key(i), new Uint8Array(100 + i), { expiresAt: now + 60_000 });
    }
    for (let i = 3; i < 5; i++) {
      await store.set(key(i), new Uint8Array(10), { expiresAt: now + 1_000 });
    }
    now += 2_000;
    assert.deepEqual(await store.stats(), { records: 5, expired: 2, bytes: 100 + 101 + 102 + 20 });
  });
});
