// The per-socket transmitter: jobs in call order, cut into segments as the socket buffer frees,
// handed to a backend channel, settled when the kernel releases their last segment.
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { addon } from '../native/addon.js';
import { Demotion } from '../policy/demotion.js';
import { decide, type SocketFacts } from '../policy/zero-copy-policy.js';
import { EAGAIN, WAIT_RELEASE, type Channel } from './backend.js';
import { CopyChannel } from './copy-backend.js';
import { errnoError, stateError, type AiotxError } from './errors.js';
import { FileJob, WriteJob, type Job } from './job.js';
import { MsgZerocopyChannel } from './msgzerocopy-backend.js';
import * as poller from './poller.js';

const EFAULT = -constants.errno.EFAULT;
const EPOLLERR = 0x008;
const EMPTY = Buffer.alloc(0);

/** Errors of sendfile(2) that belong to the file, not the socket: they end that job only. */
const FILE_ERRORS = new Set(['EIO', 'EINVAL', 'EBADF', 'EOVERFLOW', 'ESPIPE', 'EISDIR', 'ENXIO'].map((n) => -constants.errno[n as keyof typeof constants.errno]));

/** Where the transmitter's fd came from. */
export interface Origin {
  /** The net.Socket whose fd this is; its 'close' ends the transmitter. */
  socket?: Socket;
  /** A duplicate the transmitter owns and closes when it retires. */
  ownsFd: boolean;
  /** SO_ZEROCOPY was already set when adopted: MSG_ZEROCOPY ids must be resynchronised. */
  zerocopyWasEnabled: boolean;
}

export class Transmitter implements poller.Watcher {
  /** Jobs still submitting, in call order; the head is the one on the wire. */
  private readonly queue: Job[] = [];
  /** Jobs done submitting whose segments the kernel still holds. */
  private readonly held = new Set<Job>();
  private readonly copy: CopyChannel;
  /** undefined: not opened yet; a number: the -errno why this socket cannot have one. */
  private zerocopy: MsgZerocopyChannel | number | undefined;
  private readonly demotion = new Demotion();
  private waitingForNode = false;
  /** A zero-copy segment went out since the last push of pending frames. */
  private zeroCopyTail = false;
  private failure: AiotxError | null = null;
  private retireTimer: NodeJS.Immediate | null = null;

  constructor(
    readonly fd: number,
    readonly key: string,
    private readonly facts: SocketFacts,
    private readonly origin: Origin,
    private readonly onRetire: (t: Transmitter) => void,
  ) {
    this.copy = new CopyChannel(fd);
  }

  get closed(): boolean {
    return this.failure !== null;
  }

  enqueue(job: Job): void {
    if (this.failure) return job.fail(this.failure);
    const reason = job.abortReason();
    if (reason) return job.fail(reason);
    job.onAbort = (j) => this.abortJob(j);
    this.queue.push(job);
    this.pump();
  }

  /** Epoll says: writable, error queue non-empty, or hung up. */
  onReady(events: number): void {
    if (events & EPOLLERR) this.reap();
    this.pump();
  }

  onFdReused(): void {
    this.close(stateError('the socket was closed while jobs were pending', 'ERR_SOCKET_CLOSED'));
  }

