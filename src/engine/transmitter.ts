// The per-socket transmitter: jobs in call order, cut into segments as the socket buffer frees,
// handed to a backend, settled when the kernel releases their last segment.
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { addon } from '../native/addon.js';
import { Demotion } from '../policy/demotion.js';
import { decide, type SocketFacts } from '../policy/zero-copy-policy.js';
import { EAGAIN, PENDING, WAIT_RELEASE, type Backend, type BackendEvents } from './backend.js';
import { selectBackend } from './capabilities.js';
import { CopyBackend, GATHER_MAX } from './copy-backend.js';
import { errnoError, stateError, typeError, type AiotxError } from './errors.js';
import { DETACHED, FileJob, WriteJob, type Job } from './job.js';
import { MsgZerocopyBackend } from './msgzerocopy-backend.js';
import { UringBackend } from './uring-backend.js';
import * as poller from './poller.js';

const EFAULT = -constants.errno.EFAULT;
const EPOLLERR = 0x008;
const EMPTY = Buffer.alloc(0);
/** At least the largest TCP MSS (loopback's 65483, rounded up): Nagle's held frame is shorter. */
const NAGLE_TAIL = 65536;
/** Jobs walked back from the newest before assuming the oldest may be held (a push is always safe). */
const NAGLE_WALK = 64;
/** sendfileAll's out-flag: 1 when it stopped because the socket was full. */
const sendfileState = new Int32Array(1);

/** Errors of sendfile(2) that belong to the file, not the socket: they end that job only. */
const FILE_ERRORS = new Set(['EIO', 'EINVAL', 'EBADF', 'EOVERFLOW', 'ESPIPE', 'EISDIR', 'ENXIO'].map((n) => -constants.errno[n as keyof typeof constants.errno]));

/** Errors that end a datagram socket; any other fails only the datagram that met it. */
const SOCKET_ERRORS = new Set(['EBADF', 'ENOTCONN', 'ENOTSOCK', 'EPIPE'].map((n) => -constants.errno[n as keyof typeof constants.errno]));

/** Where the transmitter's fd came from. */
export interface Origin {
  /** The net.Socket it serves, if any; its 'close' ends the transmitter. */
  socket?: Socket;
  /** Serves a socket object until it closes; else (a raw fd) it retires soon after going idle. */
  persistent: boolean;
  /** A datagram socket: one job is one datagram (or one GSO super-datagram), never split. */
  datagram: boolean;
  /** SO_ZEROCOPY was already set when adopted. */
  zerocopyWasEnabled: boolean;
  /** The socket's next MSG_ZEROCOPY id, when an earlier transmitter left it behind. */
  zerocopyNextId: number | null;
  /** UDP_SEGMENT as found on the socket: restored whenever the transmitter goes idle. */
  udpSegment: number;
}

/**
 * Drives one kernel socket through its own duplicate fd, so neither the caller closing its fd
 * nor the number being reused can misdirect bytes, and zero-copy notifications stay readable
 * until the kernel released every buffer.
 */
