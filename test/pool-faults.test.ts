// Wired pool faults: buffers released twice, pools dropped without close(), a full buffer table,
// and pools larger than RLIMIT_MEMLOCK allows (in a child process without CAP_IPC_LOCK).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBufferPool } from '../src/index.js';
import { useBackend } from './helpers/backends.js';
import { childPrelude, lastJson, memlockPrefix, runChild } from './helpers/child.js';

const { skip } = useBackend('uring');
const MiB = 1 << 20;

describe('wired pool faults', { skip }, () => {
  it('release() of a buffer that is not out throws ERR_AIOTX_BUFFER_NOT_ACQUIRED, so no buffer has two holders', () => {
    const pool = createBufferPool({ size: 4096, count: 2 });
    const a = pool.acquire()!;
    pool.release(a);
    assert.throws(() => pool.release(a), { code: 'ERR_AIOTX_BUFFER_NOT_ACQUIRED' }, 'released twice');
    const b = pool.acquire()!;
    assert.equal(b.byteOffset, a.byteOffset, 'the same memory, handed out again');
    assert.throws(() => pool.release(a), { code: 'ERR_AIOTX_BUFFER_NOT_ACQUIRED' }, "a stale holder cannot release the new holder's buffer");
    const c = pool.acquire()!;
    assert.notEqual(c.byteOffset, b.byteOffset);
    assert.equal(pool.acquire(), null);
    assert.equal(pool.available, 0);
    assert.throws(() => pool.release('x' as never), { name: 'TypeError' });
    pool.release(b);
    pool.release(c);
    assert.equal(pool.available, 2);
    pool.close();
  });

  it('says the buffer table is full, with the figures, when pools hold every slot', () => {
    const all = createBufferPool({ size: 4096, count: 1024 });
    assert.equal(all.wired, true, all.reason ?? '');
    const more = createBufferPool({ size: 4096, count: 1 });
    assert.equal(more.wired, false);
    assert.match(more.reason ?? '', /buffer table is full: this pool needs 1 consecutive slots, 0 of 1024 are free/);
    all.close();
    const after = createBufferPool({ size: 4096, count: 1 });
    assert.equal(after.wired, true, 'close() gave the slots back');
    after.close();
    more.close();
  });

  it('frees the slots and pinned pages of pools dropped without close() once collected (child process)', async () => {
    const script = `${childPrelude}
      const pinned = () => Number(/VmPin:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
      aiotx.createBufferPool({ size: 4096, count: 1 }).close(); // the ring's own pages, before
      const before = pinned();
      const wired = [];
      let peak = 0;
      for (let round = 0; round < 4; round++) {
        let pool = aiotx.createBufferPool({ size: 64 << 10, count: 1024 });
        wired.push(pool.wired);
        peak = Math.max(peak, pinned());
        pool = null;
        for (let i = 0; i < 50 && pinned() > before; i++) {
          globalThis.gc();
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      console.log(JSON.stringify({ wired, peak: peak - before, after: pinned() - before }));`;
    const r = lastJson<{ wired: boolean[]; peak: number; after: number }>(await runChild(script, { env: { AIOTX_BACKEND: 'uring' } }));
    assert.deepEqual(r.wired, [true, true, true, true], 'each pool found the slots the collected one held');
    assert.ok(r.peak >= 64 * 1024, `a pool pins its 64 MiB and the pages its buffers straddle (VmPin ${r.peak} KiB)`);
    assert.equal(r.after, 0, 'nothing stays pinned');
  });

  const prefix = memlockPrefix(8 * MiB);
  it('a pool larger than RLIMIT_MEMLOCK is not wired, says so, and writes from all its buffers byte-exact', { skip: typeof prefix === 'string' ? prefix : false }, async () => {
    const script = `${childPrelude}
      const big = aiotx.createBufferPool({ size: 1 << 20, count: 12 });
      const small = aiotx.createBufferPool({ size: 1 << 20, count: 2 });
      const p = await pair();
      const sent = [];
      const results = [];
      for (const pool of [big, small]) {
        const bufs = [];
        for (let i = 0; i < pool.count; i++) { const b = pool.acquire(); b.set(pattern(b.length, sent.length)); bufs.push(b); sent.push(b); }
        const settled = await Promise.allSettled(bufs.map((b) => aiotx.aioWrite(p.client, b, { zeroCopy: 'on' })));
        results.push(settled.map((s) => s.status === 'fulfilled' ? s.value.bytes : s.reason.code));
      }
      p.client.end();
      const got = await p.received;
      console.log(JSON.stringify({ big: [big.wired, big.reason], small: [small.wired, small.reason], results, got, want: { bytes: 14 << 20, sha256: sha(...sent) } }));`;
    const r = lastJson<{ big: [boolean, string]; small: [boolean, string | null]; results: unknown[][]; got: unknown; want: unknown }>(
      await runChild(script, { prefix: prefix as string[], env: { AIOTX_BACKEND: 'uring' } }),
    );
    assert.equal(r.big[0], false, 'not wired: the kernel registered only part of it');
    assert.match(r.big[1], /registering 12 buffers of 1048576 bytes failed: ENOMEM: RLIMIT_MEMLOCK \(8388608 bytes\)/);
    assert.deepEqual(r.small, [true, null], 'a pool within the limit is wired (the big one gave its pages back)');
    assert.deepEqual(r.results, [new Array(12).fill(MiB), [MiB, MiB]]);
    assert.deepEqual(r.got, r.want);
  });
});