  /** Rejects every job not yet settled and lets go of the socket. */
  close(err: AiotxError): void {
    if (this.failure) return;
    this.failure = err;
    for (const job of [...this.queue, ...this.held]) job.fail(err);
    this.queue.length = 0;
    this.held.clear();
    this.retire();
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
    if (this.failure) return;
    const socket = this.origin.socket;
    if (socket?.destroyed) return this.close(closedError(socket));
    while (this.queue.length > 0) {
      const job = this.queue[0]!;
      if (job.done) {
        this.queue.shift();
        this.hold(job);
        continue;
      }
      if (job instanceof FileJob && !job.ready) break;
      if (!job.started && this.mustWaitForNode()) break;
      const r = job instanceof WriteJob ? this.submitWrite(job) : this.submitFile(job as FileJob);
      if (r > 0) continue;
      if (r === EAGAIN || r === 0 || r === WAIT_RELEASE) break;
      if (r === EFAULT && job instanceof WriteJob) {
        job.stop(stateError('aioWrite: the buffer was detached or shrunk while the job was pending', 'ERR_AIOTX_DETACHED'));
        continue;
      }
      if (job instanceof FileJob && FILE_ERRORS.has(r)) {
        job.stop(errnoError(r, 'sendfile', 'sendFile'));
        continue;
      }
      return this.close(errnoError(r, job instanceof FileJob ? 'sendfile' : 'send', job instanceof FileJob ? 'sendFile' : 'aioWrite'));
    }
    if (this.zeroCopyTail && this.queue.length === 0) {
      this.zeroCopyTail = false;
      addon.pushPending(this.fd);
    }
    this.reap();
    this.updateActivity();
  }

  private channelFor(job: WriteJob): Channel {
    if (job.started) return job.backend === 'msgzerocopy' ? (this.zerocopy as MsgZerocopyChannel) : this.copy;
    if (decide(job.mode, this.facts, this.demotion.demoted, job.length).zeroCopy) {
      this.zerocopy ??= MsgZerocopyChannel.open(this.fd, this.origin.zerocopyWasEnabled, (copied) => this.demotion.note(copied));
      if (typeof this.zerocopy !== 'number') {
        job.backend = 'msgzerocopy';
        return this.zerocopy;
      }
    }
    job.backend = 'copy';
    return this.copy;
  }

  private submitWrite(job: WriteJob): number {
    const channel = this.channelFor(job);
    const n = channel.submit(job, job.remaining);
    if (n > 0 && channel !== this.copy) this.zeroCopyTail = true;
    return n;
  }

  private submitFile(job: FileJob): number {
    const n = addon.sendfile(this.fd, job.fd, job.offset + job.submitted, job.remaining);
    if (n > 0) {
      job.accepted(n);
      job.released(n, true);
    } else if (n === 0) {
      job.stop(stateError(`sendFile: the file ended ${job.remaining} bytes early (truncated while sending?)`, 'ERR_AIOTX_FILE_TRUNCATED'));
      return 1; // the job is done; go on with the next
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
    socket.write(EMPTY, () => {
      this.waitingForNode = false;
      this.pump();
    });
    return true;
  }

  private hold(job: Job): void {
    job.settleIfDone();
    if (!job.isSettled) this.held.add(job);
  }

  private reap(): void {
    if (typeof this.zerocopy !== 'object' || this.zerocopy.unreleased === 0) return;
    const r = this.zerocopy.reap();
    if (r < 0) return this.close(errnoError(r, 'recvmsg', 'aioWrite'));
    if (r > 0) for (const job of this.held) if (job.isSettled) this.held.delete(job);
  }

  private updateActivity(): void {
    const busy = this.queue.length > 0 || this.held.size > 0;
    poller.setActive(this, busy);
    if (busy || !this.origin.ownsFd) return;
    // A raw fd's duplicate is closed soon after the last job, so closing the caller's fd closes
    // the connection; a short grace keeps back-to-back writes from re-adopting every time.
    this.retireTimer ??= setImmediate(() => {
      this.retireTimer = null;
      if (this.queue.length === 0 && this.held.size === 0) this.retire();
    }).unref();
  }

  private retire(): void {
    if (this.retireTimer) clearImmediate(this.retireTimer);
    this.retireTimer = null;
    poller.unwatch(this.fd, this);
    this.onRetire(this);
    if (this.origin.ownsFd) addon.close(this.fd);
  }
}

export function closedError(socket: Socket): AiotxError {
  const cause = socket.errored as (Error & { code?: string }) | null;
  if (cause?.code) return Object.assign(new Error(`the socket failed: ${cause.message}`, { cause }), { code: cause.code });
  return stateError('the socket was closed while jobs were pending', 'ERR_SOCKET_CLOSED');
}
