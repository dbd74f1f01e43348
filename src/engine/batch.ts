// A batch: one aioWrite call with many buffers, one promise. Each buffer is a job of its own in
// the socket's queue (consecutive, so in order; a datagram socket sends each as one datagram),
// and the batch settles once every one of them has: completion still means release, for all.
import type { BackendName } from './backend.js';
import { stateError, type AiotxError } from './errors.js';
import type { Job, Settler, WriteJob, WriteResult } from './job.js';

export interface BatchFailure {
  /** The buffer's index in the array passed to aioWrite. */
  index: number;
  error: Error;
}

/** Rejection of a batch: the first failure's code, every failure, and what was sent. */
export interface BatchError extends AiotxError {
  failures: BatchFailure[];
  result: WriteResult;
}

export class Batch implements Settler {
  private left: number;
  private bytes = 0;
  private zeroCopyBytes = 0;
  private copiedBytes = 0;
  private segments = 0;
  private backend: BackendName = 'copy';
  private failures: BatchFailure[] | null = null;

  constructor(
    count: number,
    private readonly resolve: (result: WriteResult) => void,
    private readonly reject: (err: Error) => void,
  ) {
    this.left = count;
  }

  settled(job: Job, err: Error | null): void {
    this.bytes += job.submitted;
    this.zeroCopyBytes += job.zeroCopyBytes;
    this.copiedBytes += job.copiedBytes;
    this.segments += job.segments;
    if (job.backend !== 'copy') this.backend = job.backend;
    if (err) (this.failures ??= []).push({ index: (job as WriteJob).batchIndex, error: err });
    if (--this.left > 0) return;
    const result: WriteResult = { bytes: this.bytes, zeroCopyBytes: this.zeroCopyBytes, copiedBytes: this.copiedBytes, segments: this.segments, backend: this.backend };
    if (!this.failures) return this.resolve(result);
    this.failures.sort((a, b) => a.index - b.index);
    const first = this.failures[0]!.error as AiotxError;
    const n = this.failures.length;
    const error = stateError(`aioWrite: ${n} of the batch's buffers failed; the first (index ${this.failures[0]!.index}): ${first.message}`, first.code ?? 'ERR_AIOTX_BATCH') as BatchError;
    error.failures = this.failures;
    error.result = result;
    error.cause = first;
    this.reject(error);
  }
}
