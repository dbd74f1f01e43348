// The copy path's gathered send: copy jobs that queued on a full stream socket go out together in
// one sendmsg(2) once it drains, in call order, byte-exact; a job detached or aborted while
// queued drops out of the gather and fails alone. Counts the native calls to prove gathering
// happened, hashes the stream to prove it was right.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { aioWrite, sendFile } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { closeAllPairs, endAndCompare, Expected, fdOf, randomBytes, receiveAll, stillPending, tcpPair } from './helpers/sockets.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Every sendGathered call's job count, recorded while `body` runs. */
async function gathers<T>(body: () => Promise<T>): Promise<{ value: T; counts: number[] }> {
  const entry = addon as { sendGathered: typeof addon.sendGathered };
  const real = entry.sendGathered;
  const counts: number[] = [];
  entry.sendGathered = (fd, views, spans, count) => {
    counts.push(count);
    return real.call(addon, fd, views, spans, count);
  };
  try {
    return { value: await body(), counts };
  } finally {
    entry.sendGathered = real;
  }
}

const f64 = (...v: number[]) => Float64Array.from(v);

describe('sendGathered (native)', () => {
  afterEach(closeAllPairs);

  it('sends its views in order, and stops before a detached or short one', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const fd = fdOf(pair.client);
    const a = randomBytes(1000);
    const b = randomBytes(3000);
    const c = randomBytes(500);
    assert.equal(addon.sendGathered(fd, [a, b, c], f64(10, 990, 0, 3000, 0, 500), 3), 990 + 3000 + 500);
    const moved = new ArrayBuffer(64);
    structuredClone(moved, { transfer: [moved] });
    assert.equal(addon.sendGathered(fd, [c, moved, a], f64(0, 500, 0, 64, 0, 1000), 3), 500, 'the gather ends before the detached view');
    assert.equal(addon.sendGathered(fd, [c, a], f64(0, 100, 900, 101), 2), 100, 'the gather ends before the span past its view');
    assert.equal(addon.sendGathered(fd, [moved], f64(0, 64), 1), -14, 'EFAULT when the first view is unusable');
    assert.equal(addon.sendGathered(fd, [a], f64(0, 0), 0), 0);
    await endAndCompare(pair, received, new Expected(a.subarray(10), b, c, c, c.subarray(0, 100)));
  });

  it('refuses bad views, spans and counts without sending', () => {
    const buf = Buffer.alloc(8);
    assert.throws(() => addon.sendGathered(999999, buf as never, f64(0, 1), 1), { name: 'TypeError' });
    assert.throws(() => addon.sendGathered(999999, [buf], [0, 1] as never, 1), { name: 'TypeError' });
    assert.throws(() => addon.sendGathered(999999, [buf], f64(0, 1), 2), { name: 'RangeError' }, 'more than the views');
    assert.throws(() => addon.sendGathered(999999, [buf, buf], f64(0, 1), 2), { name: 'RangeError' }, 'more than the spans');
    const many = Array.from({ length: 65 }, () => buf);
    assert.throws(() => addon.sendGathered(999999, many, new Float64Array(130), 65), { name: 'RangeError' }, 'over 64');
    assert.throws(() => addon.sendGathered(999999, [buf], f64(-1, 1), 1), { name: 'RangeError' });
    assert.throws(() => addon.sendGathered(999999, [buf], f64(0, NaN), 1), { name: 'RangeError' });
    assert.throws(() => addon.sendGathered(999999, ['x' as never], f64(0, 1), 1), { name: 'TypeError' });
    assert.equal(addon.sendGathered(999999, [buf], f64(0, 8), 1), -9, 'EBADF as -errno');
  });
});

describe('copy jobs queued on a full socket', () => {
  afterEach(closeAllPairs);

  it('go out gathered once it drains, in call order, byte-exact', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const chunks = Array.from({ length: 100 }, (_, i) => randomBytes(4096 + ((i * 7919) % 60000)));
    const { value: results, counts } = await gathers(async () => {
      const first = randomBytes(16 << 20);
      const jobs = [aioWrite(pair.client, first, { zeroCopy: 'off' }), ...chunks.map((c) => aioWrite(pair.client, c, { zeroCopy: 'off' }))];
      assert.ok(await stillPending(jobs[0]!, pair), 'the first job waits on the stalled receiver');
      const received = receiveAll(pair.server);
      pair.server.resume();
      const done = await Promise.all(jobs);
      await endAndCompare(pair, received, new Expected(first, ...chunks));
      return done;
    });
    results.forEach((r, i) => assert.equal(r.bytes, i === 0 ? 16 << 20 : chunks[i - 1]!.length));
    assert.ok(Math.max(...counts) > 1, `queued jobs shared a send: counts ${counts.join(',')}`);
    assert.ok(counts.every((n) => n <= 64));
  });

  it('drop a job detached or aborted while queued; the rest of the gather goes, in order', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const first = randomBytes(16 << 20);
    const a = randomBytes(50000);
    const moved = new ArrayBuffer(40000);
    const b = randomBytes(30000);
    const ac = new AbortController();
    const c = randomBytes(20000);
    const jobs = [first, a, moved, b].map((d) => aioWrite(pair.client, d, { zeroCopy: 'off' }));
    const aborted = aioWrite(pair.client, randomBytes(10000), { zeroCopy: 'off', signal: ac.signal });
    const last = aioWrite(pair.client, c, { zeroCopy: 'off' });
    const refusals = [assert.rejects(jobs[2]!, { code: 'ERR_INVALID_STATE' }), assert.rejects(aborted, { name: 'AbortError' })];
    assert.ok(await stillPending(jobs[0]!, pair));
    structuredClone(moved, { transfer: [moved] });
    ac.abort();
    const received = receiveAll(pair.server);
    pair.server.resume();
    await Promise.all(refusals);
    for (const j of [jobs[0]!, jobs[1]!, jobs[3]!, last]) await j;
    await endAndCompare(pair, received, new Expected(first, a, b, c));
  });

  it('keep their order with a sendFile and a Node write between them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aiotx-gather-'));
    try {
      const file = randomBytes(300000);
      await writeFile(join(dir, 'f'), file);
      const pair = await tcpPair();
      pair.server.pause();
      const first = randomBytes(16 << 20);
      const a = randomBytes(70000);
      const b = randomBytes(90000);
      const c = randomBytes(10000);
      const jobs = [aioWrite(pair.client, first, { zeroCopy: 'off' }), aioWrite(pair.client, a, { zeroCopy: 'off' }), sendFile(pair.client, join(dir, 'f')), aioWrite(pair.client, b, { zeroCopy: 'off' })];
      assert.ok(await stillPending(jobs[0]!, pair));
      const received = receiveAll(pair.server);
      pair.server.resume();
      await Promise.all(jobs);
      // Node's own write after the jobs settled, then another job: still in call order.
      await new Promise<void>((resolve, reject) => pair.client.write(c, (err) => (err ? reject(err) : resolve())));
      await aioWrite(pair.client, a, { zeroCopy: 'off' });
      await endAndCompare(pair, received, new Expected(first, a, file, b, c, a));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
