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

class AioWriteStream extends Writable {
  private readonly target: Target;
  private readonly endTarget: boolean;
  private readonly abort = new AbortController();
  private readonly writeOptions: AioWriteOptions;
  /** The batch the kernel holds, until every chunk of it is released. */
  private inFlight: Promise<unknown> | null = null;

  constructor(target: Target, options: WriteStreamOptions) {
    super({ highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, decodeStrings: true });
    this.target = target;
    this.endTarget = options.end !== false;
    this.writeOptions = { signal: this.abort.signal, ...(options.zeroCopy === undefined ? {} : { zeroCopy: options.zeroCopy }) };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  /**
   * A batch of chunks goes to the kernel at once, each an aioWrite job in order (the public API
   * has no vectored job); the callback waits for the last release.
   */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const jobs = chunks.map(({ chunk }) => aioWrite(this.target, chunk, this.writeOptions));
    const batch = Promise.all(jobs);
    // Every job must have settled (released) before the stream reports, even when one failed.
    this.inFlight = Promise.allSettled(jobs);
    batch.then(
      () => callback(),
      (err: Error) => this.inFlight!.then(() => callback(err)),
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
