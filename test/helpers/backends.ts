// The backends the behavioural suite runs against, each skipped with the reason when this
// machine cannot run it. A process picks its zero-copy backend once, so each backend's suite
// runs in a test file of its own that calls useBackend() first.
// First: it instruments the addon before probe() below starts the ring.
import './wakeups.js';
import { probe, type BackendName, type ZeroCopyMode } from '../../src/index.js';

export interface BackendCase {
  backend: BackendName;
  /** The per-write option that selects it (with AIOTX_BACKEND choosing the zero-copy one). */
  zeroCopy: ZeroCopyMode;
  /** False, or why this machine cannot run it. */
  skip: false | string;
}

const caps = probe();

function skipReason(backend: BackendName): false | string {
  const status = caps.backends[backend];
  return status.available ? false : `${backend} unavailable: ${status.reason}`;
}

export const backendCases: BackendCase[] = [
  { backend: 'copy', zeroCopy: 'off', skip: false },
  { backend: 'msgzerocopy', zeroCopy: 'on', skip: skipReason('msgzerocopy') },
  { backend: 'uring', zeroCopy: 'on', skip: skipReason('uring') },
];

/** Makes this process's zero-copy writes use `backend`; call before the first aioWrite. */
export function useBackend(backend: BackendName): BackendCase {
  if (backend !== 'copy') process.env.AIOTX_BACKEND = backend;
  return backendCases.find((c) => c.backend === backend)!;
}

/** The zero-copy backends this machine can run. */
export const zeroCopyCases = backendCases.filter((c) => c.backend !== 'copy');
