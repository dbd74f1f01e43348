// The io_uring backend: IORING_OP_SEND_ZC. Each send gets two completions: the send result
// (with IORING_CQE_F_MORE) and, once the kernel let go of the pages, the notification (F_NOTIF),
// whose res says whether it copied after all, read through stacked notifications (NotifRun).
//
// Several sends per socket are with the kernel at once, in order. Segments staged while a chain
// is out wait; once every send of that chain has its send CQE (notifications may still be
// outstanding), they go out as the next chain, linked with IOSQE_IO_LINK so the kernel runs them
// one after the other (a link costs the kernel a task_work round per send, ~0.4 us on the sink
// rig; see unlinkedPrefix for the datagram sends that need none). On a stream socket each send
// has MSG_WAITALL: the kernel retries a partial
// send itself, because a short result would not break the link; so a short result means the
// send failed part way. A failure cancels the rest of its chain (-ECANCELED, nothing sent): those
// segments, and the unsent rest of a short one, go out again first, unless their job was stopped.
//
// Zero-copy degrades to copy (IORING_OP_SEND through the same ring, so order holds), never failing
// the stream: for good on a socket without zero-copy support (EOPNOTSUPP: AF_UNIX...), and per
// segment when its pages cannot be pinned (ENOMEM: RLIMIT_MEMLOCK) and this socket holds no pinned
// pages whose release could make room; while it holds some, the segment waits for a release and
// tries zero-copy again. Copied bytes count in the job's copiedBytes.
//
// Notifications do not come in send order: stacked ones (a send appended to an earlier send's
// tail skb is linked into that send's notification) complete head first, then the linked sends
// newest first. Releases are therefore handed to jobs in send order only, up to the first send
// the kernel still holds, so jobs on a socket settle in call order (as MsgZerocopyBackend does).
import { constants } from 'node:os';
import { addon } from '../native/addon.js';
import { PENDING, type Backend, type BackendEvents } from './backend.js';
import { CopyBackend } from './copy-backend.js';
import { SegmentQueue } from './segment-queue.js';
import type { WriteJob } from './job.js';
import {
  CQE_F_MORE,
  CQE_F_NOTIF,
  ENTRY_LINK,
  ENTRY_WAITALL,
  MAX_CHAIN,
  NOTIF_USAGE_ZC_COPIED,
  UringSegment,
  TAKEN_BACK,
  completionPosition,
  requestFlush,
  stage,
  startRing,
  type Sender,
} from './uring-ring.js';

const ECANCELED = -constants.errno.ECANCELED;
const EFAULT = -constants.errno.EFAULT;
const ENOMEM = -constants.errno.ENOMEM;
const EOPNOTSUPP = -constants.errno.EOPNOTSUPP;
/** Stream sockets: bytes per send (a datagram job is always one send). */
const STREAM_SEGMENT = 1 << 20;
/** Bytes per socket waiting for a chain or in one (at least one segment is always allowed). */
const MAX_BYTES = 8 << 20;
const PAGE = addon.pageSize();
/**
 * What one datagram of `length` bytes may add to its socket's held bytes (sk_wmem_alloc) at most:
 * every page its bytes touch, whole (a registered buffer's frags are charged page-aligned: a
 * 1400-byte wired buffer across a 4 KiB page boundary holds 8 KiB of pages), and per skb the skb's own memory.
 * Measured on kernel 6.18 through a tbf qdisc, the datagram cut into 1472-byte GSO segments in
 * software: 65,000 bytes held 102,440, 832 per segment over the payload. Counted here as one skb
 * per 1,200 bytes (or per GSO segment, when smaller) plus one, 2 KiB each.
 */
export function datagramCharge(length: number, segmentSize: number): number {
  const unit = segmentSize > 0 && segmentSize < 1200 ? segmentSize : 1200;
  return (Math.ceil(length / PAGE) + 1) * PAGE + (Math.ceil(length / unit) + 1) * 2048;
}

