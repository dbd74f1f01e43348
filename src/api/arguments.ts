// Checks shared by the API functions, and queueing a job once its transmitter exists.
import { typeError } from '../engine/errors.js';
import type { Job } from '../engine/job.js';
import { describe } from '../engine/registry.js';
import type { Transmitter } from '../engine/transmitter.js';

export function checkOptions(options: unknown, api: string): void {
  if (options === null || typeof options !== 'object') throw typeError(`${api}: options must be an object, got ${describe(options)}`);
}

export function checkSignal(signal: unknown, api: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw typeError(`${api}: options.signal must be an AbortSignal, got ${describe(signal)}`);
  return signal;
}

/** Queues `job` now when the transmitter is ready (keeping call order), else when it is. */
export function enqueueWhenReady(tx: Transmitter | Promise<Transmitter>, job: Job, then?: (t: Transmitter) => void): void {
  if (tx instanceof Promise) {
    // Until the socket connects, an abort simply drops the job.
    job.onAbort = (j) => j.fail(j.abortReason()!);
    tx.then(
      (t) => {
        t.enqueue(job);
        then?.(t);
      },
      (err: Error) => job.fail(err),
    );
  } else {
    tx.enqueue(job);
    then?.(tx);
  }
}
