// The backend interface: how a transmitter hands one segment to the kernel and learns when the
// kernel let go of it. A backend object holds one socket's state for one way of sending.
import { constants } from 'node:os';
import type { WriteJob } from './job.js';

export type BackendName = 'uring' | 'msgzerocopy' | 'copy';

/**
 * One send call's bytes of a job: the kernel holds their memory until the segment's completion
 * (the seed's special mbuf referencing the aiotx_buffer at an offset).
 */
export interface Segment {
  readonly job: WriteJob;
  /** Where in the job's data it starts. */
  readonly offset: number;
  readonly length: number;
}

export const EAGAIN = -constants.errno.EAGAIN;
/** submit(): nothing can be submitted until release notifications are reaped. */
export const WAIT_RELEASE = -0x10000;
/** submit(): the segment is with the kernel; the backend reports back through BackendEvents. */
export const PENDING = -0x10001;

/** How a backend tells its transmitter about work that finished asynchronously. */
export interface BackendEvents {
  /** A send completed or a segment was released: the transmitter should pump again. */
  progress(): void;
  /** One zero-copy completion (the kernel's notification) arrived; `copied` when it had to copy after all. */
  completed(copied: boolean): void;
  /**
   * A send of `job` that the backend had already counted as accepted failed with `errno`; the
   * transmitter stops the job or closes. Called before any of the job's segments is released.
   */
  failed(job: WriteJob, errno: number): void;
}

export interface Backend {
  readonly name: BackendName;
  /**
   * Submits up to `length` bytes of `job` from `job.submitted`, recording them with
   * job.accepted() and, when the kernel is done with them, job.completed().
   * Returns the bytes accepted, EAGAIN (socket buffer full), WAIT_RELEASE, PENDING, or another -errno.
   */
  submit(job: WriteJob, length: number): number;
  /** Collects release notifications; returns how many arrived, or a -errno. */
  reap(): number;
  /** Segments the kernel still holds. */
  readonly unreleased: number;
  /** Segments accepted but not yet through their send call (a push of pending frames waits). */
  readonly sending: boolean;
}