export class UringBackend implements Backend, Sender {
  /** Sends staged without a link to the next send of their chain (for tests and diagnostics). */
  static unlinked = 0;
  readonly name = 'uring' as const;
  flushRequested = false;
  touched = false;
  /** Segments for the next chain, in order. */
  private pending = new SegmentQueue<UringSegment>();
  /** The chain with the kernel, in order, until every send in it has its send CQE. */
  private readonly chain = new SegmentQueue<UringSegment>();
  /** Sends of the chain still without their send CQE. */
  private open = 0;
  /** Bytes in pending and chain. */
  private bytes = 0;
  /** Segments not yet released: pending, sending, or awaiting their notification. */
  private held = 0;
  /** Sends whose notification is still to come (the kernel holds their pages). */
  private notifying = 0;
  /** SEND_ZC is unsupported on this socket: every segment is a copy send. */
  private copyOnly = false;
  /** A send could not pin its pages while notifications were due: the next chain waits for one. */
  private starved = false;
  /** The ring could not start (after the probe said it could): sends copy, directly. */
  private readonly direct: CopyBackend | null;
  private readonly sendFlags: number;
  /** Sends staged on this socket so far: each segment's `order`. */
  private sendOrder = 0;
  /**
   * Staged segments in send order, from the oldest whose release its job has not heard of yet;
   * `segment.released` once its last CQE came.
   */
  private readonly ledger = new SegmentQueue<UringSegment>();
  private readonly notifs = new NotifRun();

  constructor(
    readonly fd: number,
    private readonly events: BackendEvents,
    private readonly stream: boolean,
  ) {
    this.sendFlags = stream ? ENTRY_WAITALL : 0;
    this.direct = startRing() < 0 ? new CopyBackend(fd) : null;
  }

  get unreleased(): number {
    return this.held;
  }

  get sending(): boolean {
    return this.pending.length + this.chain.length > 0;
  }

  /** Stages a segment; the job counts it as accepted now (the backend sees it through). */
  submit(job: WriteJob, length: number): number {
    if (this.direct) return this.direct.submit(job, length);
    if (this.pending.length + this.chain.length >= MAX_CHAIN || this.bytes >= MAX_BYTES) return PENDING;
    const n = this.stream && length > STREAM_SEGMENT ? STREAM_SEGMENT : length;
    const segment = new UringSegment(this, job, job.submitted, n);
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
    if (this.chain.length > 0 || this.starved) return; // the next chain waits for this one's send CQEs
    const pending = this.pending;
    const chain = this.chain;
    const max = room < MAX_CHAIN ? room : MAX_CHAIN;
    while (pending.length > 0 && chain.length < max) {
      const segment = pending.shift();
      const job = segment.job;
      if (!job.isStopped && segment.offset + segment.length > byteLength(job.data)) {
        // Detached or shrunk since it was staged: the kernel must not read it.
        this.events.failed(job, EFAULT);
      }
      if (job.isStopped) {
        this.bytes -= segment.length;
        this.complete(segment, 0, true);
      } else {
        segment.copy ||= this.copyOnly;
        chain.push(segment);
      }
    }
    const last = chain.length - 1;
    const unlinked = last > 0 && !this.stream ? this.unlinkedPrefix() : 0;
    UringBackend.unlinked += unlinked > last ? last : unlinked;
    for (let i = 0; i <= last; i++) {
      const segment = chain.at(i);
      segment.order = ++this.sendOrder;
      segment.unlinked = i < unlinked && i < last;
      this.ledger.push(segment);
      stage(segment, i < last && i >= unlinked ? this.sendFlags | ENTRY_LINK : this.sendFlags);
    }
    this.open = chain.length;
  }

