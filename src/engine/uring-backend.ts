// The io_uring backend: IORING_OP_SEND_ZC. Each send gets two completions: the send result
// (with IORING_CQE_F_MORE) and, once the kernel let go of the pages, the notification (F_NOTIF),
// whose res says whether it copied after all.
//
// Several sends per socket are with the kernel at once, in order. Segments staged while a chain
// is out wait; once every send of that chain has its send CQE (notifications may still be
// outstanding), they go out as the next chain, linked with IOSQE_IO_LINK so the kernel runs them
// one after the other. On a stream socket each send has MSG_WAITALL: the kernel retries a partial
// send itself, because a short result would not break the link; so a short result means the
// send failed part way. A failure cancels the rest of its chain (-ECANCELED, nothing sent): those
// segments, and the unsent rest of a short one, go out again first, unless their job was stopped.
import { constants } from 'node:os';
import { PENDING, type Channel, type ChannelEvents } from './backend.js';
import type { WriteJob } from './job.js';
import { CQE_F_MORE, CQE_F_NOTIF, ENTRY_LINK, ENTRY_WAITALL, MAX_CHAIN, NOTIF_USAGE_ZC_COPIED, Segment, requestFlush, stage, type Sender } from './uring-ring.js';

const ECANCELED = -constants.errno.ECANCELED;
const EFAULT = -constants.errno.EFAULT;
/** Stream sockets: bytes per send (a datagram job is always one send). */
const STREAM_SEGMENT = 1 << 20;
/** Bytes per socket waiting for a chain or in one (at least one segment is always allowed). */
const MAX_BYTES = 8 << 20;

export class UringChannel implements Channel, Sender {
  readonly name = 'uring' as const;
  flushRequested = false;
  touched = false;
  /** Segments for the next chain, in order. */
  private pending: Segment[] = [];
  /** The chain with the kernel, in order, until every send in it has its send CQE. */
  private chain: Segment[] = [];
  /** Sends of the chain still without their send CQE. */
  private open = 0;
  /** Bytes in pending and chain. */
  private bytes = 0;
  /** Segments not yet released: pending, sending, or awaiting their notification. */
  private held = 0;
  private readonly sendFlags: number;

  constructor(
    readonly fd: number,
    private readonly events: ChannelEvents,
    private readonly stream: boolean,
  ) {
    this.sendFlags = stream ? ENTRY_WAITALL : 0;
  }

  get unreleased(): number {
    return this.held;
  }

  get sending(): boolean {
    return this.pending.length + this.chain.length > 0;
  }

  /** Stages a segment; the job counts it as accepted now (the channel sees it through). */
  submit(job: WriteJob, length: number): number {
    if (this.pending.length + this.chain.length >= MAX_CHAIN || this.bytes >= MAX_BYTES) return PENDING;
    const n = this.stream && length > STREAM_SEGMENT ? STREAM_SEGMENT : length;
    const segment = new Segment(this, job, job.submitted, n);
    job.accepted(n);
    this.held++;
    this.bytes += n;
    this.pending.push(segment);
    if (this.chain.length === 0) requestFlush(this);
    return n;
  }

  /** Completions are pushed by the ring; nothing to collect. */
  reap(): number {
    return 0;
  }

  emit(room: number): void {
    if (this.chain.length > 0) return; // the next chain waits for this one's send CQEs
    const pending = this.pending;
    const chain = this.chain;
    const max = room < MAX_CHAIN ? room : MAX_CHAIN;
    let taken = 0;
    while (taken < pending.length && chain.length < max) {
      const segment = pending[taken++]!;
      const job = segment.job;
      if (!job.isStopped && segment.offset + segment.length > job.data.byteLength) {
        // Detached or shrunk since it was staged: the kernel must not read it.
        this.events.failed(job, EFAULT);
      }
      if (job.isStopped) {
        this.bytes -= segment.length;
        this.release(segment, 0, true);
      } else {
        chain.push(segment);
      }
    }
    if (taken === pending.length) pending.length = 0;
    else pending.splice(0, taken);
    const last = chain.length - 1;
    for (let i = 0; i <= last; i++) stage(chain[i]!, i < last ? this.sendFlags | ENTRY_LINK : this.sendFlags);
    this.open = chain.length;
  }

  completion(segment: Segment, res: number, flags: number): void {
    if (flags & CQE_F_NOTIF) {
      const sent = segment.res > 0 ? segment.res : 0;
      const copied = (res & NOTIF_USAGE_ZC_COPIED) !== 0;
      if (sent > 0) this.events.notification(copied);
      this.release(segment, sent, copied);
      return;
    }
    segment.res = res;
    this.open--;
    // The job hears a failure before any of its segments is released, so it cannot resolve.
    if (res < 0 && res !== ECANCELED) this.events.failed(segment.job, res);
    else if (res < segment.length) {
      // Cancelled, or a stream send that failed part way: the rest goes out again.
      const sent = res > 0 ? res : 0;
      segment.retry = new Segment(this, segment.job, segment.offset + sent, segment.length - sent);
      segment.job.resending(sent > 0);
      this.held++;
    }
    if (!(flags & CQE_F_MORE)) this.release(segment, res > 0 ? res : 0, true);
  }

  completionsDone(): void {
    if (this.chain.length > 0 && this.open === 0) this.chainDone();
    this.events.progress();
  }

  /** Every send of the chain completed: what must go out again goes first, then the next chain. */
  private chainDone(): void {
    const chain = this.chain;
    let retries: Segment[] | null = null;
    let failed = false;
    for (const segment of chain) {
      this.bytes -= segment.length;
      if (segment.res < 0 && segment.res !== ECANCELED) failed = true;
      else if (segment.res > 0 && segment.res < segment.length) failed = true;
      const retry = segment.retry;
      if (retry === null) continue;
      segment.retry = null;
      if (!failed && !retry.job.isStopped) {
        // Cancelled with no failure before it (the ring going away): never loop on it.
        this.events.failed(retry.job, ECANCELED);
      }
      if (retry.job.isStopped) {
        this.release(retry, 0, true);
      } else {
        this.bytes += retry.length;
        (retries ??= []).push(retry);
      }
    }
    chain.length = 0;
    if (retries !== null) this.pending = retries.concat(this.pending);
    if (this.pending.length > 0) requestFlush(this);
  }

  private release(segment: Segment, sent: number, copied: boolean): void {
    this.held--;
    segment.job.released(sent, copied);
  }
}
