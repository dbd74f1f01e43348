// createWriteStream's batched writes (_writev: one batched aioWrite per batch of buffered chunks),
// run per backend: bytes hashed, callbacks only after release, backpressure, and end(), destroy()
// or a detached chunk while a batch is pending settling everything without a hang.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { createWriteStream, type ZeroCopyMode } from '../../src/index.js';
import { Batch } from '../../src/engine/batch.js';
import type { Job } from '../../src/engine/job.js';
import { Transmitter } from '../../src/engine/transmitter.js';
import type { BackendCase } from './backends.js';
import { closeAllPairs, Expected, randomBytes, receiveAll, stillPending, tcpPair } from './sockets.js';

/** Counts the chunks of each _writev call the stream gets. */
function spyBatches(ws: Writable): number[] {
  const batches: number[] = [];
  const writev = (ws as unknown as { _writev: (chunks: unknown[], cb: unknown) => void })._writev.bind(ws);
  (ws as unknown as { _writev: typeof writev })._writev = (chunks, cb) => {
    batches.push(chunks.length);
    writev(chunks, cb);
  };
  return batches;
}

/** The settler of every job queued from now on (a batch's jobs share one Batch: one promise). */
function spySettlers(): { settlers: unknown[]; stop(): void } {
  const settlers: unknown[] = [];
  const enqueue = Transmitter.prototype.enqueue;
  Transmitter.prototype.enqueue = function (this: Transmitter, job: Job) {
    settlers.push((job as unknown as { settler: unknown }).settler);
    enqueue.call(this, job);
  };
  return { settlers, stop: () => void (Transmitter.prototype.enqueue = enqueue) };
}

/** A Buffer over an ArrayBuffer of its own, so it can be detached. */
function ownBuffer(size: number): Buffer {
  const b = Buffer.from(new ArrayBuffer(size));
  randomBytes(size).copy(b);
  return b;
}

/** Everything the receiver reads, kept. */
function collect(socket: Socket): Buffer[] {
  const got: Buffer[] = [];
  socket.on('data', (d: Buffer) => got.push(d));
  return got;
}

