// Real zero-copy, proven: UDP GSO datagrams into the sink rig (a veth whose peer is down) come
// back from the kernel as zero-copy completions, with no COPIED flag, on every zero-copy
// backend; the same writes over loopback report every byte copied (see the transmit suites).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { sinkRigSkipReason, withSinkRig } from 'aiotx-bench/internal/bench/sink-rig.js';
import { zeroCopyCases } from './helpers/backends.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const rigSkip = sinkRigSkipReason();

/** Sends `count` 64 KiB GSO datagrams to the sink from a process using `backend`. */
function sendToSink(backend: string, address: string, port: number, count: number, segmentSize: number, wired = false) {
  const script = `
    import dgram from 'node:dgram';
    import { aioWrite, createBufferPool } from ${JSON.stringify(indexUrl)};
    const s = dgram.createSocket('udp4');
    s.connect(${port}, ${JSON.stringify(address)}, async () => {
      const totals = { bytes: 0, zeroCopyBytes: 0, copiedBytes: 0, backends: new Set() };
      const pool = ${wired} ? createBufferPool({ size: 65000, count: 8 }) : null;
      if (pool && !pool.wired) throw new Error('pool not wired: ' + pool.reason);
      const buffers = Array.from({ length: 8 }, (_, i) => pool ? pool.acquire().fill(i) : Buffer.alloc(65000, i));
      for (let i = 0; i < ${count}; i += 8) {
        const results = await Promise.all(buffers.map((b) => aioWrite(s, b, { zeroCopy: 'on', segmentSize: ${segmentSize} })));
        for (const r of results) {
          totals.bytes += r.bytes; totals.zeroCopyBytes += r.zeroCopyBytes; totals.copiedBytes += r.copiedBytes;
          totals.backends.add(r.backend);
        }
      }
      console.log(JSON.stringify({ ...totals, backends: [...totals.backends] }));
      s.close();
    });`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, AIOTX_BACKEND: backend },
    timeout: 60_000,
  });
  return JSON.parse(out) as { bytes: number; zeroCopyBytes: number; copiedBytes: number; backends: string[] };
}

describe('the sink rig', { skip: rigSkip ?? false }, () => {
  for (const { backend, skip } of zeroCopyCases) {
    it(`${backend}: every byte of GSO datagrams into the sink goes out without a copy`, { skip }, async () => {
      await withSinkRig(async (rig) => {
        const r = sendToSink(backend, rig.sinkAddress, rig.port, 400, 1472);
        assert.deepEqual(r.backends, [backend]);
        assert.equal(r.bytes, 400 * 65000);
        assert.equal(r.zeroCopyBytes, r.bytes, `${r.copiedBytes} bytes were reported COPIED`);
        assert.equal(r.copiedBytes, 0);
      });
    });
  }

  const uring = zeroCopyCases.find((c) => c.backend === 'uring')!;
  it('uring from the wired pool: every byte goes out without a copy', { skip: uring.skip }, async () => {
    await withSinkRig(async (rig) => {
      const r = sendToSink('uring', rig.sinkAddress, rig.port, 400, 1472, true);
      assert.equal(r.bytes, 400 * 65000);
      assert.equal(r.zeroCopyBytes, r.bytes);
    });
  });
});
