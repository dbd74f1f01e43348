// The copy path's gathered sends: copy jobs queued in one turn on a stream socket go out in one
// sendmsg(2) over their buffers (addon.sendv), byte-exact and in call order with single jobs,
// batches and sendFile; a gather the socket takes only part of is split at the right byte; an
// aborted or detached job in the middle of the queue leaves the others intact; datagram sockets
// never gather (one job, one datagram).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { aioWrite, sendFile, type WriteResult } from '../src/index.js';
import { addon, MAX_GATHER } from '../src/native/addon.js';
import { closeAllPairs, connectedUdp, endAndCompare, Expected, nextDatagrams, randomBytes, receiveAll, stalled, tcpPair, track } from './helpers/sockets.js';

/** Every sendv() call's buffer count, from here on. */
const gathers: number[] = [];
const sendv = addon.sendv.bind(addon);
addon.sendv = (fd, datas, lengths, count, headOffset) => {
  gathers.push(count);
  return sendv(fd, datas, lengths, count, headOffset);
};

function sizes(n: number, max: number): number[] {
  return Array.from({ length: n }, () => 1 + Math.floor(Math.random() * max));
}

describe('copy path: gathered sends', () => {
  let dir = '';
  let path = '';
  let content: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'aiotx-gather-'));
    path = join(dir, 'file.bin');
    content = randomBytes(3 << 20);
    writeFileSync(path, content);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(closeAllPairs);

  it("sends a batch's buffers in one gathered send", async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const buffers = sizes(10, 2000).map((n) => randomBytes(n));
    gathers.length = 0;
    const r = await aioWrite(pair.client, buffers, { zeroCopy: 'off' });
    assert.deepEqual(gathers, [10], 'a batch of ten small buffers, one sendv of ten');
    const bytes = buffers.reduce((a, b) => a + b.length, 0);
    assert.deepEqual(r, { bytes, zeroCopyBytes: 0, copiedBytes: bytes, segments: 10, backend: 'copy' });
    await endAndCompare(pair, received, new Expected(...buffers));
  });

  it('gathers large writes of one turn, each settled with its own result', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const buffers = sizes(10, 100000).map((n) => randomBytes(64 * 1024 + n));
    gathers.length = 0;
    const results = await Promise.all(buffers.map((b) => aioWrite(pair.client, b, { zeroCopy: 'off' })));
    assert.equal(gathers[0], 10, `ten writes of 64 KiB and up in one turn start as one sendv of ten: ${gathers.join(',')}`);
    results.forEach((r, i) => assert.equal(r.bytes, buffers[i]!.length));
    await endAndCompare(pair, received, new Expected(...buffers));
  });

  it('keeps call order interleaved with batches, sendFile and more than one gather of jobs', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const expected = new Expected();
    const jobs: Promise<WriteResult>[] = [];
    gathers.length = 0;
    for (let round = 0; round < 6; round++) {
      // More single jobs than one gather holds, then a batch, then a file range.
      for (const n of sizes(MAX_GATHER + 7, 70000)) {
        const b = randomBytes(n);
        expected.add(b);
        jobs.push(aioWrite(pair.client, b, { zeroCopy: 'off' }));
      }
      const batch = sizes(5, 300000).map((n) => randomBytes(n));
      for (const b of batch) expected.add(b);
      jobs.push(aioWrite(pair.client, batch, { zeroCopy: 'off' }));
      const offset = round * 1000;
      const length = 100000 + round * 77777;
      expected.add(content.subarray(offset, offset + length));
      jobs.push(sendFile(pair.client, path, { offset, length }));
    }
    const results = await Promise.all(jobs);
    for (const r of results) assert.equal(r.bytes, r.copiedBytes);
    assert.ok(gathers.every((n) => n >= 1 && n <= MAX_GATHER));
    assert.ok(gathers.some((n) => n > 1), `gathered sends: ${gathers.join(',')}`);
    await endAndCompare(pair, received, expected);
  });

  it('splits a gather the socket takes only part of, and sends the rest as space frees', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const expected = new Expected();
    const buffers = sizes(48, 1 << 20).map((n) => randomBytes(n));
    for (const b of buffers) expected.add(b);
    const jobs = buffers.map((b) => aioWrite(pair.client, b, { zeroCopy: 'off' }));
    const states = jobs.map(track);
    await stalled(pair.client);
    // The socket filled part way through the queue: the jobs after that point are pending.
    assert.ok(states.some((s) => !s.settled), 'some jobs wait for socket space');
    assert.equal(states.at(-1)!.settled, false);
    const received = receiveAll(pair.server);
    pair.server.resume();
    const results = await Promise.all(jobs);
    results.forEach((r, i) => assert.equal(r.bytes, buffers[i]!.length));
    assert.ok(results.some((r) => r.segments > 1), 'a job cut by a full socket took more than one send');
    await endAndCompare(pair, received, expected);
  });

  it('rejects an aborted job in the middle of the queue and sends the others around it', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const expected = new Expected();
    const head = randomBytes(16 << 20);
    const middle = randomBytes(1 << 20);
    const tail = randomBytes(3 << 20);
    expected.add(head);
    expected.add(tail);
    const controller = new AbortController();
    const first = aioWrite(pair.client, head, { zeroCopy: 'off' });
    const aborted = aioWrite(pair.client, middle, { zeroCopy: 'off', signal: controller.signal });
    const last = aioWrite(pair.client, tail, { zeroCopy: 'off' });
    await stalled(pair.client);
    controller.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    const received = receiveAll(pair.server);
    pair.server.resume();
    assert.equal((await first).bytes, head.length);
    assert.equal((await last).bytes, tail.length);
    await endAndCompare(pair, received, expected);
  });

  it('rejects a job whose buffer was detached while queued behind others, and sends the rest', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const expected = new Expected();
    const head = randomBytes(16 << 20);
    const moved = new ArrayBuffer(1 << 20);
    const tail = randomBytes(2 << 20);
    expected.add(head);
    expected.add(tail);
    const first = aioWrite(pair.client, head, { zeroCopy: 'off' });
    const detached = aioWrite(pair.client, new Uint8Array(moved), { zeroCopy: 'off' });
    const last = aioWrite(pair.client, tail, { zeroCopy: 'off' });
    await stalled(pair.client);
    structuredClone(moved, { transfer: [moved] });
    const received = receiveAll(pair.server);
    pair.server.resume();
    await assert.rejects(detached, { code: 'ERR_INVALID_STATE' });
    assert.equal((await first).bytes, head.length);
    assert.equal((await last).bytes, tail.length);
    await endAndCompare(pair, received, expected);
  });

  it('never gathers on a datagram socket: each job of one turn is one datagram', async () => {
    const udp = await connectedUdp();
    try {
      const buffers = sizes(12, 1400).map((n) => randomBytes(n));
      gathers.length = 0;
      await Promise.all(buffers.map((b) => aioWrite(udp.tx, b, { zeroCopy: 'off' })));
      assert.deepEqual(gathers, []);
      const got = await nextDatagrams(udp.got, buffers.length);
      assert.deepEqual(got, buffers);
    } finally {
      udp.close();
    }
  });
});

