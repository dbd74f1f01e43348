// aioWrite: the seed's aio_write(2) for a Node socket. The promise settles when the kernel has
// released `data`, so the caller may reuse or free it from then on.
import { Socket as DatagramSocket } from 'node:dgram';
import { selectBackend } from '../engine/capabilities.js';
import { abortError, rangeError, typeError } from '../engine/errors.js';
import { checkWriteData, WriteJob, type Settler, type WriteResult } from '../engine/job.js';
import { checkTarget, describe, transmitterFor, type Target } from '../engine/registry.js';
import { poolOf } from '../engine/wired-pool.js';
import { checkPolicyEnvironment, parseMode, type ZeroCopyMode } from '../policy/zero-copy-policy.js';
import { checkOptions, checkSignal, enqueueWhenReady } from './arguments.js';

export interface AioWriteOptions {
  /** Overrides the policy for this write. */
  zeroCopy?: ZeroCopyMode;
  /** Aborting before the first byte went out rejects at once; later, no more segments are sent. */
  signal?: AbortSignal;
  /**
   * Datagram sockets only: send `data` as one GSO super-datagram that the stack cuts into
   * datagrams of this many bytes (UDP_SEGMENT). Without it, one job is one datagram.
   */
  segmentSize?: number;
}

export function aioWrite(target: Target, data: ArrayBufferView | ArrayBuffer, options: AioWriteOptions = {}): Promise<WriteResult> {
  return new Promise<WriteResult>((resolve, reject) => {
    const settler: Settler = { resolve, reject };
    checkTarget(target, 'aioWrite');
    checkWriteData(data, 'aioWrite', describe);
    checkOptions(options, 'aioWrite');
    const mode = options.zeroCopy === undefined ? undefined : parseMode(options.zeroCopy, 'aioWrite: options.zeroCopy');
    const signal = checkSignal(options.signal, 'aioWrite');
    if (signal?.aborted) throw abortError(signal);
    const backend = selectBackend();
    if (backend.error) throw backend.error;
    checkPolicyEnvironment();
    const segmentSize = options.segmentSize;
    if (segmentSize !== undefined) {
      if (typeof segmentSize !== 'number') throw typeError(`aioWrite: options.segmentSize must be a number, got ${describe(segmentSize)}`);
      if (!Number.isInteger(segmentSize) || segmentSize < 1 || segmentSize > 65507) {
        throw rangeError(`aioWrite: options.segmentSize must be an integer from 1 to 65507, got ${segmentSize}`);
      }
      if (!(target instanceof DatagramSocket) && typeof target !== 'number') {
        throw typeError('aioWrite: options.segmentSize applies to datagram sockets only', 'ERR_INVALID_ARG_VALUE');
      }
    }
    const job = new WriteJob(data, mode, settler, signal);
    job.segmentSize = segmentSize ?? 0;
    // Claim the wired buffer before adopting the socket: a refused claim must leave nothing
    // behind, and a failed adoption gives the buffer back (job.fail runs its release hook).
    let tx;
    try {
      poolOf(data)?.claim(job, data);
      tx = transmitterFor(target, 'aioWrite');
    } catch (err) {
      return job.fail(err as Error);
    }
    enqueueWhenReady(tx, job);
  });
}
