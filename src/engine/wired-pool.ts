// The wired buffer pool: the seed's wired pages, done once. A pool's memory is registered with
// the io_uring ring (IORING_REGISTER_BUFFERS_UPDATE), so writes from it skip per-send pinning
// (IORING_RECVSEND_FIXED_BUF). A buffer with a job in flight can be neither handed out again
// nor written by another job: the kernel may still be reading it.
import { getSystemErrorName } from 'node:util';
import { memlockCause, selectBackend } from './capabilities.js';
import { rangeError, stateError } from './errors.js';
import type { WriteJob } from './job.js';
import { allocateSlots, bufferSlots, freeSlotCount, freeSlots, registerBuffers, unregisterBuffers } from './uring-ring.js';

const pools = new WeakMap<ArrayBuffer, WiredPool>();

/**
 * Pools dropped without close(): once collected (no buffer of theirs reachable, so no job in
 * flight), their table slots are freed and the kernel unpins their pages.
 */
const unclosed = new FinalizationRegistry<{ base: number; count: number }>(({ base, count }) => {
  unregisterBuffers(base, count);
  freeSlots(base);
});

export class WiredPool {
  readonly memory: ArrayBuffer;
  /** First ring table slot of this pool's buffers, or -1 when not wired. */
  private readonly slotBase: number;
  /** Why the pool is not wired, or null. */
  readonly reason: string | null;
  private readonly inFlight: Uint8Array;
  /** Per buffer, the view acquire() handed out, until released: release() must get that one. */
  private readonly out: (Buffer | null)[];
  /** Per buffer, the settlement hook that frees it (made once, not per job). */
  private readonly releasers: ((() => void) | undefined)[];
  private closed = false;

  constructor(
    readonly size: number,
    readonly count: number,
  ) {
    this.memory = new ArrayBuffer(size * count);
    this.inFlight = new Uint8Array(count);
    this.out = new Array<null>(count).fill(null);
    this.releasers = new Array<undefined>(count).fill(undefined);
    const { slotBase, reason } = this.wire();
    this.slotBase = slotBase;
    this.reason = reason;
    pools.set(this.memory, this);
    if (slotBase >= 0) unclosed.register(this, { base: slotBase, count }, this);
  }

  private wire(): { slotBase: number; reason: string | null } {
    const selection = selectBackend();
    const backend = selection.zeroCopy;
    if (backend !== 'uring') {
      // Say why io_uring is not used (RLIMIT_MEMLOCK, seccomp...) unless AIOTX_BACKEND chose another.
      const uring = selection.forced ? null : selection.statuses.uring;
      const why = uring && !uring.available ? ` (io_uring is unavailable: ${uring.reason})` : '';
      return { slotBase: -1, reason: `zero-copy writes use the ${backend} backend here, which has no registered buffers${why}` };
    }
    const total = bufferSlots();
    if (total < 0) return { slotBase: -1, reason: `io_uring has no buffer table here: ${failure(total)}` };
    const base = allocateSlots(this.count);
    if (base < 0) {
      return {
        slotBase: -1,
        reason: `the io_uring buffer table is full: this pool needs ${this.count} consecutive slots, ${freeSlotCount()} of ${total} are free (close() pools no longer used)`,
      };
    }
    const r = registerBuffers(this.memory, base, this.size, this.count);
    if (r < 0) {
      freeSlots(base);
      return { slotBase: -1, reason: `registering ${this.count} buffers of ${this.size} bytes failed: ${failure(r)}` };
    }
    return { slotBase: base, reason: null };
  }

  get wired(): boolean {
    return this.slotBase >= 0;
  }

  get available(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (!this.out[i] && !this.inFlight[i]) n++;
    return n;
  }

  /** A fresh view per hand-out, so that a holder's stale view can never release a later holder's. */
  acquire(): Buffer | null {
    this.checkOpen();
    for (let i = 0; i < this.count; i++) {
      if (!this.out[i] && !this.inFlight[i]) return (this.out[i] = Buffer.from(this.memory, i * this.size, this.size));
    }
    return null;
  }

  release(buffer: Uint8Array): void {
    const i = this.indexOf(buffer, buffer.byteLength);
    if (i < 0 || buffer.byteOffset !== i * this.size) throw rangeError('release: this buffer does not come from this pool (pass the one acquire() gave)', 'ERR_INVALID_ARG_VALUE');
    if (this.out[i] !== buffer) {
      throw stateError('release: this buffer is not out (released already, or not the object acquire() returned)', 'ERR_AIOTX_BUFFER_NOT_ACQUIRED');
    }
    if (this.inFlight[i]) throw stateError('release: the buffer has a job in flight; wait for its promise', 'ERR_AIOTX_BUFFER_BUSY');
    this.out[i] = null;
  }

  close(): void {
    if (this.closed) return;
    if (this.inFlight.some((b) => b === 1)) throw stateError('close: buffers of this pool have jobs in flight', 'ERR_AIOTX_BUFFER_BUSY');
    this.closed = true;
    if (this.slotBase >= 0) {
      unclosed.unregister(this);
      unregisterBuffers(this.slotBase, this.count);
      freeSlots(this.slotBase);
    }
  }

  /** Marks the buffer under `job` busy until the job settles, and tells the job its slot. */
  claim(job: WriteJob, view: ArrayBufferView | ArrayBuffer): void {
    this.checkOpen();
    const i = this.indexOf(view, view.byteLength);
    if (i < 0) throw rangeError(`aioWrite: data spans more than one buffer of its pool (buffers are ${this.size} bytes)`);
    if (this.inFlight[i]) throw stateError('aioWrite: this pool buffer already has a job in flight; wait for its promise before reusing it', 'ERR_AIOTX_BUFFER_BUSY');
    this.inFlight[i] = 1;
    job.wiredSlot = this.slotBase >= 0 ? this.slotBase + i : -1;
    job.onFinish = this.releasers[i] ??= () => (this.inFlight[i] = 0);
  }

  /** Index of the buffer wholly containing [byteOffset, byteOffset + length), or -1. */
  private indexOf(view: ArrayBufferView | ArrayBuffer, length: number): number {
    const offset = ArrayBuffer.isView(view) ? view.byteOffset : 0;
    const i = Math.floor(offset / this.size);
    return i < this.count && offset + length <= (i + 1) * this.size && (!ArrayBuffer.isView(view) || view.buffer === this.memory) ? i : -1;
  }

  private checkOpen(): void {
    if (this.closed) throw stateError('the buffer pool is closed', 'ERR_AIOTX_POOL_CLOSED');
  }
}

/** An errno from ring setup or pinning, with RLIMIT_MEMLOCK named when it is the cause. */
function failure(negErrno: number): string {
  const name = getSystemErrorName(negErrno);
  const memlock = name === 'ENOMEM' ? memlockCause() : null;
  return memlock ? `${name}: ${memlock}` : name;
}

/** The pool whose memory this is (a write's data.buffer, or the ArrayBuffer itself), if any. */
export function poolOf(memory: ArrayBuffer): WiredPool | undefined {
  return pools.get(memory);
}