describe('addon.sendv: bad input throws, never crashes', () => {
  const lengths = new Float64Array(MAX_GATHER + 1);
  it('checks its arguments', () => {
    const b = Buffer.alloc(8);
    assert.throws(() => addon.sendv(0, 'x' as never, lengths, 1, 0), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => addon.sendv(0, [b], new Float32Array(4) as never, 1, 0), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => addon.sendv(0, [b], new Float64Array(1), 1, 0), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => addon.sendv(0, [b], lengths, 2, 0), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => addon.sendv(0, Array(MAX_GATHER + 1).fill(b), new Float64Array(MAX_GATHER + 2), MAX_GATHER + 1, 0), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => addon.sendv(0, [{} as never], lengths, 1, 0), { code: 'ERR_INVALID_ARG_TYPE' });
    lengths[0] = -1;
    assert.throws(() => addon.sendv(0, [b], lengths, 1, 0), { code: 'ERR_OUT_OF_RANGE' });
    lengths[0] = 0.5;
    assert.throws(() => addon.sendv(0, [b], lengths, 1, 0), { code: 'ERR_OUT_OF_RANGE' });
  });

  it('refuses memory past a buffer, or detached, with -EFAULT and reads nothing', () => {
    const b = Buffer.alloc(8);
    lengths[0] = 8;
    assert.equal(addon.sendv(0, [b], lengths, 1, 1), -14);
    assert.equal(lengths[1], -14);
    lengths[0] = 9;
    assert.equal(addon.sendv(0, [b], lengths, 1, 0), -14);
    const ab = new ArrayBuffer(8);
    structuredClone(ab, { transfer: [ab] });
    lengths[0] = 8;
    assert.equal(addon.sendv(0, [ab], lengths, 1, 0), -14);
  });

  it('takes the pointers only after every element was read, so a getter cannot free one under it', () => {
    const victim = new ArrayBuffer(1 << 16);
    const datas: unknown[] = [new Uint8Array(victim)];
    Object.defineProperty(datas, 1, {
      get() {
        structuredClone(victim, { transfer: [victim] });
        return Buffer.alloc(4);
      },
    });
    lengths[0] = 1 << 16;
    lengths[1] = 4;
    // The first buffer is seen detached (the gather stops before it): -EFAULT, no read of freed memory.
    assert.equal(addon.sendv(0, datas as never, lengths, 2, 0), -14);
  });
});
