// io_uring datagram sends from wired buffers go out without IOSQE_IO_LINK while their socket has
// room for them (UringBackend.unlinkedPrefix): order must hold all the same, on loopback and
// through a socket that fills, and the charge the rule counts per datagram must bound what the
// kernel really holds for one.
import { useBackend } from './helpers/backends.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { randomFillSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { aioWrite, createBufferPool } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { UringBackend, datagramCharge } from '../src/engine/uring-backend.js';
import { addTbf, datagramsToPeer, jsonLines, namespaceSkipReason, withPeerNamespace } from './helpers/netns.js';
import { Expected, connectedUdp, fdOf, nextDatagrams } from './helpers/sockets.js';

const { skip } = useBackend('uring');
const nsSkip = namespaceSkipReason();

/** A wired pool, or the reason this machine cannot wire one. */
function wiredPool(size: number, count: number) {
  const pool = createBufferPool({ size, count });
  return pool.wired ? { pool, reason: null } : { pool: null, reason: `buffer pool not wired: ${pool.reason}` };
}

describe('uring: wired datagram sends without links', { skip }, () => {
  it('loopback, room for every chain: batches of 8 go unlinked, every datagram in order, byte-exact', async (t) => {
    const { pool, reason } = wiredPool(1400, 64);
    if (!pool) return t.skip(reason);
    const { rx, tx, got, close } = await connectedUdp();
    rx.setRecvBufferSize(1 << 20);
    tx.setSendBufferSize(1 << 20);
    const buffers = Array.from({ length: 64 }, () => pool.acquire()!);
    const before = UringBackend.unlinked;
    try {
      for (let wave = 0; wave < 20; wave++) {
        const expected = new Expected();
        for (const b of buffers) expected.add(randomFillSync(b));
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => aioWrite(tx, buffers.slice(i * 8, i * 8 + 8), { zeroCopy: 'on' })));
        for (const r of results) assert.equal(r.bytes, 8 * 1400);
        const received = new Expected(...(await nextDatagrams(got, 64)));
        assert.deepEqual(received.digest(), expected.digest(), `wave ${wave}: the datagrams arrived as sent`);
      }
      assert.ok(UringBackend.unlinked > before, 'some sends went without a link');
    } finally {
      close();
      for (const b of buffers) pool.release(b);
      pool.close();
    }
  });

  it('ordinary (unwired) buffers keep their links: their pages may fail to pin and be sent again', async () => {
    const { rx, tx, got, close } = await connectedUdp();
    rx.setRecvBufferSize(1 << 20);
    tx.setSendBufferSize(1 << 20);
    const before = UringBackend.unlinked;
    try {
      const buffers = Array.from({ length: 64 }, () => randomFillSync(Buffer.alloc(1400)));
      const expected = new Expected(...buffers);
      await Promise.all(Array.from({ length: 8 }, (_, i) => aioWrite(tx, buffers.slice(i * 8, i * 8 + 8), { zeroCopy: 'on' })));
      assert.deepEqual(new Expected(...(await nextDatagrams(got, 64))).digest(), expected.digest());
      assert.equal(UringBackend.unlinked, before);
    } finally {
      close();
    }
  });
});

describe('uring: wired datagram sends meeting a full socket buffer', { skip: skip || (nsSkip ?? false) }, () => {
  it('1536 datagrams through a 50 mbit tbf, SO_SNDBUF 64 KiB, batches of 8: unlinked while there is room, linked after, all in order', async (t) => {
    const { pool, reason } = wiredPool(1400, 512);
    if (!pool) return t.skip(reason);
    try {
      await withPeerNamespace(async (ns) => {
        const tbf = addTbf(ns, 'rate', '50mbit', 'burst', '16kb', 'limit', '16mb');
        if (tbf) return t.skip(tbf);
        const waves = 3;
        const count = waves * 512;
        const { receiver, next, socket } = await datagramsToPeer(ns, count, 64 << 10);
        const buffers = Array.from({ length: 512 }, () => pool.acquire()!);
        const expected = new Expected();
        const before = UringBackend.unlinked;
        for (let wave = 0; wave < waves; wave++) {
          for (const b of buffers) expected.add(randomFillSync(b));
          const jobs = [];
          for (let i = 0; i < 512; i += 8) jobs.push(aioWrite(socket, buffers.slice(i, i + 8), { zeroCopy: 'on' }));
          for (const r of await Promise.all(jobs)) assert.equal(r.bytes, 8 * 1400);
        }
        assert.deepEqual(await next(), expected.digest());
        assert.ok(UringBackend.unlinked > before, 'some sends went without a link');
        socket.close();
        await once(receiver, 'exit');
        for (const b of buffers) pool.release(b);
      });
    } finally {
      pool.close();
    }
  });
});