export class Transmitter implements poller.Watcher {
  /** Jobs still submitting, in call order; the head is the one on the wire. */
  private readonly queue: Job[] = [];
  /**
   * The job queued last, while it has not settled: the next one settles after it. Through its
   * `prior` links it reaches every unsettled job of this transmitter: those in `queue`, and those
   * done submitting that wait for the kernel to release them or for an earlier job to settle.
   * (No Set of them: V8 keeps a Set's rehashed-away tables linked to their successors, and once
   * one of those sat in the old generation, the chain kept every job it had held alive through
   * each young-generation GC.)
   */
  private last: Job | null = null;
  private readonly copy: CopyBackend;
  /** undefined: not opened yet; a number: the -errno why this socket cannot have one. */
  private zerocopy: Backend | number | undefined;
  private readonly events: BackendEvents = {
    progress: () => this.pump(),
    completed: (copied) => this.demotion.note(copied),
    failed: (job, errno) => this.sendFailed(job, errno),
  };
  private readonly demotion = new Demotion();
  /** Job hooks, shared by every job of this transmitter (no closures per job). */
  private readonly onJobAbort = (job: Job) => this.abortJob(job);
  private readonly onJobSettled = (job: Job) => {
    if (this.last === job) this.last = job.prior;
  };
  private waitingForNode = false;
  /** What poller.setActive was last told: told again only when it changes. */
  private active = false;
  /**
   * A send(2), MSG_ZEROCOPY send or sendfile(2) on this stream socket met EAGAIN: none is tried
   * again until epoll says the socket changed (its fd is watched edge-triggered, and a full
   * socket wakes its writers), so jobs queued meanwhile cost no syscall, and copy jobs among
   * them go out together in one gathered send. io_uring sends wait inside the kernel instead.
   */
  private blocked = false;
  /**
   * The poller watches this socket: a stream socket from adoption on, a datagram socket only
   * while it needs epoll (MSG_ZEROCOPY's error queue, or a send that met a full socket). Watched,
   * a UDP socket pays a wakeup for every datagram the kernel frees (sock_wfree wakes the
   * socket's waiters whenever it has room; TCP wakes them only after a send found it full):
   * about 0.12 µs of a 4 µs zero-copy write on the sink rig.
   */
  private watched = false;
  /** The jobs of one gathered send (reused). */
  private readonly gathered: (WriteJob | null)[] = [];
  /** UDP_SEGMENT currently set on the socket (0: none). */
  private segmentSize: number;
  /** A zero-copy segment went out since the last push of pending frames. */
  private zeroCopyTail = false;
  private failure: AiotxError | null = null;
  private retired = false;
  private retireTimer: NodeJS.Immediate | null = null;
  private restoreTimer: NodeJS.Immediate | null = null;
  private pushTimer: NodeJS.Immediate | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly fd: number,
    readonly key: string,
    private readonly facts: SocketFacts,
    private readonly origin: Origin,
    private readonly onRetire: (t: Transmitter) => void,
  ) {
    this.copy = new CopyBackend(fd);
    this.segmentSize = origin.udpSegment;
  }

  /** Starts the watches this socket needs from adoption on; returns 0 or the epoll_ctl -errno. */
  start(): number {
    return this.needsEpoll() ? this.watch() : 0;
  }

  get closed(): boolean {
    return this.failure !== null;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.last === null;
  }

  /** The socket's next MSG_ZEROCOPY id, for a later transmitter on the same socket. */
  get zerocopyNextId(): number | null {
    return this.zerocopy instanceof MsgZerocopyBackend ? this.zerocopy.nextIdIfKnown : this.origin.zerocopyNextId;
  }

  enqueue(job: Job): void {
    if (job.isSettled) return; // aborted while its socket was connecting
    const reason = job.abortReason();
    if (reason) return job.fail(reason);
    // From here on it settles after every job queued before it, whichever way.
    job.follow(this.last);
    this.last = job;
    job.onSettled = this.onJobSettled;
    if (this.failure) {
      job.stop(this.failure);
      return this.hold(job);
    }
    if (job instanceof FileJob && this.origin.datagram) {
      job.stop(typeError('sendFile: datagram sockets are not supported (sendfile(2) needs a stream socket)', 'ERR_INVALID_ARG_VALUE'));
      this.hold(job);
      return this.afterWork();
    }
    job.onAbort = this.onJobAbort;
    this.queue.push(job);
    this.pump();
  }

  /** Calls `done` once no job is pending (Node's end() waits on this before shutting down). */
  whenIdle(done: () => void): void {
    if (this.idle || this.retired) return done();
    this.idleWaiters.push(done);
  }

  /** Node's own writes have all flushed (its _final ran): ours may go. */
  nodeFlushed(): void {
    this.waitingForNode = false;
    this.pump();
  }

  /** Epoll says: writable, error queue non-empty, or hung up. */
  onReady(events: number): void {
    this.blocked = false;
    if (!this.needsEpoll()) this.unwatch();
    if (events & EPOLLERR) this.reap();
    this.pump();
  }

  /**
   * No more sending. Every pending job rejects once the kernel let go of what it holds of it
   * and of the jobs before it (jobs not started: right after those before them). `abort` resets
   * the connection so that happens at once (the socket is being closed anyway, and queued
   * zero-copy data would otherwise keep reading the callers' memory).
   */
  close(err: AiotxError, abort: boolean): void {
    if (this.failure) return;
    this.failure = err;
    this.queue.length = 0;
    // Stopping may settle jobs, which unlinks them: collect first.
    const pending: Job[] = [];
    for (let job = this.last; job !== null; job = job.prior) pending.push(job);
    for (let i = pending.length - 1; i >= 0; i--) pending[i]!.stop(err);
    if (abort && typeof this.zerocopy === 'object' && this.zerocopy.unreleased > 0) addon.disconnect(this.fd);
    this.reap();
    this.afterWork();
  }

  private abortJob(job: Job): void {
    const reason = job.abortReason();
    if (!reason || job.done) return;
    if (!job.started) {
      const i = this.queue.indexOf(job);
      if (i >= 0) this.queue.splice(i, 1);
      job.fail(reason);
    } else {
      job.stop(reason); // segments already with the kernel are waited for
    }
    this.pump();
  }

  pump(): void {
    if (this.failure) {
      this.reap();
      return this.afterWork();
    }
    while (this.queue.length > 0) {
      const job = this.queue[0]!;
      if (job.done) {
        this.queue.shift();
        this.hold(job);
        continue;
      }
      if (!job.started) {
        // A signal shared with a job aborted before it may fire this pump before this job's
        // own abort is handled: a job not yet started never goes out once its signal fired.
        const reason = job.abortReason();
        if (reason) {
          this.queue.shift();
          job.fail(reason);
          continue;
        }
      }
      if (job instanceof FileJob && !job.ready) break;
      if (!job.started && this.mustWaitForNode()) break;
      if (job instanceof WriteJob && job.segmentSize > 0 && !this.origin.datagram) {
        job.stop(stateError('aioWrite: segmentSize applies to datagram sockets only', 'ERR_INVALID_ARG_VALUE'));
        continue;
      }
      const r = job instanceof WriteJob ? this.submitWrite(job) : this.submitFile(job as FileJob);
      if (r > 0) continue;
      if (r === EAGAIN && this.origin.datagram) {
        // Watched from now on (epoll reports a socket already writable at once): until then
        // nothing would say when the socket has room again.
        const w = this.watch();
        if (w < 0) return this.close(errnoError(w, 'epoll_ctl', 'aioWrite'), false);
      }
      if (r === EAGAIN || r === 0 || r === WAIT_RELEASE || r === PENDING) break;
      if (r === EFAULT && job instanceof WriteJob) {
        job.stop(stateError('aioWrite: the buffer was detached or shrunk while the job was pending', DETACHED));
        continue;
      }
      if (this.origin.datagram && !SOCKET_ERRORS.has(r)) {
        job.stop(errnoError(r, 'send', 'aioWrite'));
        continue;
      }
      if (job instanceof FileJob && FILE_ERRORS.has(r)) {
        job.stop(errnoError(r, 'sendfile', 'sendFile'));
        continue;
      }
      return this.close(errnoError(r, job instanceof FileJob ? 'sendfile' : 'send', job instanceof FileJob ? 'sendFile' : 'aioWrite'), true);
    }
    this.reap();
    // After the reap, whose releases may have left the tail's job the oldest unsettled; decided
    // once the callers those releases resumed have had their turn to queue more.
    if (this.pushTimer === null && this.mayPush()) this.pushTimer = setImmediate(this.pushIfHeld).unref();
    this.afterWork();
  }

  private mayPush(): boolean {
    return this.zeroCopyTail && this.failure === null && this.queue.length === 0 && !this.zeroCopySending() && this.oldestMayBeHeld();
  }

  private readonly pushIfHeld = () => {
    this.pushTimer = null;
    if (!this.mayPush()) return;
    this.zeroCopyTail = false;
    addon.pushPending(this.fd);
  };

  /**
   * Nagle may be holding bytes of the oldest unsettled job: it ends within the last NAGLE_TAIL
   * bytes sent (Linux holds back only the last, sub-MSS frame). Earlier bytes go out and are ACKed
   * without a push, so while jobs are in flight behind the oldest, its release comes anyway and
   * the next job's bytes fill the tail: a loop keeping writes in flight pushes only at its end.
   */
  private oldestMayBeHeld(): boolean {
    let after = 0; // bytes sent after `job` (later jobs settle only after it: they are all linked)
    let walked = 0;
    for (let job = this.last; job !== null && after < NAGLE_TAIL; job = job.prior) {
      if (job.prior === null || ++walked > NAGLE_WALK) return true;
      after += job.submitted;
    }
    return false;
  }

  /** Stream sockets always (writability after a full socket); datagram ones for MSG_ZEROCOPY. */
  private needsEpoll(): boolean {
    return !this.origin.datagram || this.zerocopy instanceof MsgZerocopyBackend;
  }

  private watch(): number {
    if (this.watched) return 0;
    const r = poller.watch(this.fd, this);
    this.watched = r === 0;
    return r;
  }

  private unwatch(): void {
    if (!this.watched) return;
    this.watched = false;
    poller.unwatch(this.fd, this);
  }

  private backendFor(job: WriteJob): Backend {
    if (job.started) return job.backend === 'copy' ? this.copy : (this.zerocopy as Backend);
    if (decide(job.mode, this.facts, this.demotion.demoted, job.length)) {
      this.zerocopy ??= this.openZeroCopy();
      if (typeof this.zerocopy !== 'number') {
        job.backend = this.zerocopy.name;
        return this.zerocopy;
      }
    }
    job.backend = 'copy';
    return this.copy;
  }

  private openZeroCopy(): Backend | number {
    switch (selectBackend().zeroCopy) {
      case 'uring':
        return new UringBackend(this.fd, this.events, !this.origin.datagram);
      case 'msgzerocopy': {
        const backend = MsgZerocopyBackend.open(this.fd, this.origin.zerocopyWasEnabled, this.origin.zerocopyNextId, this.events);
        // Its releases arrive on the error queue, which only epoll reports.
        const w = typeof backend === 'number' ? 0 : this.watch();
        return w < 0 ? w : backend;
      }
      default:
        return -constants.errno.EOPNOTSUPP;
    }
  }

  private submitWrite(job: WriteJob): number {
    if (job.segmentSize !== this.segmentSize) {
      // UDP_SEGMENT applies when a datagram is sent: zero-copy datagrams accepted earlier but not
      // yet sent must go out with the setting they were accepted under.
      if (this.zeroCopySending()) return PENDING;
      const r = addon.setUdpSegment(this.fd, job.segmentSize);
      if (r < 0) return r;
      this.segmentSize = job.segmentSize;
    }
    const backend = this.backendFor(job);
    if (backend !== this.zerocopy && this.zeroCopySending()) return PENDING;
    const stream = !this.origin.datagram;
    const waitsForEpoll = stream && backend.name !== 'uring';
    if (waitsForEpoll && this.blocked) return EAGAIN;
    const n = backend === this.copy && stream ? this.submitCopy(job) : backend.submit(job, job.remaining);
    if (n === EAGAIN && waitsForEpoll) this.blocked = true;
    // Nagle may hold back a zero-copy tail until an ACK; datagrams have no such tail.
    if (n > 0 && backend !== this.copy && stream) this.zeroCopyTail = true;
    return n;
  }

  /**
   * A copy job on a stream socket (the queue's head), with the copy jobs queued right behind it
   * in one gathered send: what piled up while the socket was full goes out in one syscall.
   */
  private submitCopy(job: WriteJob): number {
    if (!this.gathers(1)) return this.copy.submit(job, job.remaining);
    const jobs = this.gathered;
    let count = 0;
    jobs[count++] = job;
    for (let i = 1; i < this.queue.length && count < GATHER_MAX && this.gathers(i); i++) jobs[count++] = this.queue[i] as WriteJob;
    const n = this.copy.submitGathered(jobs, count);
    jobs.fill(null, 0, count); // holds no job past the call
    return n;
  }

  /** The queue's i-th job (i >= 1) can go in the same gathered copy send as those before it. */
  private gathers(i: number): boolean {
    const next = this.queue[i];
    if (!(next instanceof WriteJob) || next.started || next.done || next.segmentSize !== 0) return false;
    return !next.abortReason() && !this.mustWaitForNode() && this.backendFor(next) === this.copy;
  }

  /** A send the backend had counted as accepted failed (the uring backend learns it later). */
  private sendFailed(job: Job, r: number): void {
    if (this.failure) return; // closing: every job was stopped already
    if (r === EFAULT) {
      job.stop(stateError('aioWrite: the buffer was detached or shrunk while the job was pending', DETACHED));
    } else if (this.origin.datagram && !SOCKET_ERRORS.has(r)) {
      job.stop(errnoError(r, 'send', 'aioWrite'));
    } else {
      this.close(errnoError(r, 'send', 'aioWrite'), true);
    }
  }

  /** The zero-copy backend still has accepted segments to send: other paths wait, for order. */
  private zeroCopySending(): boolean {
    return typeof this.zerocopy === 'object' && this.zerocopy.sending;
  }

  private submitFile(job: FileJob): number {
    if (this.zeroCopySending()) return PENDING;
    if (this.blocked) return EAGAIN;
    const head = job.head;
    const n =
      head !== null && job.submitted < job.headLength
        ? addon.sendHeadAndFile(this.fd, head, job.submitted, job.fd, job.offset, job.length - job.headLength, sendfileState)
        : addon.sendfileAll(this.fd, job.fd, job.offset + job.submitted - job.headLength, job.remaining, sendfileState);
    if (n > 0) {
      job.accepted(n);
      job.completed(n, true);
    } else if (n === 0) {
      job.stop(stateError(`sendFile: the file ended ${job.remaining} bytes early (truncated while sending?)`, 'ERR_AIOTX_FILE_TRUNCATED'));
      return 1; // the job is done; go on with the next
    }
    // It stopped at a full socket (only regular files are sent: EAGAIN is the socket's).
    if (n === EAGAIN || (n > 0 && sendfileState[0] === 1)) {
      this.blocked = true;
      return EAGAIN;
    }
    return n;
  }

  /** Node's own queued writes on this socket go first, so bytes keep call order. */
  private mustWaitForNode(): boolean {
    const socket = this.origin.socket;
    if (!socket) return false;
    if (this.waitingForNode) return true;
    if (socket.writableLength === 0) return false;
    this.waitingForNode = true;
    // After end(), Node flushes and then calls _final, which calls nodeFlushed().
    if (!socket.writableEnded) socket.write(EMPTY, () => this.nodeFlushed());
    return true;
  }

  /** A job done submitting: it settles now, or once the kernel and earlier jobs let it. */
  private hold(job: Job): void {
    job.settleIfDone();
  }

  private reap(): void {
    if (typeof this.zerocopy !== 'object' || this.zerocopy.unreleased === 0) return;
    const r = this.zerocopy.reap();
    if (r < 0) this.close(errnoError(r, 'recvmsg', 'aioWrite'), true);
  }

  /** Keeps the process alive while busy; retires a closed transmitter once the kernel let go. */
  private afterWork(): void {
    const idle = this.idle;
    if (this.active === idle) {
      this.active = !idle;
      poller.setActive(this.active);
    }
    if (!idle) return;
    // Restored once the socket had no job for a turn: a loop of GSO writes, each queued as the
    // previous settles, would otherwise pay two setsockopt calls per write.
    if (this.segmentSize !== this.origin.udpSegment) this.restoreTimer ??= setImmediate(this.restoreWhenIdle).unref();
    if (this.idleWaiters.length > 0) for (const done of this.idleWaiters.splice(0)) done();
    if (this.failure) return this.retire();
    // A raw fd's duplicate is closed soon after the last job, so closing the caller's fd closes
    // the connection; a short grace keeps back-to-back writes from re-adopting every time.
    if (this.origin.persistent) return;
    this.retireTimer ??= setImmediate(() => {
      this.retireTimer = null;
      if (this.idle) this.retire();
    }).unref();
  }

  private readonly restoreWhenIdle = () => {
    this.restoreTimer = null;
    if (this.idle) this.restoreSegmentSize();
  };

  /** Leaves UDP_SEGMENT as aiotx found it, so the caller's own sends are not cut up. */
  private restoreSegmentSize(): void {
    if (this.segmentSize === this.origin.udpSegment) return;
    if (addon.setUdpSegment(this.fd, this.origin.udpSegment) === 0) this.segmentSize = this.origin.udpSegment;
  }

  private retire(): void {
    if (this.retired) return;
    this.retired = true;
    if (this.retireTimer) clearImmediate(this.retireTimer);
    this.retireTimer = null;
    if (this.restoreTimer) clearImmediate(this.restoreTimer);
    this.restoreTimer = null;
    if (this.pushTimer) clearImmediate(this.pushTimer);
    this.pushTimer = null;
    this.restoreSegmentSize();
    this.failure ??= stateError('the transmitter retired', 'ERR_SOCKET_CLOSED');
    if (this.active) {
      this.active = false;
      poller.setActive(false);
    }
    this.unwatch();
    this.onRetire(this);
    addon.close(this.fd);
  }
}
