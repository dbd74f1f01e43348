// A job: one aioWrite or sendFile call, the unit that settles (the seed's AIO job). Its bytes go
// out as segments; it completes when every segment has been released by the kernel.
import type { BackendName } from './backend.js';
import type { ZeroCopyMode } from '../policy/zero-copy-policy.js';
import { watchAbort, unwatchAbort } from './abort-watch.js';
import { addon } from '../native/addon.js';
import { abortError, stateError, typeError, type AiotxError } from './errors.js';

export interface WriteResult {
  /** Bytes handed to the kernel (all of them, on success). */
  bytes: number;
  /** Bytes the kernel confirmed it sent without copying. */
  zeroCopyBytes: number;
  /** Bytes sent by copying: policy chose copy, or the kernel reported COPIED. */
  copiedBytes: number;
  /** Send calls it took. */
  segments: number;
  backend: BackendName;
}

/** Told once when a job settles: `err` null when it succeeded. */
export interface Settler {
  settled(job: Job, err: Error | null): void;
}

let capturedResolve: ((result: WriteResult) => void) | null = null;
let capturedReject: ((err: Error) => void) | null = null;
/** One executor for every call's promise: no closure allocated (and compiled) per write. */
function capture(resolve: (result: WriteResult) => void, reject: (err: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** The promise of one aioWrite or sendFile call, and the settler of its job (or batch). */
export class PromiseSettler implements Settler {
  readonly promise = new Promise<WriteResult>(capture);
  readonly resolve: (result: WriteResult) => void = capturedResolve!;
  readonly reject: (err: Error) => void = capturedReject!;

  settled(job: Job, err: Error | null): void {
    if (err) this.reject(err);
    else this.resolve(job.result());
  }
}

export abstract class Job {
  /** Bytes accepted by the kernel so far. */
  submitted = 0;
  /** Segments accepted by the kernel whose memory it still holds. */
  unreleased = 0;
  segments = 0;
  zeroCopyBytes = 0;
  copiedBytes = 0;
  backend: BackendName = 'copy';
  /** Set when no more segments will be submitted: everything was accepted, or it failed/aborted. */
  private stopped: AiotxError | null = null;
  private settled = false;
  /** False while the job's source is still being prepared (a file opening). */
  ready = true;
  /** Set by the transmitter that queues the job. */
  onAbort: ((job: Job) => void) | null = null;
  /** Runs once when the job settles either way (set by its transmitter). */
  onSettled: ((job: Job) => void) | null = null;
  /** Lets go of what the job's source holds (a wired buffer, a file it opened); runs once at settlement. */
  onFinish: (() => void) | null = null;
  /** Its slot among the jobs watching its signal (abort-watch.ts). */
  abortSlot = -1;
  /**
   * The latest earlier job of the same transmitter that has not settled (null: none): this one
   * settles only after it, so jobs on a socket settle in call order even when this one needed no
   * release notification (a copy or sendfile job behind zero-copy jobs the kernel still holds).
   * Links join unsettled jobs only.
   */
  private before: Job | null = null;
  private after: Job | null = null;

  constructor(
    public length: number,
    private readonly settler: Settler,
    readonly signal: AbortSignal | undefined,
  ) {
    if (signal) watchAbort(signal, this);
  }

  /** The transmitter queued this job right after `prior` (its last unsettled job, or null). */
  follow(prior: Job | null): void {
    this.before = prior;
    if (prior) prior.after = this;
  }

  /** The earlier job this one waits for, if any. */
  get prior(): Job | null {
    return this.before;
  }

  /** The job's signal fired (abort-watch calls this once per job). */
  onAbortSignal(): void {
    this.onAbort?.(this);
  }

  get remaining(): number {
    return this.length - this.submitted;
  }

  get started(): boolean {
    return this.submitted > 0;
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /** Stopped: failed or aborted; no more of it may be sent. */
  get isStopped(): boolean {
    return this.stopped !== null;
  }

  /** The kernel accepted `bytes` of this job in one send call. */
  accepted(bytes: number): void {
    this.submitted += bytes;
    this.segments++;
    this.unreleased++;
  }

  /**
   * Bytes already counted as accepted go out again in a segment of their own (their send was
   * cancelled, or `split`: the send took only part of them and the rest needs another send).
   */
  resending(split: boolean): void {
    this.unreleased++;
    if (split) this.segments++;
  }

  /** Completion of one segment of `bytes`: the kernel let go of it; `copied` when it had to copy them. */
  completed(bytes: number, copied: boolean): void {
    this.unreleased--;
    if (copied) this.copiedBytes += bytes;
    else this.zeroCopyBytes += bytes;
    this.settleIfDone();
  }

  /** No more segments: the job rejects with `err` once the kernel released what it holds. */
  stop(err: AiotxError): void {
    this.stopped ??= err;
    this.settleIfDone();
  }

  /**
   * Rejects now, whatever the kernel holds and whatever earlier jobs are still pending: for a job
   * none of whose bytes went out (dropped by its signal, or its socket never became ready).
   */
  fail(err: Error): void {
    if (this.settled) return;
    this.settle(err);
  }

  /** Never queued (its call failed): lets go of its source without telling its settler. */
  cancel(): void {
    if (this.settled) return;
    this.settled = true;
    this.finish();
  }

  /** Every byte accepted, or stopped; either way nothing more will be submitted. */
  get done(): boolean {
    return this.stopped !== null || (this.ready && this.submitted === this.length);
  }

  abortReason(): AiotxError | null {
    return this.signal?.aborted ? abortError(this.signal) : null;
  }

  /** Settles once done, the kernel holds no segment of it, and every earlier job has settled. */
  settleIfDone(): void {
    if (this.settled || this.unreleased > 0 || !this.done || this.before !== null) return;
    this.settle(this.stopped);
  }

  private settle(err: Error | null): void {
    this.settled = true;
    this.finish();
    this.settler.settled(this, err);
    // After its own settler, so the next job's promise settles after this one's.
    const { before, after } = this;
    this.before = this.after = null;
    if (before) before.after = after;
    if (after) {
      after.before = before;
      if (!before) wake(after);
    }
  }

  result(): WriteResult {
    return { bytes: this.submitted, zeroCopyBytes: this.zeroCopyBytes, copiedBytes: this.copiedBytes, segments: this.segments, backend: this.backend };
  }

  /** Runs once when the job settles either way. */
  private finish(): void {
    if (this.signal) unwatchAbort(this.signal, this);
    this.onSettled?.(this);
    this.onFinish?.();
  }
}

/** Jobs whose earlier jobs all settled, to try settling in turn (a loop, not a recursion per job). */
const waking: (Job | null)[] = [];
let wakingCount = 0;
let wakingNow = false;

function wake(job: Job): void {
  waking[wakingCount++] = job;
  if (wakingNow) return;
  wakingNow = true;
  // Slots cleared by index, not with `length = 0` (a call into V8's runtime per settled job).
  let i = 0;
  try {
    for (; i < wakingCount; i++) {
      const next = waking[i]!;
      waking[i] = null;
      next.settleIfDone();
    }
  } finally {
    if (i < wakingCount) waking.fill(null, i, wakingCount); // a settle threw: clear the rest
    wakingCount = 0;
    wakingNow = false;
  }
}

/**
 * Memory a write job can keep still until the kernel released it, else throws; returns the
 * ArrayBuffer under it. `index`: its place in a batch (named in the error), or -1.
 */
export function checkWriteData(data: unknown, api: string, describe: (v: unknown) => string, index = -1): ArrayBuffer {
  const what = () => (index < 0 ? api : `${api}: data[${index}]`);
  const memory = ArrayBuffer.isView(data) ? data.buffer : data instanceof ArrayBuffer ? data : null;
  if (memory === null) throw typeError(`${what()}: data must be a Buffer, TypedArray, DataView or ArrayBuffer, got ${describe(data)}`);
  // Other threads may write shared memory while the kernel reads it: the caller copies first.
  if (memory instanceof SharedArrayBuffer) {
    throw typeError(`${what()}: data over a SharedArrayBuffer is not supported (another thread could change it while the kernel reads it); copy it into a Buffer first`);
  }
  // Detached memory has no bytes: only an empty buffer needs the native check.
  if ((data as ArrayBufferView | ArrayBuffer).byteLength === 0 && addon.isDetached(data as ArrayBufferView | ArrayBuffer)) {
    throw stateError(`${what()}: data is a detached ArrayBuffer`, DETACHED);
  }
  return memory as ArrayBuffer;
}

/** One code for detached (or shrunk) memory, whether found at the call or while queued. */
export const DETACHED = 'ERR_INVALID_STATE';

/** aioWrite: bytes from the caller's memory, which the job keeps alive until released. */
export class WriteJob extends Job {
  /** Index of the wired (registered) buffer `data` lies in, or -1. */
  wiredSlot = -1;
  /** UDP GSO: the stack cuts this datagram into datagrams of this size (0: one datagram). */
  segmentSize = 0;
  /** Its place in a batch (see batch.ts); 0 for a write of its own. */
  batchIndex = 0;

  constructor(
    readonly data: ArrayBufferView | ArrayBuffer,
    readonly mode: ZeroCopyMode | undefined,
    settler: Settler,
    signal: AbortSignal | undefined,
  ) {
    super(data.byteLength, settler, signal);
  }

}

/** sendFile: bytes from a file through sendfile(2). The file may still be opening (`ready` false). */
export class FileJob extends Job {
  fd = -1;
  offset = 0;
  override ready = false;
  /**
   * Bytes sent before the file's, in the same call (an HTTP response's headers, serialized by
   * Node: a latin1 string), or null. They count in `length` and `submitted`, ahead of the file's.
   */
  head: string | Uint8Array | null = null;
  headLength = 0;

  /** Sends `head` (latin1 when a string) just before the file's bytes, in the same call. */
  setHead(head: string | Uint8Array): void {
    this.head = head;
    this.headLength = head.length;
  }

  /** The file is open and its range known. */
  prepared(fd: number, offset: number, length: number): void {
    this.fd = fd;
    this.offset = offset;
    this.length = this.headLength + length;
    this.ready = true;
  }

}
