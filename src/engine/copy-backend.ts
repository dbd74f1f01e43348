// The copy backend: plain send(2). The kernel copies the bytes, so a segment is released the
// moment it is accepted. Always available.
import { addon } from '../native/addon.js';
import type { Backend } from './backend.js';
import type { WriteJob } from './job.js';

/** Most jobs one gathered send carries (the native side's iovec). */
export const GATHER_MAX = 64;
// Shared by every transmitter: a gather is filled and sent within one synchronous call.
const views: (ArrayBufferView | ArrayBuffer | undefined)[] = [];
const spans = new Float64Array(2 * GATHER_MAX);

export class CopyBackend implements Backend {
  readonly name = 'copy' as const;
  readonly unreleased = 0;
  readonly sending = false;

  constructor(private readonly fd: number) {}

  submit(job: WriteJob, length: number): number {
    const n = addon.send(this.fd, job.data, job.submitted, length, false);
    if (n > 0) {
      job.accepted(n);
      job.completed(n, true);
    }
    return n;
  }

  /**
   * Sends the rest of `jobs[0]` and all of `jobs[1..count)` in one sendmsg(2) (queued jobs of a
   * stream socket, in order), and credits the accepted bytes to them in that order.
   */
  submitGathered(jobs: readonly (WriteJob | null)[], count: number): number {
    for (let i = 0; i < count; i++) {
      const job = jobs[i]!;
      views[i] = job.data;
      spans[2 * i] = job.submitted;
      spans[2 * i + 1] = job.remaining;
    }
    const n = addon.sendGathered(this.fd, views, spans, count);
    views.fill(undefined, 0, count); // holds no caller's memory past the call
    let left = n;
    for (let i = 0; i < count && left > 0; i++) {
      const job = jobs[i]!;
      const take = Math.min(job.remaining, left);
      job.accepted(take);
      job.completed(take, true);
      left -= take;
    }
    return n;
  }

  reap(): number {
    return 0;
  }
}
