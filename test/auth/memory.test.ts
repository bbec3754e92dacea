import { memoryStore } from '../../src/stores/memory.ts';
import { describeAuth } from './suite.ts';

describeAuth('memory', { createStore: () => memoryStore() });
