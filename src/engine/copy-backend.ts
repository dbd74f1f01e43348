// The copy backend: plain send(2). The kernel copies the bytes, so a segment is released the
// moment it is accepted. Always available.
//
// On a stream socket, consecutive queued copy jobs go out gathered: one sendmsg(2) with an iovec
// over their buffers (sendv), until they all went or the socket is full.
import { constants } from 'node:os';
import { addon, MAX_GATHER } from '../native/addon.js';
import type { Backend } from './backend.js';
import type { WriteJob } from './job.js';

const EAGAIN = -constants.errno.EAGAIN;

// The gather being built, shared by every socket (one is built and sent at a time, without
// yielding), in fixed arrays that are cleared after each send so they keep no caller's memory.
const jobs: (WriteJob | undefined)[] = new Array<undefined>(MAX_GATHER).fill(undefined);
const datas: (ArrayBufferView | ArrayBuffer | undefined)[] = new Array<undefined>(MAX_GATHER).fill(undefined);
const lengths = new Float64Array(MAX_GATHER + 1);
let count = 0;

export class CopyBackend implements Backend {
  readonly name = 'copy' as const;
  readonly unreleased = 0;
  readonly sending = false;
  /** The last sendGathered() found the socket full. */
  full = false;

  constructor(private readonly fd: number) {}

  submit(job: WriteJob, length: number): number {
    const n = addon.send(this.fd, job.data, job.submitted, length, false);
    if (n > 0) {
      job.accepted(n);
      job.completed(n, true);
    }
    return n;
  }

  reap(): number {
    return 0;
  }

  /** Adds a job (the first one may have started) to the next gathered send; false when full. */
  gather(job: WriteJob): boolean {
    if (count === MAX_GATHER) return false;
    jobs[count] = job;
    datas[count] = job.data;
    lengths[count] = job.remaining;
    count++;
    return true;
  }

  /**
   * Sends the gathered jobs in order, each accepted and released as far as its bytes went.
   * Returns the bytes accepted (`full` tells whether the socket filled up), or a -errno met at
   * the first byte (EAGAIN: full).
   */
  sendGathered(): number {
    const n = count;
    count = 0;
    const head = jobs[0]!;
    if (n === 1) {
      // One job: the plain send is the cheaper crossing.
      jobs[0] = datas[0] = undefined;
      const r = this.submit(head, head.remaining);
      this.full = r > 0 && head.remaining > 0;
      return r;
    }
    let r: number;
    try {
      r = addon.sendv(this.fd, datas, lengths, n, head.submitted);
    } catch (err) {
      for (let i = 0; i < n; i++) jobs[i] = undefined;
      throw err;
    } finally {
      for (let i = 0; i < n; i++) datas[i] = undefined;
    }
    this.full = lengths[n] === EAGAIN;
    let left = r;
    for (let i = 0; i < n; i++) {
      const job = jobs[i]!;
      jobs[i] = undefined;
      if (left <= 0) continue;
      const take = left < job.remaining ? left : job.remaining;
      left -= take;
      job.accepted(take);
      job.completed(take, true);
    }
    return r;
  }
}
