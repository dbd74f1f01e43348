// The wired buffer pool: writes from registered buffers are byte-exact, a buffer in flight can be
// neither reused nor released, and a pool that cannot be wired says why and still works.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, it } from 'node:test';
import { aioWrite, createBufferPool } from '../src/index.js';
import { useBackend } from './helpers/backends.js';
import { closeAllPairs, endAndCompare, Expected, receiveAll, stillPending, tcpPair } from './helpers/sockets.js';

const { skip } = useBackend('uring');
const indexUrl = new URL('../src/index.js', import.meta.url).href;

describe('wired buffer pool', { skip }, () => {
  afterEach(closeAllPairs);

  it('writes from wired buffers byte-exact, reusing each only after its job settled', async () => {
    const pool = createBufferPool({ size: 256 << 10, count: 8 });
    assert.equal(pool.wired, true, pool.reason ?? '');
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const expected = new Expected();
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < 400; i++) {
      let buf = pool.acquire();
      while (!buf) {
        await Promise.race(inFlight);
        buf = pool.acquire();
      }
      const length = 1 + Math.floor(Math.random() * buf.length);
      buf.fill(i & 0xff, 0, length);
      const view = buf.subarray(0, length);
      expected.add(view);
      const b = buf;
      const job: Promise<void> = aioWrite(pair.client, view, { zeroCopy: 'on' }).then((r) => {
        assert.equal(r.bytes, length);
        assert.equal(r.backend, 'uring');
        inFlight.delete(job);
        pool.release(b);
      });
      inFlight.add(job);
    }
    await Promise.all(inFlight);
    await endAndCompare(pair, received, expected);
    assert.equal(pool.available, 8);
    pool.close();
  });

  it('refuses to reuse, release or close a buffer whose job is in flight', async () => {
    const pool = createBufferPool({ size: 16 << 20, count: 2 });
    const pair = await tcpPair();
    pair.server.pause();
    const buf = pool.acquire()!;
    const job = aioWrite(pair.client, buf, { zeroCopy: 'on' });
    await assert.rejects(aioWrite(pair.client, buf.subarray(10, 20), { zeroCopy: 'on' }), { code: 'ERR_AIOTX_BUFFER_BUSY' });
    assert.throws(() => pool.release(buf), { code: 'ERR_AIOTX_BUFFER_BUSY' });
    assert.throws(() => pool.close(), { code: 'ERR_AIOTX_BUFFER_BUSY' });
    assert.equal(await stillPending(job, pair), true);
    const other = pool.acquire()!;
    assert.notEqual(other.byteOffset, buf.byteOffset, 'a buffer in flight is never handed out again');
    assert.equal(pool.acquire(), null);
    pair.server.resume();
    assert.equal((await job).bytes, buf.length);
    pool.release(buf);
    pool.release(other);
    assert.throws(() => pool.release(Buffer.alloc(10)), { code: 'ERR_INVALID_ARG_VALUE' });
    pool.close();
    assert.throws(() => pool.acquire(), { code: 'ERR_AIOTX_POOL_CLOSED' });
    await pair.close();
  });

  it('rejects bad pool options', () => {
    assert.throws(() => createBufferPool({ size: 0, count: 1 }), { name: 'RangeError' });
    assert.throws(() => createBufferPool({ size: 4096, count: 5000 }), { name: 'RangeError' });
    assert.throws(() => createBufferPool({ size: '4096' as never, count: 1 }), { name: 'TypeError' });
    assert.throws(() => createBufferPool(null as never), { name: 'TypeError' });
  });

  it('says why a pool is not wired where io_uring is not the backend, and still writes', () => {
    const script = `
      import net from 'node:net';
      import { aioWrite, createBufferPool } from ${JSON.stringify(indexUrl)};
      const srv = net.createServer((s) => s.resume()).listen(0, '127.0.0.1', async () => {
        const c = net.connect(srv.address().port, '127.0.0.1');
        await new Promise((r) => c.once('connect', r));
        const pool = createBufferPool({ size: 65536, count: 2 });
        const r = await aioWrite(c, pool.acquire(), { zeroCopy: 'on' });
        console.log(JSON.stringify({ wired: pool.wired, reason: pool.reason, backend: r.backend, bytes: r.bytes }));
        c.destroy(); srv.close();
      });`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, AIOTX_BACKEND: 'msgzerocopy' },
    });
    const r = JSON.parse(out) as { wired: boolean; reason: string; backend: string; bytes: number };
    assert.equal(r.wired, false);
    assert.match(r.reason, /msgzerocopy/);
    assert.deepEqual([r.backend, r.bytes], ['msgzerocopy', 65536]);
  });
});
