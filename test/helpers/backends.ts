// The backends the behavioural suite runs against, each skipped with the reason when this
// machine cannot run it.
import { probe, type BackendName, type ZeroCopyMode } from '../../src/index.js';

export interface BackendCase {
  backend: BackendName;
  /** The per-write option that selects it. */
  zeroCopy: ZeroCopyMode;
  /** False, or why this machine cannot run it. */
  skip: false | string;
}

const caps = probe();

export const backendCases: BackendCase[] = [
  { backend: 'copy', zeroCopy: 'off', skip: false },
  {
    backend: 'msgzerocopy',
    zeroCopy: 'on',
    skip: caps.backends.msgzerocopy.available ? false : `MSG_ZEROCOPY unavailable: ${caps.backends.msgzerocopy.reason}`,
  },
];