export function writeStreamSuite({ backend, skip }: BackendCase, modes: ZeroCopyMode[]): void {
  after(closeAllPairs);
  for (const zeroCopy of modes) {
    describe(`createWriteStream batches (${backend}, zeroCopy ${zeroCopy})`, { skip }, () => {
      it('pipeline() of thousands of chunks, empty ones among them, arrives byte-exact through batched writes', async () => {
        const pair = await tcpPair();
        const received = receiveAll(pair.server);
        const sizes = Array.from({ length: 3000 }, (_, i) => (i % 97 === 0 ? 0 : (i * 7919) % 40_000));
        const chunks = sizes.map((n) => randomBytes(n));
        const ws = createWriteStream(pair.client, { zeroCopy, highWaterMark: 1 << 20 });
        const batches = spyBatches(ws);
        await pipeline(Readable.from(chunks), ws);
        assert.deepEqual(await received, new Expected(...chunks).digest());
        assert.ok(Math.max(...batches) > 1, `chunks were batched (largest batch ${Math.max(...batches)})`);
        await pair.close();
      });

      it('a corked batch calls back in order, only after the kernel released it', async () => {
        const pair = await tcpPair();
        pair.server.pause();
        const ws = createWriteStream(pair.client, { zeroCopy });
        const batches = spyBatches(ws);
        const chunks = Array.from({ length: 8 }, () => randomBytes(2 << 20));
        const called: number[] = [];
        ws.cork();
        const callbacks = chunks.map((c, i) => new Promise<void>((resolve, reject) => ws.write(c, (err) => (err ? reject(err) : resolve(void called.push(i))))));
        const spy = spySettlers();
        ws.uncork();
        spy.stop();
        assert.deepEqual(batches, [8], 'one batch of 8 chunks');
        assert.equal(spy.settlers.length, 8, 'one job per chunk');
        assert.ok(spy.settlers[0] instanceof Batch && spy.settlers.every((s) => s === spy.settlers[0]), 'the 8 jobs are one batched aioWrite: one promise');
        assert.equal(await stillPending(callbacks[0]!, pair), true, 'no callback while the kernel holds the batch');
        assert.deepEqual(called, []);
        const received = receiveAll(pair.server);
        pair.server.resume();
        await Promise.all(callbacks);
        assert.deepEqual(called, [0, 1, 2, 3, 4, 5, 6, 7]);
        ws.end();
        assert.deepEqual(await received, new Expected(...chunks).digest());
        await pair.close();
      });

      it('backpressure: write() returns false at highWaterMark and drain comes only after release', async () => {
        const pair = await tcpPair();
        pair.server.pause();
        const ws = createWriteStream(pair.client, { zeroCopy, highWaterMark: 1 << 20 });
        const chunks = Array.from({ length: 12 }, () => randomBytes(512 << 10));
        const accepted = chunks.map((c) => ws.write(c));
        assert.deepEqual(accepted.slice(0, 1), [true]);
        assert.ok(accepted.slice(1).every((a) => !a), 'every write past highWaterMark says wait');
        assert.equal(ws.writableLength, 12 * (512 << 10), 'writableLength counts what the kernel has not released');
        const drained = once(ws, 'drain');
        assert.equal(await stillPending(drained, pair), true, 'no drain while the kernel holds the bytes');
        const received = receiveAll(pair.server);
        pair.server.resume();
        await drained;
        assert.equal(ws.writableLength, 0);
        ws.end();
        assert.deepEqual(await received, new Expected(...chunks).digest());
        await pair.close();
      });

      it('end() while a batch is pending finishes only once it was released, then ends the socket', async () => {
        const pair = await tcpPair();
        pair.server.pause();
        const ws = createWriteStream(pair.client, { zeroCopy });
        const chunks = Array.from({ length: 6 }, () => randomBytes(3 << 20));
        ws.cork();
        for (const c of chunks) ws.write(c);
        ws.uncork();
        ws.end();
        const finished = once(ws, 'finish');
        assert.equal(await stillPending(finished, pair), true, 'not finished while the kernel holds the batch');
        const received = receiveAll(pair.server);
        pair.server.resume();
        await finished;
        assert.deepEqual(await received, new Expected(...chunks).digest(), 'every byte, then the end of the stream');
        await pair.close();
      });

      it('destroy() mid-batch settles every callback with an error and closes only after the kernel let go', async () => {
        const pair = await tcpPair();
        pair.server.pause();
        const got = collect(pair.server);
        const ws = createWriteStream(pair.client, { zeroCopy });
        ws.on('error', () => {});
        const chunks = Array.from({ length: 16 }, () => randomBytes(2 << 20));
        const events: string[] = [];
        ws.cork();
        chunks.forEach((c, i) => ws.write(c, (err) => events.push(`${i} ${err instanceof Error ? 'error' : 'ok'}`)));
        ws.uncork();
        ws.write(randomBytes(1000), (err) => events.push(`late ${err instanceof Error ? 'error' : 'ok'}`));
        const closed = new Promise<void>((resolve) => ws.once('close', () => resolve(void events.push('close'))));
        await stillPending(closed, pair);
        ws.destroy(new Error('stop'));
        // Copied chunks were released when send(2) took them; zero-copy ones are held until acknowledged.
        if (zeroCopy !== 'off') assert.equal(await stillPending(closed, pair), true, "no 'close' while the kernel holds chunks");
        pair.server.resume();
        await closed;
        assert.equal(events.at(-1), 'close', "'close' after every callback");
        assert.deepEqual(events.slice(0, -1).sort(), [...chunks.map((_, i) => `${i} error`), 'late error'].sort(), 'every callback once, with the error');
        // What arrived is a prefix of the stream: nothing out of order, nothing after a gap.
        pair.client.destroy();
        await once(pair.server, 'close');
        const bytes = Buffer.concat(got);
        assert.ok(bytes.equals(Buffer.concat(chunks).subarray(0, bytes.length)), `the ${bytes.length} bytes received are the stream's first`);
        await pair.close();
      });

      it('a chunk detached while its batch is pending fails the stream, and everything still settles', async () => {
        const pair = await tcpPair();
        pair.server.pause();
        const ws = createWriteStream(pair.client, { zeroCopy });
        const first = randomBytes(24 << 20);
        const doomed = ownBuffer(1 << 20);
        const last = randomBytes(1 << 20);
        const results: (string | null)[] = [];
        const cb = (err?: Error | null) => results.push(err ? ((err as NodeJS.ErrnoException).code ?? err.message) : null);
        ws.cork();
        ws.write(first, cb);
        ws.write(doomed, cb);
        ws.write(last, cb);
        ws.uncork();
        const failed = once(ws, 'error');
        const closed = new Promise((resolve) => ws.once('close', resolve));
        await stillPending(closed, pair);
        structuredClone(doomed.buffer, { transfer: [doomed.buffer] });
        assert.equal(doomed.byteLength, 0, 'detached');
        pair.server.resume();
        pair.server.on('data', () => {});
        const [err] = (await failed) as [NodeJS.ErrnoException];
        assert.equal(err.code, 'ERR_INVALID_STATE');
        await closed;
        assert.deepEqual(results, ['ERR_INVALID_STATE', 'ERR_INVALID_STATE', 'ERR_INVALID_STATE']);
        await pair.close();
      });
    });
  }
}
