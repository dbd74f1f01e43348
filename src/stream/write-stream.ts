// createWriteStream: a stream.Writable over aioWrite for large in-memory bodies. A write's
// callback fires only when the kernel released that chunk, so the stream's buffered length is
// what the kernel still holds or has not yet been given: honest backpressure.
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { aioWrite, type AioWriteOptions } from '../api/aio-write.js';

export interface WriteStreamOptions {
  /** Bytes written but not yet released by the kernel before write() returns false (default 4 MiB). */
  highWaterMark?: number;
  /** The zero-copy policy for this stream's writes (default: the global policy). */
  zeroCopy?: AioWriteOptions['zeroCopy'];
  /** End the socket when the stream finishes (default true). */
  end?: boolean;
}

type Target = Parameters<typeof aioWrite>[0];

const DEFAULT_HIGH_WATER_MARK = 4 << 20;
const noop = () => {};

class AioWriteStream extends Writable {
  private readonly target: Target;
  private readonly endTarget: boolean;
  private readonly abort = new AbortController();
  private readonly writeOptions: AioWriteOptions;
  /** Settles once the kernel released every chunk of the write or batch it was last given. */
  private inFlight: Promise<void> | null = null;

  constructor(target: Target, options: WriteStreamOptions) {
    super({ highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, decodeStrings: true });
    this.target = target;
    this.endTarget = options.end !== false;
    this.writeOptions = { signal: this.abort.signal, ...(options.zeroCopy === undefined ? {} : { zeroCopy: options.zeroCopy }) };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send(chunk, callback);
  }

  /**
   * A batch of chunks (buffered while the previous write was out, or corked) is one batched
   * aioWrite: one promise, the chunks' bytes in order. Node calls every chunk's callback back
   * through this one, so they all fire once the kernel released the last chunk.
   */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.send(chunks.length === 1 ? chunks[0]!.chunk : chunks.map((c) => c.chunk), callback);
  }

  /** A batch settles only once every chunk in it settled (released), whether or not one failed. */
  private send(data: Buffer | Buffer[], callback: (error?: Error | null) => void): void {
    const job = aioWrite(this.target, data, this.writeOptions);
    this.inFlight = job.then(noop, noop);
    job.then(
      () => callback(),
      // The stream's error is the chunk's own, not the batch's summary.
      (err: Error & { failures?: unknown }) => callback(err.failures && err.cause instanceof Error ? err.cause : err),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.endTarget || !(this.target instanceof Socket)) return callback();
    this.target.end(() => callback());
  }

  /** Stops sending; calls back once the kernel let go of every chunk it held. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.abort.abort(error ?? undefined);
    const pending = this.inFlight ?? Promise.resolve();
    void pending.then(() => callback(error));
  }
}

export function createWriteStream(target: Target, options: WriteStreamOptions = {}): Writable {
  if (options === null || typeof options !== 'object') throw new TypeError('createWriteStream: options must be an object');
  const hwm = options.highWaterMark;
  if (hwm !== undefined && (!Number.isSafeInteger(hwm) || hwm < 0)) throw new RangeError('createWriteStream: options.highWaterMark must be a non-negative integer');
  return new AioWriteStream(target, options);
}
