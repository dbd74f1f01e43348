// The batched form: aioWrite(target, [b1, b2, ...]) is one promise for many buffers, with every
// guarantee of the single form (order, completion on release, abort, errors).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { aioWrite, createBufferPool, sendFile, type BatchError } from '../src/index.js';
import { closeAllPairs, connectedUdp, Expected, nextDatagrams, randomBytes, receiveAll, tcpPair } from './helpers/sockets.js';

const dir = mkdtempSync(join(tmpdir(), 'aiotx-batch-'));
after(async () => {
  await closeAllPairs();
  rmSync(dir, { recursive: true, force: true });
});

const udpPair = connectedUdp;
const arrived = nextDatagrams;

const sum = (bufs: Uint8Array[]) => bufs.reduce((n, b) => n + b.byteLength, 0);

describe('aioWrite with an array of buffers', () => {
  for (const zeroCopy of ['off', 'on'] as const) {
    it(`stream socket, zeroCopy ${zeroCopy}: the bytes of every buffer in order, one result`, async () => {
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const expected = new Expected();
      let bytes = 0;
      for (let round = 0; round < 20; round++) {
        const batch = Array.from({ length: 50 }, (_, i) => randomBytes(1 + ((i * 7919 + round * 131) % 70000)));
        const r = await aioWrite(pair.client, batch, { zeroCopy });
        for (const b of batch) expected.add(b);
        assert.equal(r.bytes, sum(batch));
        assert.equal(r.zeroCopyBytes + r.copiedBytes, r.bytes);
        assert.ok(r.segments >= batch.length);
        bytes += r.bytes;
      }
      pair.client.end();
      assert.deepEqual(await received, expected.digest());
      assert.equal(expected.bytes, bytes);
      await pair.close();
    });
  }

  it('batches, single writes and sendFile on one socket keep call order', async () => {
    const file = join(dir, 'body');
    const body = randomBytes(300_000);
    writeFileSync(file, body);
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const expected = new Expected();
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      const batch = [randomBytes(1000 + i), randomBytes(50_000), Buffer.from(`#${i}`)];
      const single = randomBytes(20_000 + i);
      jobs.push(aioWrite(pair.client, batch), aioWrite(pair.client, single), sendFile(pair.client, file, { offset: i, length: 100_000 }));
      for (const b of batch) expected.add(b);
      expected.add(single);
      expected.add(body.subarray(i, i + 100_000));
    }
    await Promise.all(jobs);
    pair.client.end();
    assert.deepEqual(await received, expected.digest());
    await pair.close();
  });

  it('datagram socket: one datagram per buffer, in order; with segmentSize one GSO datagram each', async () => {
    const p = await udpPair();
    try {
      const batch = Array.from({ length: 32 }, (_, i) => randomBytes(100 + i * 13));
      const r = await aioWrite(p.tx, batch);
      assert.equal(r.bytes, sum(batch));
      assert.deepEqual(await arrived(p.got, batch.length), batch);
      const gso = [randomBytes(3000), randomBytes(2500)];
      await aioWrite(p.tx, gso, { segmentSize: 1000 });
      const parts = await arrived(p.got, 6);
      assert.deepEqual(parts.map((b) => b.length), [1000, 1000, 1000, 1000, 1000, 500]);
      assert.deepEqual(Buffer.concat(parts), Buffer.concat(gso));
    } finally {
      p.close();
    }
  });

  it('a datagram that fails fails alone: the batch rejects with its index, the rest arrive', async () => {
    const p = await udpPair();
    try {
      const batch = [randomBytes(100), randomBytes(70_000), randomBytes(200), randomBytes(70_001), randomBytes(300)];
      const err = (await aioWrite(p.tx, batch).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      )) as BatchError;
      assert.equal(err.code, 'EMSGSIZE');
      assert.deepEqual(err.failures.map((f) => [f.index, (f.error as NodeJS.ErrnoException).code]), [
        [1, 'EMSGSIZE'],
        [3, 'EMSGSIZE'],
      ]);
      assert.equal(err.result.bytes, 600);
      assert.deepEqual(await arrived(p.got, 3), [batch[0], batch[2], batch[4]]);
    } finally {
      p.close();
    }
  });

  it('abort: the started buffer is cut short, the rest never go out; the batch rejects ABORT_ERR', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const first = randomBytes(32 << 20);
    const ac = new AbortController();
    const job = aioWrite(pair.client, [first, Buffer.alloc(1 << 20, 0xee), Buffer.alloc(100, 0xee)], { signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await assert.rejects(job, { code: 'ABORT_ERR' });
    const received = receiveAll(pair.server);
    pair.server.resume();
    pair.client.end();
    const got = await received;
    assert.ok(got.bytes < first.length);
    assert.deepEqual(got, new Expected(first.subarray(0, got.bytes)).digest(), 'only a prefix of the first buffer');
    await pair.close();
  });

  it('wired buffers: each claimed until released; the same buffer twice refuses the whole batch', async () => {
    const pool = createBufferPool({ size: 64 * 1024, count: 4 });
    const bufs = [pool.acquire()!, pool.acquire()!, pool.acquire()!];
    bufs.forEach((b, i) => b.fill(i + 1));
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    try {
      await assert.rejects(aioWrite(pair.client, [bufs[0]!, bufs[1]!, bufs[0]!]), { code: 'ERR_AIOTX_BUFFER_BUSY' });
      const r = await aioWrite(pair.client, bufs, { zeroCopy: 'on' });
      assert.equal(r.bytes, 3 * 64 * 1024);
      for (const b of bufs) pool.release(b); // none is left claimed
      pair.client.end();
      assert.deepEqual(await received, new Expected(...bufs).digest());
    } finally {
      pool.close();
      await pair.close();
    }
  });

  it('bad input is refused before anything is queued; an empty batch sends nothing', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    try {
      await assert.rejects(aioWrite(pair.client, [Buffer.alloc(10), 'text' as unknown as Buffer]), { name: 'TypeError', message: /data\[1\]/ });
      await assert.rejects(aioWrite(pair.client, [new Uint8Array(new SharedArrayBuffer(8))]), { name: 'TypeError' });
      assert.deepEqual(await aioWrite(pair.client, []), { bytes: 0, zeroCopyBytes: 0, copiedBytes: 0, segments: 0, backend: 'copy' });
      pair.client.end();
      assert.equal((await received).bytes, 0, 'nothing of a refused batch went out');
    } finally {
      await pair.close();
    }
  });
});