  /**
   * How many of the chain's first sends need no link to keep their order: a datagram send is
   * issued at once in submission order and completes there unless it meets a full socket (EAGAIN,
   * then the kernel waits for room and the sends after it would overtake it). A UDP send meets a
   * full socket only when the bytes the socket holds have reached SO_SNDBUF as it starts, and
   * nothing else adds to them while the submission runs (this thread submits), so the sends are
   * safe while the room measured now exceeds what the sends before them may add. The rest of the
   * chain stays linked, behind them; the first unsafe send heads it. Only wired zero-copy sends
   * qualify: nothing of theirs is retried (pinning cannot fail), so no later send can pass them.
   */
  private unlinkedPrefix(): number {
    const chain = this.chain;
    let qualifying = 0;
    while (qualifying < chain.length && chain.at(qualifying).job.wiredSlot >= 0 && !chain.at(qualifying).copy) qualifying++;
    if (qualifying === 0) return 0;
    let room = addon.sendRoom(this.fd);
    let safe = 0;
    while (safe < qualifying && room > 0) {
      const segment = chain.at(safe++);
      room -= datagramCharge(segment.length, segment.job.segmentSize);
    }
    return safe;
  }

  completion(segment: UringSegment, res: number, flags: number): void {
    if (flags & CQE_F_NOTIF) {
      this.notifying--;
      const sent = segment.res > 0 ? segment.res : 0;
      const copied = this.notifs.copied(segment.order, (res & NOTIF_USAGE_ZC_COPIED) !== 0, completionPosition(), sent > 0);
      if (sent > 0) this.events.completed(copied);
      this.release(segment, sent, copied);
      if (this.starved) {
        this.starved = false;
        if (this.pending.length > 0) requestFlush(this);
      }
      return;
    }
    segment.res = res;
    this.open--;
    if (flags & CQE_F_MORE) this.notifying++;
    // The job hears a failure before any of its segments is released, so it cannot resolve.
    if (res < 0 && !this.sendsAgain(segment, res)) this.events.failed(segment.job, res);
    else if (res < segment.length) {
      // Not sent, or a stream send that failed part way: the rest goes out again.
      const sent = res > 0 ? res : 0;
      const retry = new UringSegment(this, segment.job, segment.offset + sent, segment.length - sent);
      retry.copy = segment.copy;
      segment.retry = retry;
      segment.job.resending(sent > 0);
      this.held++;
    }
    if (!(flags & CQE_F_MORE)) this.release(segment, res > 0 ? res : 0, true);
  }

  /**
   * A send that failed without failing its job: cancelled, not taken, or zero-copy refused. Not
   * for an unlinked send that the kernel took: sends after it may have gone already.
   */
  private sendsAgain(segment: UringSegment, res: number): boolean {
    if (res === TAKEN_BACK) return true;
    if (segment.unlinked) return false;
    if (res === ECANCELED) return true;
    if (segment.copy) return false;
    if (res === EOPNOTSUPP) this.copyOnly = true;
    return res === EOPNOTSUPP || res === ENOMEM;
  }

  completionsDone(): void {
    if (this.chain.length > 0 && this.open === 0) this.chainDone();
    this.events.progress();
  }

  /** Every send of the chain completed: what must go out again goes first, then the next chain. */
  private chainDone(): void {
    const chain = this.chain;
    let retries: UringSegment[] | null = null;
    // A send that failed, or fell short, cancels the rest of the chain; one whose preparation
    // failed (ENOMEM accounting pinned pages) cancels those before it too.
    let cause = false;
    for (let i = 0; i < chain.length && !cause; i++) {
      const s = chain.at(i);
      cause = (s.res < 0 && s.res !== ECANCELED) || (s.res > 0 && s.res < s.length);
    }
    while (chain.length > 0) {
      const segment = chain.shift();
      this.bytes -= segment.length;
      const retry = segment.retry;
      if (retry === null) continue;
      segment.retry = null;
      if (!cause && !retry.job.isStopped) {
        // Cancelled with no cause in its chain (the ring going away): never loop on it.
        this.events.failed(retry.job, ECANCELED);
      }
      if (retry.job.isStopped) {
        this.complete(retry, 0, true);
        continue;
      }
      // Pages it could not pin: wait for a release of this socket's, else copy it.
      if (segment.res === ENOMEM && !segment.copy) {
        if (this.notifying > 0) this.starved = true;
        else retry.copy = true;
      }
      this.bytes += retry.length;
      (retries ??= []).push(retry);
    }
    if (retries !== null) {
      const later = this.pending;
      this.pending = new SegmentQueue<UringSegment>();
      for (const retry of retries) this.pending.push(retry);
      while (later.length > 0) this.pending.push(later.shift());
    }
    if (this.pending.length > 0 && !this.starved) requestFlush(this);
  }

