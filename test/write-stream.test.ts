// createWriteStream: bytes hashed at the receiver, callbacks only on release, honest
// backpressure, batching, pipeline(), destroy() and a peer reset settling everything.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createWriteStream } from '../src/index.js';
import { Expected, randomBytes, receiveAll, stillPending, tcpPair } from './helpers/sockets.js';

describe('createWriteStream', () => {
  it('works in pipeline(): every byte arrives in order and the socket ends', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 37_000));
    await pipeline(Readable.from(chunks), createWriteStream(pair.client));
    assert.deepEqual(await received, new Expected(...chunks).digest());
    await pair.close();
  });

  it('batches corked writes into one batched aioWrite, in order, each callback after release', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const ws = createWriteStream(pair.client, { zeroCopy: 'on' });
    const chunks = Array.from({ length: 16 }, () => randomBytes(300_000));
    const released: number[] = [];
    ws.cork();
    chunks.forEach((c, i) => ws.write(c, () => released.push(i)));
    ws.uncork();
    ws.end();
    await once(ws, 'finish');
    assert.deepEqual(released, chunks.map((_, i) => i));
    assert.deepEqual(await received, new Expected(...chunks).digest());
    await pair.close();
  });

  it('calls a write back only once the kernel released the chunk, and holds back writes meanwhile', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const ws = createWriteStream(pair.client, { highWaterMark: 1 << 20 });
    const big = randomBytes(32 << 20);
    const cb = new Promise<void>((resolve, reject) => ws.write(big, (err) => (err ? reject(err) : resolve())));
    assert.equal(ws.writableLength, big.length);
    assert.equal(ws.write(randomBytes(10)), false);
    assert.equal(await stillPending(cb, pair), true);
    // Listening before anything is released: the small write may be released, and 'drain'
    // emitted, in the same turn as the big one's callback.
    const drained = once(ws, 'drain');
    const received = receiveAll(pair.server);
    pair.server.resume();
    await cb;
    await drained;
    ws.end();
    assert.equal((await received).bytes, big.length + 10);
    await pair.close();
  });

  it('destroy() stops sending and closes only after the kernel let go; callbacks get the error', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const ws = createWriteStream(pair.client);
    const errors: (Error | null | undefined)[] = [];
    ws.write(randomBytes(32 << 20), (err) => errors.push(err));
    ws.write(randomBytes(1000), (err) => errors.push(err));
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.on('error', () => {});
    await new Promise((r) => setTimeout(r, 100));
    ws.destroy(new Error('stop'));
    await closed;
    assert.equal(errors.length, 2);
    assert.ok(errors.every((e) => e instanceof Error));
    await pair.close();
  });

  it('fails the pipeline when the peer resets the connection', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const source = Readable.from((function* () {
      for (let i = 0; i < 64; i++) yield randomBytes(1 << 20);
    })());
    const done = pipeline(source, createWriteStream(pair.client));
    await new Promise((r) => setTimeout(r, 100));
    pair.server.resetAndDestroy();
    await assert.rejects(done, (err: Error & { code?: string }) => ['ECONNRESET', 'EPIPE', 'ERR_SOCKET_CLOSED'].includes(err.code ?? ''));
    await pair.close();
  });

  it('checks its options', () => {
    assert.throws(() => createWriteStream(1, { highWaterMark: -1 }), RangeError);
    assert.throws(() => createWriteStream(1, null as unknown as object), TypeError);
  });
});
