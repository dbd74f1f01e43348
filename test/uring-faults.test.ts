// Faults on the uring backend that must never cost the stream: sockets without SEND_ZC support,
// pages that cannot be pinned, io_uring_enter refusing entries, buffers detached while their
// entries wait; and the ring starting only when a zero-copy write needs it. Memory-lock limits
// and io_uring_enter failures are simulated in child processes only.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { aioWrite, createBufferPool } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { startRing } from '../src/engine/uring-ring.js';
import { useBackend } from './helpers/backends.js';
import { childPrelude, enterFaultLauncher, enterFaultSkip, lastJson, memlockPrefix, runChild } from './helpers/child.js';
import { randomBytes } from './helpers/sockets.js';

const { skip } = useBackend('uring');
const MiB = 1 << 20;

describe('uring faults', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-uring-faults-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('copies on an AF_UNIX socket (SEND_ZC EOPNOTSUPP), byte-exact, and reports it in copiedBytes', async () => {
    const path = join(dir, 'stream.sock');
    const listener = createServer().listen(path);
    await once(listener, 'listening');
    const accepted = once(listener, 'connection') as Promise<[Socket]>;
    const client = connect(path);
    await once(client, 'connect');
    const [server] = await accepted;
    const hash = createHash('sha256');
    let received = 0;
    server.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    const ended = once(server, 'end');
    const expected = createHash('sha256');
    const pool = createBufferPool({ size: 256 << 10, count: 1 });
    const wired = pool.acquire()!;
    wired.set(randomBytes(wired.length));
    const chunks = [randomBytes(100_000), randomBytes(3 * MiB + 17), wired, randomBytes(1), randomBytes(64 << 10)];
    const results = await Promise.all(chunks.map((c) => aioWrite(client, c, { zeroCopy: 'on' })));
    for (const c of chunks) expected.update(c);
    results.forEach((r, i) => {
      assert.equal(r.bytes, chunks[i]!.length);
      assert.deepEqual([r.copiedBytes, r.zeroCopyBytes], [r.bytes, 0], 'every byte copied, and said so');
    });
    const later = await aioWrite(client, chunks[0]!, { zeroCopy: 'on' });
    expected.update(chunks[0]!);
    assert.equal(later.copiedBytes, chunks[0]!.length, 'the socket keeps copying');
    client.end();
    await ended;
    assert.deepEqual([received, hash.digest('hex')], [chunks.reduce((n, c) => n + c.length, chunks[0]!.length), expected.digest('hex')]);
    pool.release(wired);
    pool.close();
    client.destroy();
    server.destroy();
    listener.close();
  });

  it('submits only the entries before a detached buffer; the kernel gets none of it', () => {
    assert.equal(startRing(), 0);
    const detached = new ArrayBuffer(8);
    structuredClone(detached, { transfer: [detached] });
    const live = Buffer.alloc(8);
    const table = new Float64Array(18);
    // fd 0x7fffffff is no file: a taken entry completes with EBADF under a tag nobody owns.
    for (let i = 0; i < 3; i++) table.set([0x7fffffff, 0, 4, 0xfffff000 + i, -1, 0], i * 6);
    assert.equal(addon.uringSubmit(table, [live, detached, live], 3), 1, 'the entry before it is taken');
    assert.equal(addon.uringSubmit(table, [detached, live, live], 3), 0, 'none when it is first');
    assert.equal(addon.uringSubmit(table, [live, live, live], 3), 3);
  });

  describe('the ring starts only when a zero-copy write needs it', () => {
    const script = `${childPrelude}
      const rings = () => fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd).includes('io_uring'); } catch { return false; } }).length;
      const p = await pair();
      const counts = [rings()];
      await aiotx.aioWrite(p.client, pattern(256 << 10, 1), { zeroCopy: 'off' });
      await aiotx.aioWrite(p.client, pattern(100, 2));
      counts.push(rings());
      const zc = await aiotx.aioWrite(p.client, pattern(256 << 10, 3), { zeroCopy: 'on' });
      counts.push(rings());
      p.client.end();
      const got = await p.received;
      console.log(JSON.stringify({ counts, backend: zc.backend, bytes: got.bytes }));`;

    it('AIOTX_BACKEND=copy: never', async () => {
      const r = lastJson<{ counts: number[]; backend: string; bytes: number }>(await runChild(script, { env: { AIOTX_BACKEND: 'copy' } }));
      assert.deepEqual(r, { counts: [0, 0, 0], backend: 'copy', bytes: (512 << 10) + 100 });
    });

    it('uring: not for copy writes, then once for the first zero-copy write', async () => {
      const r = lastJson<{ counts: number[]; backend: string; bytes: number }>(await runChild(script, { env: { AIOTX_BACKEND: 'uring' } }));
      assert.deepEqual(r, { counts: [0, 0, 1], backend: 'uring', bytes: (512 << 10) + 100 });
    });
  });

  describe('RLIMIT_MEMLOCK without CAP_IPC_LOCK (child process)', () => {
    // Large writes pin more than the limit allows (ENOMEM): the connection must survive, every
    // byte arrive, and the copy be reported. 8 MiB is the usual default; 512 KiB lets the ring
    // start but never pins a whole 1 MiB segment.
    for (const limit of [8 * MiB, 512 << 10]) {
      const prefix = memlockPrefix(limit);
      it(`${limit >> 10} KiB: 32 MiB zero-copy writes go out whole, copied where pinning failed`, { skip: typeof prefix === 'string' ? prefix : false }, async () => {
        const script = `${childPrelude}
          const p = await pair();
          const big = pattern(32 << 20, 1), next = pattern(3 << 20, 2), small = pattern(70000, 3);
          const results = await Promise.allSettled([big, next, small].map((d) => aiotx.aioWrite(p.client, d, { zeroCopy: 'on' })));
          const again = await aiotx.aioWrite(p.client, big, { zeroCopy: 'on' }).catch((e) => ({ error: e.code }));
          p.client.end();
          const got = await p.received;
          console.log(JSON.stringify({
            results: results.map((r) => r.status === 'fulfilled' ? { bytes: r.value.bytes, copied: r.value.copiedBytes, backend: r.value.backend } : { error: r.reason.code }),
            again: again.error ?? again.bytes, got, want: { bytes: 2 * big.length + next.length + small.length, sha256: sha(big, next, small, big) },
          }));`;
        const r = lastJson<{ results: unknown[]; again: unknown; got: unknown; want: unknown }>(
          await runChild(script, { prefix: prefix as string[], env: { AIOTX_BACKEND: 'uring' } }),
        );
        assert.deepEqual(r.results, [
          { bytes: 32 * MiB, copied: 32 * MiB, backend: 'uring' },
          { bytes: 3 * MiB, copied: 3 * MiB, backend: 'uring' },
          { bytes: 70000, copied: 70000, backend: 'uring' },
        ]);
        assert.equal(r.again, 32 * MiB);
        assert.deepEqual(r.got, r.want);
      });
    }

    const noMemlock = memlockPrefix(0);
    it('probe() names RLIMIT_MEMLOCK when it is why io_uring cannot start', { skip: typeof noMemlock === 'string' ? noMemlock : false }, async () => {
      const script = `${childPrelude}
        console.log(JSON.stringify(aiotx.probe().backends.uring));`;
      const r = lastJson<{ available: boolean; reason: string }>(await runChild(script, { prefix: noMemlock as string[] }));
      assert.equal(r.available, false);
      assert.match(r.reason, /ENOMEM: RLIMIT_MEMLOCK \(0 bytes\)/);
    });
  });

  describe('io_uring_enter refusing entries (seccomp user notification, child process)', () => {
    const skipFaults = enterFaultSkip();
    const errno = (name: keyof typeof constants.errno) => String(constants.errno[name]);

    // Three sockets, four jobs each; the kernel refuses every submission until the child lets it
    // go. The jobs wait (nothing was sent), one buffer is detached meanwhile, then all go out.
    const script = `${childPrelude}
      const pairs = await Promise.all([0, 1, 2].map(() => pair()));
      const settled = [];
      const jobs = [], sent = [[], [], []];
      let victim = null;
      for (let s = 0; s < 3; s++) for (let j = 0; j < 4; j++) {
        const size = [200000, 1 << 20, 4096, (3 << 20) + 5][j];
        const isVictim = s === 1 && j === 1;
        const data = isVictim ? new Uint8Array(size) : pattern(size, s * 4 + j);
        if (isVictim) { data.set(pattern(size, 99)); victim = data.buffer; } else sent[s].push(data);
        const job = aiotx.aioWrite(pairs[s].client, data, { zeroCopy: 'on' });
        job.then((r) => settled.push(r), (e) => settled.push(e));
        jobs.push(job);
      }
      await new Promise((r) => setImmediate(r));
      fs.readSync(3, Buffer.alloc(1));
      await new Promise((r) => setImmediate(r));
      const settledWhileRefused = settled.length;
      structuredClone(victim, { transfer: [victim] });
      process.kill(process.ppid, 'SIGUSR1');
      const results = await Promise.allSettled(jobs);
      for (const p of pairs) p.client.end();
      const got = await Promise.all(pairs.map((p) => p.received));
      console.log(JSON.stringify({
        settledWhileRefused,
        results: results.map((r) => r.status === 'fulfilled' ? r.value.bytes : r.reason.code),
        got, want: sent.map((chunks) => ({ bytes: chunks.reduce((n, c) => n + c.length, 0), sha256: sha(...chunks) })),
      }));`;

    for (const name of ['EAGAIN', 'EBUSY', 'EINTR'] as const) {
      it(`${name}: entries wait, unsent, and go out once the kernel takes them; a buffer detached meanwhile fails its own job only`, { skip: skipFaults }, async () => {
        const r = lastJson<{ settledWhileRefused: number; results: unknown[]; got: unknown; want: unknown }>(
          await runChild(script, { prefix: [enterFaultLauncher(), errno(name), 'until-usr1', '--'], env: { AIOTX_BACKEND: 'uring' }, watchdogMs: 60_000 }),
        );
        assert.equal(r.settledWhileRefused, 0, 'nothing settles while the kernel refuses every entry');
        const sizes = [200000, 1 << 20, 4096, (3 << 20) + 5];
        assert.deepEqual(r.results, [...sizes, sizes[0], 'ERR_INVALID_STATE', sizes[2], sizes[3], ...sizes]);
        assert.deepEqual(r.got, r.want);
      });
    }

    it('EPERM (fatal): the refused job rejects with it, and nothing of it reaches a later socket', { skip: skipFaults }, async () => {
      const script = `${childPrelude}
        // b's sockets exist before a's failure, so the fd a's job used is free for b's own use.
        const a = await pair(), b = await pair();
        const first = await aiotx.aioWrite(a.client, pattern(300000, 1), { zeroCopy: 'on' }).then((r) => r.bytes, (e) => e.code);
        a.close();
        const data = pattern(200000, 2);
        const second = await aiotx.aioWrite(b.client, data, { zeroCopy: 'on' }).then((r) => r.bytes, (e) => e.code);
        b.client.end();
        const got = await b.received;
        console.log(JSON.stringify({ first, second, got, want: { bytes: data.length, sha256: sha(data) } }));`;
      const r = lastJson<{ first: unknown; second: unknown; got: unknown; want: unknown }>(
        await runChild(script, { prefix: [enterFaultLauncher(), errno('EPERM'), 'once', '--'], env: { AIOTX_BACKEND: 'uring' }, watchdogMs: 60_000 }),
      );
      assert.deepEqual([r.first, r.second], ['EPERM', 200000]);
      assert.deepEqual(r.got, r.want);
    });
  });
});
