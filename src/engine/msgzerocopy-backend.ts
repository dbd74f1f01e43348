// The MSG_ZEROCOPY backend: send(2) with MSG_ZEROCOPY pins the caller's pages; the kernel later
// posts one notification id per successful send call on the socket's error queue, as inclusive
// ranges [lo, hi], flagged COPIED when it had to copy after all (always so on loopback).
//
// Notifications can arrive out of id order: when the peer resets, the kernel purges the write
// queue and notifies those sends at once, while an earlier send's skb is still referenced on its
// way through the stack and is notified later (seen here: [22, 29] before [21, 21]). Releases are
// therefore delivered to jobs in id order only, so jobs settle in call order, and a job the
// transmitter stopped because the connection failed is never overtaken by a later job resolving.
import { constants } from 'node:os';
import { addon } from '../native/addon.js';
import { WAIT_RELEASE, type Backend, type BackendEvents, type Segment } from './backend.js';
import { CopyBackend } from './copy-backend.js';
import type { WriteJob } from './job.js';
import { SegmentQueue } from './segment-queue.js';

const ENOBUFS = -constants.errno.ENOBUFS;
const RECORDS = 64;
const records = new Uint32Array(RECORDS * 3);

export class MsgZerocopyBackend implements Backend {
  readonly name = 'msgzerocopy' as const;
  readonly sending = false;
  /**
   * Segments in id order, from the oldest not yet delivered to the last send, whose id is
   * nextId - 1; `segment.release` once the kernel's notification for it came.
   */
  private readonly ledger = new SegmentQueue<HeldSegment>();
  private nextId = 0;
  /**
   * Ids count per socket from 0 and cannot be read back. When another user (or an earlier
   * transmitter) already sent with MSG_ZEROCOPY, one segment goes out alone and its
   * notification tells where the count stands.
   */
  private idKnown: boolean;
  private unsynced: Segment | null = null;
  /** ENOBUFS (optmem_max or RLIMIT_MEMLOCK reached) while segments are held: wait for releases. */
  private starved = false;
  private readonly fallback: CopyBackend;

  private constructor(
    private readonly fd: number,
    nextId: number | null,
    private readonly events: BackendEvents,
  ) {
    this.idKnown = nextId !== null;
    this.nextId = nextId ?? 0;
    this.fallback = new CopyBackend(fd);
  }

  /**
   * Enables SO_ZEROCOPY; returns the backend or the -errno why this socket cannot have one.
   * `knownNextId`: where the id count stands, when an earlier transmitter on this socket said.
   */
  static open(fd: number, alreadyEnabled: boolean, knownNextId: number | null, events: BackendEvents): MsgZerocopyBackend | number {
    if (!alreadyEnabled) {
      const r = addon.enableZerocopy(fd);
      if (r < 0) return r;
      return new MsgZerocopyBackend(fd, 0, events);
    }
    if (knownNextId === null) {
      // Notifications left from before are not ours: drop them so the first one read is.
      while (addon.drainZerocopy(fd, records) === RECORDS);
    }
    return new MsgZerocopyBackend(fd, knownNextId, events);
  }

  /** The id the next send will get, or null while unknown. */
  get nextIdIfKnown(): number | null {
    return this.idKnown ? this.nextId : null;
  }

  /** Includes segments the kernel released while an earlier one is still held (not yet delivered). */
  get unreleased(): number {
    return this.ledger.length + (this.unsynced ? 1 : 0);
  }

  submit(job: WriteJob, length: number): number {
    if (this.starved || this.unsynced) return WAIT_RELEASE;
    const n = addon.send(this.fd, job.data, job.submitted, length, true);
    if (n === ENOBUFS) {
      if (this.unreleased > 0) {
        this.starved = true;
        return WAIT_RELEASE;
      }
      // Nothing held whose release could free pinned memory: copy this segment rather than stall.
      return this.fallback.submit(job, length);
    }
    if (n > 0) {
      const segment: HeldSegment = { job, offset: job.submitted, length: n, release: Release.No };
      job.accepted(n);
      if (this.idKnown) {
        this.ledger.push(segment);
        this.nextId = (this.nextId + 1) >>> 0;
      } else {
        this.unsynced = segment;
      }
    }
    return n;
  }

  reap(): number {
    let total = 0;
    for (;;) {
      const count = addon.drainZerocopy(this.fd, records);
      if (count < 0) return count;
      for (let i = 0; i < count; i++) {
        this.completeRange(records[i * 3]!, records[i * 3 + 1]!, records[i * 3 + 2] === 1);
      }
      total += count;
      if (count < RECORDS) break;
    }
    if (total > 0) this.starved = false;
    return total;
  }

  private completeRange(lo: number, hi: number, copied: boolean): void {
    this.events.completed(copied);
    if (!this.idKnown) {
      this.idKnown = true;
      this.nextId = (hi + 1) >>> 0;
      const segment = this.unsynced;
      this.unsynced = null;
      segment?.job.completed(segment.length, copied);
      return;
    }
    const pending = this.ledger.length;
    const first = (this.nextId - pending) >>> 0;
    // Signed distances from the oldest held id; ids outside [first, nextId) are not ours (an
    // earlier user's) or delivered already.
    const from = Math.max((lo - first) | 0, 0);
    const to = Math.min((hi - first) | 0, pending - 1);
    const mark = copied ? Release.Copied : Release.ZeroCopy;
    for (let i = from; i <= to; i++) this.ledger.at(i).release = mark;
    this.deliver();
  }

  /** Hands releases to their jobs in id order, up to the first segment the kernel still holds. */
  private deliver(): void {
    const ledger = this.ledger;
    while (ledger.length > 0 && ledger.at(0).release !== Release.No) {
      const segment = ledger.shift();
      segment.job.completed(segment.length, segment.release === Release.Copied);
    }
  }
}

/** A segment sent, with what its notification said (No: none yet). */
interface HeldSegment extends Segment {
  release: Release;
}

const enum Release {
  No,
  ZeroCopy,
  Copied,
}
