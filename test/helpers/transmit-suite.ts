// The transmit engine's behaviour, the same suite for every backend (one test file each):
// bytes, order, splitting, release, errors, the event loop. Loopback TCP, real sockets, every
// stream hashed end to end.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as DatagramSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { aioWrite, type WriteResult } from '../../src/index.js';
import type { BackendCase } from './backends.js';
import { wakeupsOver } from './wakeups.js';
import { closeAllPairs, drained, endAndCompare, Expected, fdOf, randomBytes, receiveAll, stillPending, tcpPair } from './sockets.js';


function checkResult(r: WriteResult, size: number, backend: string): void {
  assert.equal(r.bytes, size);
  assert.equal(r.backend, backend);
  assert.equal(r.zeroCopyBytes + r.copiedBytes, size, 'every byte accounted as released');
  if (size > 0) assert.ok(r.segments >= 1);
}

/** Sizes from 0 to several MiB, mostly small, some larger than any socket buffer. */
function randomSize(): number {
  const p = Math.random();
  if (p < 0.01) return 0;
  if (p < 0.7) return 1 + Math.floor(Math.random() * 65536);
  if (p < 0.96) return 65536 + Math.floor(Math.random() * 458752);
  return 1048576 + Math.floor(Math.random() * 5 * 1048576);
}

