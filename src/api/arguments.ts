// Checks shared by the API functions, and queueing a job once its transmitter exists.
import { typeError } from '../engine/errors.js';
import type { Job } from '../engine/job.js';
import { describe, type PendingTransmitter } from '../engine/registry.js';
import { Transmitter } from '../engine/transmitter.js';

export function checkOptions(options: unknown, api: string): void {
  if (options === null || typeof options !== 'object') throw typeError(`${api}: options must be an object, got ${describe(options)}`);
}

export function checkSignal(signal: unknown, api: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw typeError(`${api}: options.signal must be an AbortSignal, got ${describe(signal)}`);
  return signal;
}

/**
 * Queues `job` now when the transmitter is ready (keeping call order), else when it is; `then`
 * runs after, with null when the socket never became ready.
 */
export function enqueueWhenReady(tx: Transmitter | PendingTransmitter, job: Job, then?: (t: Transmitter | null) => void): void {
  if (!(tx instanceof Transmitter)) {
    // Until the socket connects, an abort simply drops the job.
    job.onAbort = (j) => j.fail(j.abortReason()!);
    tx.whenReady(
      (t) => {
        t.enqueue(job);
        then?.(t);
      },
      (err: Error) => {
        job.fail(err);
        then?.(null);
      },
    );
  } else {
    tx.enqueue(job);
    then?.(tx);
  }
}
