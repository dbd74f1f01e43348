// aioWrite: the seed's aio_write(2) for a Node socket. The promise settles when the kernel has
// released `data`, so the caller may reuse or free it from then on.
import { Socket as DatagramSocket } from 'node:dgram';
import { selectBackend } from '../engine/capabilities.js';
import { abortError, rangeError, typeError } from '../engine/errors.js';
import { Batch } from '../engine/batch.js';
import { checkWriteData, PromiseSettler, WriteJob, type Settler, type WriteResult } from '../engine/job.js';
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

type Data = ArrayBufferView | ArrayBuffer;

/**
 * Sends `data` and settles once the kernel released it. An array of buffers is a batch: one
 * promise for all of them, their bytes in order on a stream socket, one datagram each (or one
 * GSO super-datagram each, with `segmentSize`) on a datagram socket.
 */
export function aioWrite(target: Target, data: Data | readonly Data[], options: AioWriteOptions = {}): Promise<WriteResult> {
  const settler = new PromiseSettler();
  try {
    queue(target, data, options, settler);
  } catch (err) {
    settler.reject(err as Error);
  }
  return settler.promise;
}

/** Checks the call and queues its job (or its batch's jobs); throws what the call rejects with. */
function queue(target: Target, data: Data | readonly Data[], options: AioWriteOptions, settler: PromiseSettler): void {
  checkTarget(target, 'aioWrite');
  const batch = Array.isArray(data) ? (data as readonly Data[]) : null;
  const memory = batch ? null : checkWriteData(data, 'aioWrite', describe);
  const memories = batch ? batch.map((d, i) => checkWriteData(d, 'aioWrite', describe, i)) : null;
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
  if (!batch) {
    // One buffer, the common case: no arrays, no batch settler.
    const job = new WriteJob(data as Data, mode, settler, signal);
    job.segmentSize = segmentSize ?? 0;
    let tx;
    try {
      poolOf(memory!)?.claim(job, data as Data);
      tx = transmitterFor(target, 'aioWrite');
    } catch (err) {
      job.cancel();
      throw err;
    }
    return enqueueWhenReady(tx, job);
  }
  const buffers = batch;
  if (buffers.length === 0) return settler.resolve({ bytes: 0, zeroCopyBytes: 0, copiedBytes: 0, segments: 0, backend: 'copy' });
  const batchSettler: Settler = new Batch(batch.length, settler.resolve, settler.reject);
  const jobs: WriteJob[] = [];
  // Claim wired buffers before adopting the socket: a refused claim must leave nothing behind,
  // and a failed adoption gives the buffers back (job.fail runs each release hook).
  let tx;
  try {
    for (const [i, buffer] of buffers.entries()) {
      const job = new WriteJob(buffer, mode, batchSettler, signal);
      job.segmentSize = segmentSize ?? 0;
      job.batchIndex = jobs.length;
      jobs.push(job);
      poolOf(memories![i]!)?.claim(job, buffer);
    }
    tx = transmitterFor(target, 'aioWrite');
  } catch (err) {
    for (const job of jobs) job.cancel();
    throw err;
  }
  for (const job of jobs) enqueueWhenReady(tx, job);
}