export function transmitSuite({ backend, zeroCopy, skip }: BackendCase): void {
  describe(`transmit on the ${backend} backend`, { skip }, () => {
    afterEach(closeAllPairs);

    it('sends the exact bytes and accounts every byte', async () => {
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const data = randomBytes(1 << 20);
      const r = await aioWrite(pair.client, data, { zeroCopy });
      checkResult(r, data.length, backend);
      // Loopback delivery always copies; the kernel says so per notification.
      if (backend !== 'copy') assert.equal(r.copiedBytes, data.length);
      await endAndCompare(pair, received, new Expected(data));
    });

    it('splits a job larger than the socket buffer and resubmits short sends', async () => {
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const data = randomBytes(48 << 20);
      const r = await aioWrite(pair.client, data, { zeroCopy });
      checkResult(r, data.length, backend);
      assert.ok(r.segments > 1, `48 MiB took ${r.segments} send call(s)`);
      await endAndCompare(pair, received, new Expected(data));
    });

    it('keeps call order across thousands of jobs of random sizes, all in flight', async () => {
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const expected = new Expected();
      const jobs: Promise<void>[] = [];
      for (let i = 0; i < 2000; i++) {
        const data = randomBytes(randomSize());
        expected.add(data);
        jobs.push(aioWrite(pair.client, data, { zeroCopy }).then((r) => checkResult(r, data.length, data.length ? backend : 'copy')));
      }
      await Promise.all(jobs);
      await endAndCompare(pair, received, expected);
    });

    it('settles a loop of mixed sizes, 4 in flight, Nagle on, where every job may end in a held tail', async () => {
      // A user's loop over the transmitter's tail push (a job ending mid-segment may sit in the
      // frame Nagle holds): every job settles, byte-exact. The rule decides when the tail goes,
      // which loopback's prompt ACKs hide (it passes with the push off too), not whether.
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const expected = new Expected();
      const sizes = [1 << 20, 100, 70000, 1, 65536, 3000, 200000, 7];
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < 400; i++) {
        const data = randomBytes(sizes[i % sizes.length]);
        expected.add(data);
        const job = aioWrite(pair.client, data, { zeroCopy }).then((r) => checkResult(r, data.length, backend));
        inFlight.add(job);
        void job.finally(() => inFlight.delete(job)).catch(() => {});
        if (inFlight.size >= 4) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await endAndCompare(pair, received, expected);
    });

    it("waits for the socket's own pending writes before its first segment", async () => {
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const expected = new Expected();
      const first = randomBytes(8 << 20);
      const second = randomBytes(3 << 20);
      const third = Buffer.from('tail written by Node after aioWrite was called');
      expected.add(first);
      expected.add(second);
      pair.client.write(first);
      const job = aioWrite(pair.client, second, { zeroCopy });
      checkResult(await job, second.length, backend);
      pair.client.write(third);
      expected.add(third);
      await endAndCompare(pair, received, expected);
    });

    it('writes to a raw connected fd', async () => {
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const data = randomBytes(5 << 20);
      checkResult(await aioWrite(fdOf(pair.client), data, { zeroCopy }), data.length, backend);
      await endAndCompare(pair, received, new Expected(data));
    });

    it('keeps working when a raw fd is adopted again after its transmitter retired', async () => {
      const pair = await tcpPair();
      const received = receiveAll(pair.server);
      const expected = new Expected();
      for (let round = 0; round < 3; round++) {
        const batch = Array.from({ length: 20 }, () => randomBytes(1 + Math.floor(Math.random() * 300000)));
        for (const b of batch) expected.add(b);
        const results = await Promise.all(batch.map((b) => aioWrite(fdOf(pair.client), b, { zeroCopy })));
        results.forEach((r, i) => checkResult(r, batch[i]!.length, backend));
        // Idle: the duplicate fd is closed and the next round starts over (MSG_ZEROCOPY ids resync).
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
      }
      await endAndCompare(pair, received, expected);
    });

    it('settles only once the kernel released the buffer: pending while the receiver stops reading', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const data = randomBytes(32 << 20);
      const job = aioWrite(pair.client, data, { zeroCopy });
      assert.equal(await stillPending(job, pair), true, 'a 32 MiB job cannot be released while nobody reads');
      const received = receiveAll(pair.server);
      pair.server.resume();
      checkResult(await job, data.length, backend);
      await endAndCompare(pair, received, new Expected(data));
    });

    it('rejects with ECONNRESET or EPIPE when the peer resets, without a crash', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const job = aioWrite(pair.client, randomBytes(32 << 20), { zeroCopy });
      await stillPending(job, pair);
      pair.server.resetAndDestroy();
      await assert.rejects(job, (err: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(err.code ?? ''));
      await pair.close();
    });

    it('settles every job when the peer resets with many jobs in flight: a sent prefix resolves, the rest rejects with the real error', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      // Many jobs, several sends each: the uring backend has chains of linked sends with the kernel.
      const jobs = Array.from({ length: 64 }, () => aioWrite(pair.client, randomBytes(768 << 10), { zeroCopy }));
      await stillPending(jobs[jobs.length - 1]!, pair);
      pair.server.resetAndDestroy();
      const results = await Promise.allSettled(jobs);
      const firstRejected = results.findIndex((r) => r.status === 'rejected');
      assert.ok(firstRejected >= 0, 'the jobs the reset cut off reject');
      results.forEach((r, i) => {
        if (i < firstRejected) return assert.equal(r.status, 'fulfilled');
        assert.equal(r.status, 'rejected', `job ${i} resolved after job ${firstRejected} was rejected`);
        const code = ((r as PromiseRejectedResult).reason as NodeJS.ErrnoException).code;
        assert.ok(['ECONNRESET', 'EPIPE'].includes(code ?? ''), `job ${i} rejected with ${code}`);
      });
      await pair.close();
    });

    it('fails only the datagram that met an error; the datagrams around it go out, in order', async () => {
      const { rx, tx } = await udpPair();
      const got: Buffer[] = [];
      rx.on('message', (m: Buffer) => got.push(m));
      try {
        for (let round = 0; round < 20; round++) {
          // All queued in one turn: one chain of linked sends on the uring backend, with the
          // oversized datagram (EMSGSIZE) somewhere in the middle of it.
          const batch = Array.from({ length: 8 }, (_, i) => randomBytes(i === 1 + (round % 6) ? 70000 : 100 + i));
          const results = await Promise.allSettled(batch.map((b) => aioWrite(tx, b, { zeroCopy })));
          const sent: Buffer[] = [];
          results.forEach((r, i) => {
            if (batch[i]!.length === 70000) {
              assert.equal(r.status, 'rejected');
              assert.equal(((r as PromiseRejectedResult).reason as NodeJS.ErrnoException).code, 'EMSGSIZE');
            } else {
              assert.equal(r.status, 'fulfilled', `datagram ${i}: ${r.status === 'rejected' ? String(r.reason) : ''}`);
              sent.push(batch[i]!);
            }
          });
          await arrived(rx, () => got.length, sent.length);
          assert.deepEqual(got.splice(0), sent, 'the datagrams around the failed one arrive, in order');
        }
      } finally {
        tx.close();
        rx.close();
      }
    });

    it('settles every job when the socket is destroyed with jobs in flight', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const jobs = Array.from({ length: 8 }, () => aioWrite(pair.client, randomBytes(8 << 20), { zeroCopy }));
      await stillPending(jobs[0]!, pair);
      pair.client.destroy();
      const results = await Promise.allSettled(jobs);
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.equal((r.reason as NodeJS.ErrnoException).code, 'ERR_SOCKET_CLOSED');
      }
      await pair.close();
    });

    it('honours an AbortSignal: a queued job is dropped without sending a byte', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const first = randomBytes(32 << 20);
      const job1 = aioWrite(pair.client, first, { zeroCopy });
      const controller = new AbortController();
      const job2 = aioWrite(pair.client, randomBytes(1 << 20), { zeroCopy, signal: controller.signal });
      await stillPending(job1, pair);
      controller.abort();
      await assert.rejects(job2, { name: 'AbortError', code: 'ABORT_ERR' });
      await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { zeroCopy, signal: controller.signal }), { name: 'AbortError' });
      const received = receiveAll(pair.server);
      pair.server.resume();
      checkResult(await job1, first.length, backend);
      await endAndCompare(pair, received, new Expected(first));
    });

    it('rejects a job whose buffer is detached before it starts, and sends nothing of it', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const first = randomBytes(32 << 20);
      const job1 = aioWrite(pair.client, first, { zeroCopy });
      const moved = new ArrayBuffer(1 << 20);
      const job2 = aioWrite(pair.client, moved, { zeroCopy });
      await stillPending(job1, pair);
      structuredClone(moved, { transfer: [moved] });
      const received = receiveAll(pair.server);
      pair.server.resume();
      await assert.rejects(job2, { code: 'ERR_INVALID_STATE' });
      checkResult(await job1, first.length, backend);
      await endAndCompare(pair, received, new Expected(first));
    });

    it('stops a started job on abort and keeps the socket usable', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const controller = new AbortController();
      const job = aioWrite(pair.client, randomBytes(64 << 20), { zeroCopy, signal: controller.signal });
      await stillPending(job, pair);
      controller.abort();
      const next = aioWrite(pair.client, Buffer.from('after the abort'), { zeroCopy });
      pair.server.resume();
      await assert.rejects(job, { name: 'AbortError' });
      assert.equal((await next).bytes, 15);
      await pair.close();
    });

    it('lets end() wait for pending jobs: every byte arrives before the FIN', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const received = receiveAll(pair.server);
      const data = randomBytes(24 << 20);
      const job = aioWrite(pair.client, data, { zeroCopy });
      pair.client.end();
      await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { zeroCopy }), { code: 'ERR_STREAM_WRITE_AFTER_END' });
      pair.server.resume();
      checkResult(await job, data.length, backend);
      assert.deepEqual(await received, new Expected(data).digest());
      await pair.close();
    });

    it('keeps call order across the connect event, and settles jobs of a socket destroyed while connecting', async () => {
      const pair = await tcpPair();
      const { port } = pair.server.address() as { port: number };
      const client = connect(port, '127.0.0.1');
      const first = randomBytes(100_000);
      const second = randomBytes(100_000);
      const jobs = [aioWrite(client, first, { zeroCopy })];
      client.once('connect', () => jobs.push(aioWrite(client, second, { zeroCopy })));
      const accepted = await new Promise<Socket>((resolve) => pair.listener.once('connection', resolve));
      const received = receiveAll(accepted);
      await new Promise((r) => client.once('connect', r));
      await Promise.all(jobs);
      client.end();
      assert.deepEqual(await received, new Expected(first, second).digest());

      const doomed = connect(port, '127.0.0.1');
      doomed.on('error', () => {});
      const controller = new AbortController();
      const a = aioWrite(doomed, Buffer.alloc(10), { zeroCopy });
      const b = aioWrite(doomed, Buffer.alloc(10), { zeroCopy, signal: controller.signal });
      controller.abort();
      doomed.destroy();
      await assert.rejects(b, { name: 'AbortError' });
      await assert.rejects(a, { code: 'ERR_SOCKET_CLOSED' });
      await pair.close();
    });

    it('rejects a job on a destroyed socket only once the kernel let go of its buffer', { skip: backend === 'copy' ? 'copy releases at send' : false }, async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const data = Buffer.alloc(32 << 20, 'A');
      const job = aioWrite(pair.client, data, { zeroCopy });
      await stillPending(job, pair);
      pair.client.destroy();
      await assert.rejects(job, { code: 'ERR_SOCKET_CLOSED' });
      data.fill('B'); // the caller owns the buffer again: nothing of this may reach the peer
      let as = 0;
      let bs = 0;
      pair.server.on('data', (d: Buffer) => {
        for (const x of d) x === 0x41 ? as++ : x === 0x42 ? bs++ : 0;
      });
      pair.server.resume();
      await new Promise((r) => pair.server.once('close', r));
      // Bytes of the job did arrive, so the receiver saw the stream up to the reset: none changed.
      assert.ok(as > 0, 'the receiver read nothing of the stream: the check below would prove nothing');
      assert.equal(bs, 0, 'bytes written after the rejection reached the peer');
      await pair.close();
    });

    it('sends datagrams byte-exact: one job one datagram, or one GSO super-datagram', async () => {
      const { rx, tx } = await udpPair();
      const got = new Expected();
      let datagrams = 0;
      rx.on('message', (m: Buffer) => {
        got.add(m);
        datagrams++;
      });
      const sent = new Expected();
      let expectedDatagrams = 0;
      // Paces the sender to the receiver: loopback UDP drops what the receive buffer cannot hold.
      const caughtUp = () => arrived(rx, () => datagrams, expectedDatagrams);
      try {
        for (let i = 0; i < 1000; i += 4) {
          const batch = Array.from({ length: 4 }, () => randomBytes(1 + Math.floor(Math.random() * 12000)));
          for (const b of batch) sent.add(b);
          const results = await Promise.all(batch.map((b) => aioWrite(tx, b, { zeroCopy })));
          results.forEach((r, j) => checkResult(r, batch[j]!.length, backend));
          expectedDatagrams += batch.length;
          await caughtUp();
        }
        for (let i = 0; i < 50; i++) {
          const b = randomBytes(60000);
          sent.add(b);
          const r = await aioWrite(tx, b, { zeroCopy, segmentSize: 1400 });
          checkResult(r, b.length, backend);
          assert.equal(r.segments, 1, 'a GSO super-datagram is one send');
          expectedDatagrams += Math.ceil(b.length / 1400);
          await caughtUp();
        }
        assert.deepEqual(got.digest(), sent.digest());
      } finally {
        tx.close();
        rx.close();
      }
    });

    it('keeps each datagram\'s own GSO segment size when jobs with and without one are in flight together', async () => {
      const { rx, tx } = await udpPair();
      const sizes: number[] = [];
      rx.on('message', (m: Buffer) => sizes.push(m.length));
      try {
        for (let round = 0; round < 10; round++) {
          // 6000 bytes cut into 1400-byte datagrams, then 3000 bytes as one datagram, alternating.
          const jobs = Array.from({ length: 8 }, (_, i) =>
            i % 2 === 0 ? aioWrite(tx, randomBytes(6000), { zeroCopy, segmentSize: 1400 }) : aioWrite(tx, randomBytes(3000), { zeroCopy }),
          );
          await Promise.all(jobs);
          const expected = Array.from({ length: 4 }, () => [1400, 1400, 1400, 1400, 400, 3000]).flat();
          await arrived(rx, () => sizes.length, expected.length);
          assert.deepEqual(sizes.splice(0), expected);
        }
      } finally {
        tx.close();
        rx.close();
      }
    });

    it('does not spin while a job waits on a stalled receiver, nor once it is idle', async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const job = aioWrite(pair.client, randomBytes(64 << 20), { zeroCopy });
      assert.equal(await stillPending(job, pair), true);
      // A spinning loop wakes on every turn: the engine's callbacks, or libuv retrying read(2).
      const waiting = await wakeupsOver();
      assert.ok(!waiting.spinning, `the loop spins while the receiver stalls: ${JSON.stringify(waiting)}`);
      pair.server.resume();
      await job;
      await aioWrite(pair.client, randomBytes(1 << 20), { zeroCopy });
      await drained(pair.client); // the receiver, in this process, has read everything
      // Idle, writable, notifications drained: nothing should wake the loop.
      const idle = await wakeupsOver();
      assert.ok(!idle.spinning, `the loop spins once idle: ${JSON.stringify(idle)}`);
      await pair.close();
    });
  });
}

/** A receiving udp4 socket on 127.0.0.1 and a sender connected to it. */
async function udpPair(): Promise<{ rx: DatagramSocket; tx: DatagramSocket }> {
  const rx = createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const tx = createSocket('udp4');
  tx.connect(rx.address().port, '127.0.0.1');
  await once(tx, 'connect');
  return { rx, tx };
}

/**
 * Waits for `expected` datagrams: loopback delivers a datagram into rx's queue within the send
 * call, so once rx's kernel queue is empty whatever is missing was lost (fails at once).
 */
async function arrived(rx: DatagramSocket, count: () => number, expected: number): Promise<void> {
  let before = -1;
  while (count() < expected) {
    if (count() === before && udpQueued(rx) === 0) break;
    before = count();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(count(), expected, 'every datagram arrived');
}

/** Bytes in rx's kernel receive queue (ss, sock_diag). */
function udpQueued(rx: DatagramSocket): number {
  const out = execFileSync('ss', ['-unaH', `( sport = :${rx.address().port} )`], { encoding: 'utf8' });
  return Number(out.trim().split(/\s+/)[1]);
}