describe("what one datagram holds of its socket's send buffer", { skip: skip || (nsSkip ?? false) }, () => {
  it('never more than datagramCharge, copied, zero-copy or wired, with and without GSO', async (t) => {
    const { pool, reason } = wiredPool(65507 + 3072, 1);
    if (!pool) return t.skip(reason);
    const wired = pool.acquire()!;
    try {
      await withPeerNamespace(async (ns) => {
        // A peer that never reads: datagrams that reach it are dropped without an ICMP error.
        const peer = ns.spawnNode(`
          import dgram from 'node:dgram';
          const s = dgram.createSocket('udp4');
          s.bind(0, ${JSON.stringify(ns.peerAddress)}, () => { s.setRecvBufferSize(4096); s.pause?.(); console.log(JSON.stringify({ port: s.address().port })); });
          s.on('message', () => {});`);
        try {
          const { port } = (await jsonLines(peer)()) as { port: number };
          const cases: [number, number][] = [[1, 0], [1400, 0], [9000, 0], [65000, 0], [65000, 1472], [20000, 500], [65507, 1200]];
          const settle = () => new Promise((r) => setTimeout(r, 20));
          // A wired buffer at four offsets 1 KiB apart: one of them crosses a page boundary.
          const runs = (['off', 'on', 'wired'] as const).flatMap((mode) =>
            cases.flatMap(([size, segmentSize]) => (mode === 'wired' ? [0, 1024, 2048, 3072] : [0]).map((offset) => ({ mode, size, segmentSize, offset }))),
          );
          {
            for (const { mode, size, segmentSize, offset } of runs) {
              // 8 kbit/s: once two plugs emptied its 1600-byte bucket, what follows is held.
              const tbf = addTbf(ns, 'rate', '8kbit', 'burst', '1600', 'limit', '100mb');
              if (tbf) return t.skip(tbf);
              const socket = createSocket({ type: 'udp4', sendBufferSize: 8 << 20 });
              socket.connect(port, ns.peerAddress);
              await once(socket, 'connect');
              const fd = fdOf(socket);
              const plugs = [aioWrite(socket, Buffer.alloc(1400), { zeroCopy: 'off' }), aioWrite(socket, Buffer.alloc(1400), { zeroCopy: 'off' })];
              await settle();
              const data = mode === 'wired' ? wired.subarray(offset, offset + size) : Buffer.alloc(size, 1);
              const room = addon.sendRoom(fd);
              const job = aioWrite(socket, data, { zeroCopy: mode === 'off' ? 'off' : 'on', ...(segmentSize > 0 ? { segmentSize } : {}) });
              await settle();
              const held = room - addon.sendRoom(fd);
              // Deleting the qdisc frees what it holds, so zero-copy jobs settle.
              execFileSync('tc', ['qdisc', 'del', 'dev', ns.hostInterface, 'root']);
              const results = await Promise.allSettled([...plugs, job]);
              socket.close();
              const what = `${mode} ${size} B${segmentSize > 0 ? ` in ${segmentSize}-byte segments` : ''}${mode === 'wired' ? ` at offset ${offset}` : ''}`;
              t.diagnostic(`${what}: held ${held} of a charge of ${datagramCharge(size, segmentSize)}`);
              assert.ok(held > 0, `${what}: the datagram is held (room ${room}, held ${held})`);
              assert.ok(held <= datagramCharge(size, segmentSize), `${what}: held ${held} > charge ${datagramCharge(size, segmentSize)}`);
              for (const r of results) assert.equal(r.status, 'fulfilled');
            }
          }
        } finally {
          peer.kill();
        }
      });
    } finally {
      pool.release(wired);
      pool.close();
    }
  });
});