  /** Tells the job: directly for a segment never staged (its job stopped first), else through deliver(). */
  private complete(segment: UringSegment, sent: number, copied: boolean): void {
    this.held--;
    segment.job.completed(sent, copied);
  }

  /** The last CQE of a staged segment came: the kernel let go of it. */
  private release(segment: UringSegment, sent: number, copied: boolean): void {
    segment.released = true;
    segment.sent = sent;
    segment.copiedBack = copied;
    this.deliver();
  }

  /** Hands releases to their jobs in send order, up to the first segment the kernel still holds. */
  private deliver(): void {
    const ledger = this.ledger;
    while (ledger.length > 0 && ledger.at(0).released) {
      const segment = ledger.shift();
      this.complete(segment, segment.sent, segment.copiedBack);
    }
  }
}

/** Bytes of `data` now: 0 once detached (a DataView's byteLength throws then). */
function byteLength(data: ArrayBufferView | ArrayBuffer): number {
  try {
    return data.byteLength;
  } catch {
    return 0;
  }
}

/**
 * What IORING_NOTIF_USAGE_ZC_COPIED in a notification's res means, and does not (io_uring/notif.c,
 * kernel 6.10 and later). The kernel sets it when `zc_copied || !zc_used`: some skb that referenced
 * this notification was copied, or none was sent zero-copy referencing it. Since notifications
 * stack (io_link_skb), the second case is common: when a send's bytes are appended to the socket's
 * tail skb, which already references an earlier send's notification, that skb keeps the earlier
 * one and the new notification is linked into its chain. A send whose bytes all went into such an
 * skb (Nagle on, 32 KiB writes into a 64 KiB skb) has no skb of its own, so it is flagged COPIED
 * although its bytes left zero-copy; measured on the TCP sink rig, 46-49 % of 32 KiB sends, with
 * 0 % on MSG_ZEROCOPY and on the C floor. The flag never says which of a chain's skbs copied.
 *
 * A chain's notifications complete together, as consecutive CQEs, each right after the
 * notification whose skb it joined or after later sends linked there (list insertion), so the
 * nearest earlier CQE of the run with an earlier send is that owner, and its flag covers the
 * shared skb. A flagged notification whose owner says "not copied" counts as zero-copy. What this
 * cannot tell: on a path that copies some sends and not others, a copied send whose notification
 * follows a zero-copy one in the same run of CQEs (linked with skbs of its own, or the head of the
 * next chain) counts as zero-copy. A flagged notification with no earlier send in its run counts
 * as copied, so a chain split over two reads over-reports copies, never hides them. Loopback and
 * other local delivery copy every skb, so every notification there still reads as copied.
 */
export class NotifRun {
  /** Flagged COPIED by the kernel, counted as zero-copy here (for tests and diagnostics). */
  static stacked = 0;
  /** The run's sends that sent bytes so far: orders[0..count), flags[0..count). */
  private readonly orders = new Float64Array(64);
  private readonly flags = new Uint8Array(64);
  private count = 0;
  private last = -2;

  /**
   * One notification CQE: its send's order on the socket, the kernel's flag, the CQE's position
   * (completionPosition()), whether its send sent any byte. Returns whether its bytes count as copied.
   */
  copied(order: number, flagged: boolean, position: number, sent: boolean): boolean {
    if (position !== this.last + 1 || this.count === 64) this.count = 0;
    this.last = position;
    let copied = flagged;
    if (flagged) {
      for (let i = this.count - 1; i >= 0; i--) {
        if (this.orders[i]! < order) {
          copied = this.flags[i] === 1;
          break;
        }
      }
      if (!copied) NotifRun.stacked++;
    }
    // Its own flag: a send that can own others' bytes has skbs of its own, so its flag is about them.
    if (sent) {
      this.orders[this.count] = order;
      this.flags[this.count++] = flagged ? 1 : 0;
    }
    return copied;
  }
}
