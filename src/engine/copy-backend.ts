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

// What sendv() reads, shared by every socket (one call at a time), and emptied as soon as it
// returned so it keeps no caller's memory alive.
const datas: (ArrayBufferView | ArrayBuffer | undefined)[] = [];
const lengths = new Float64Array(MAX_GATHER + 1);

export class CopyBackend implements Backend {
  readonly name = 'copy' as const;
  readonly unreleased = 0;
  readonly sending = false;
  /** The last sendGathered() found the socket full. */
  full = false;
  /** The jobs of the next gathered send, in queue order. */
  private readonly gathered: WriteJob[] = [];

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
    const n = this.gathered.length;
    if (n === MAX_GATHER) return false;
    this.gathered.push(job);
    datas.push(job.data);
    lengths[n] = job.remaining;
    return true;
  }

  /**
   * Sends the gathered jobs in order, each accepted and released as far as its bytes went.
   * Returns the bytes accepted (`full` tells whether the socket filled up), or a -errno met at
   * the first byte (EAGAIN: full).
   */
  sendGathered(): number {
    const gathered = this.gathered;
    const n = gathered.length;
    let r: number;
    try {
      r = addon.sendv(this.fd, datas, lengths, n, gathered[0]!.submitted);
    } catch (err) {
      gathered.length = 0;
      throw err;
    } finally {
      datas.length = 0;
    }
    this.full = lengths[n] === EAGAIN;
    let left = r;
    for (let i = 0; i < n && left > 0; i++) {
      const job = gathered[i]!;
      const take = left < job.remaining ? left : job.remaining;
      left -= take;
      job.accepted(take);
      job.completed(take, true);
    }
    gathered.length = 0;
    return r;
  }
}
