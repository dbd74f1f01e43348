// What the engine holds right now, read-only, for leak checks: a quiet engine holds nothing
// (no transmitter, no ring tag), the way liburing's tests expect an empty CQ after each test.
import { transmitterCount } from './registry.js';
import { tagsInUse } from './uring-ring.js';

export interface EngineCensus {
  /** Transmitters not yet retired (each holds a duplicate fd and a poller registration). */
  transmitters: number;
  /** io_uring tags whose segment may still get a CQE. */
  ringTags: number;
}

export function engineCensus(): EngineCensus {
  return { transmitters: transmitterCount(), ringTags: tagsInUse() };
}
