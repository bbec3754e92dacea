// The auth suite against the machine's Redis (127.0.0.1:6379), with a prefix of its own.
import { after } from 'node:test';
import { redisStore } from '../../src/stores/redis.ts';
import {
  deleteKeys,
  dumpKeys,
  nodeRedis,
  SINGLE_PORT,
  uniquePrefix,
} from '../stores/redis-support.ts';
import { describeAuth } from './suite.ts';

const client = await nodeRedis(SINGLE_PORT);
const prefix = uniquePrefix('auth');
after(async () => {
  await deleteKeys([SINGLE_PORT], prefix);
  await client.quit();
});

describeAuth('redis', {
  createStore: () => redisStore({ client, prefix }),
  dump: async () => Buffer.from(await dumpKeys([SINGLE_PORT], prefix)).toString('latin1'),
});
