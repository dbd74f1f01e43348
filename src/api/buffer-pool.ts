// createBufferPool: buffers wired once (registered with io_uring) so zero-copy writes from them
// skip per-send page pinning. A buffer goes back with release() once its write settled.
import { rangeError, typeError } from '../engine/errors.js';
import { describe } from '../engine/registry.js';
import { WiredPool } from '../engine/wired-pool.js';
import { checkOptions } from './arguments.js';

export interface BufferPoolOptions {
  /** Bytes per buffer. */
  size: number;
  /** Buffers in the pool (at most 1024 across all pools of a process). */
  count: number;
}

export interface BufferPool {
  readonly size: number;
  readonly count: number;
  /** True when the buffers are registered with io_uring (writes use IORING_RECVSEND_FIXED_BUF). */
  readonly wired: boolean;
  /** Why the pool is not wired (writes from it then work like any other), or null. */
  readonly reason: string | null;
  /** Buffers neither handed out nor in flight. */
  readonly available: number;
  /** A free buffer, or null when all are handed out or in flight. */
  acquire(): Buffer | null;
  /**
   * Gives back the buffer acquire() returned; throws ERR_AIOTX_BUFFER_BUSY while a write of it is
   * in flight, ERR_AIOTX_BUFFER_NOT_ACQUIRED when it is not out (released already).
   */
  release(buffer: Buffer): void;
  /** Unregisters the buffers; throws ERR_AIOTX_BUFFER_BUSY while writes are in flight. */
  close(): void;
}

const MAX_BUFFER = 1 << 30;
const MAX_COUNT = 1024;

function checkInteger(value: unknown, what: string, max: number): number {
  if (typeof value !== 'number') throw typeError(`createBufferPool: ${what} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > max) throw rangeError(`createBufferPool: ${what} must be an integer from 1 to ${max}, got ${value}`);
  return value;
}

export function createBufferPool(options: BufferPoolOptions): BufferPool {
  checkOptions(options, 'createBufferPool');
  const size = checkInteger(options.size, 'size', MAX_BUFFER);
  const count = checkInteger(options.count, 'count', MAX_COUNT);
  if (size * count > 2 ** 32) throw rangeError(`createBufferPool: size × count must be at most 4 GiB, got ${size * count}`);
  const pool = new WiredPool(size, count);
  return {
    size,
    count,
    wired: pool.wired,
    reason: pool.reason,
    get available() {
      return pool.available;
    },
    acquire: () => pool.acquire(),
    release: (buffer) => {
      if (!(buffer instanceof Uint8Array)) throw typeError(`release: buffer must be a Buffer from acquire(), got ${describe(buffer)}`);
      pool.release(buffer);
    },
    close: () => pool.close(),
  };
}
