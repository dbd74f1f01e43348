// Fault: MSG_ZEROCOPY meets ENOBUFS. The child runs in a network namespace of its own (unshare -n)
// where net.core.optmem_max is made tiny — that sysctl is per namespace and goes with it, so
// nothing outside changes. Every job still arrives exact (the engine waits for releases, or copies
// that segment), the child exits on its own, holding nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import { describe, it } from 'node:test';
import { backendCases } from './helpers/backends.js';
import { assertCleanExit, figures, runScenario, type Outcome } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';

function skipReason(): string | false {
  const msgzerocopy = backendCases.find((c) => c.backend === 'msgzerocopy')!.skip;
  if (msgzerocopy) return msgzerocopy;
  if (process.getuid?.() !== 0) return 'needs root for a private network namespace (unshare -n)';
  const [major, minor] = release().split('.').map(Number) as [number, number];
  // Before 6.9 optmem_max is one value for the whole machine: never touch it then.
  if (major < 6 || (major === 6 && minor < 9)) return `optmem_max is per network namespace only from Linux 6.9 (kernel ${release()})`;
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
  } catch {
    return 'cannot create a network namespace with unshare -n';
  }
  return false;
}

const JOBS = 300;

describe('fault: ENOBUFS from a tiny optmem_max (private namespace)', { skip: skipReason() }, () => {
  for (const optmem of [0, 2048]) {
    it(`optmem_max=${optmem}: ${JOBS} zero-copy jobs, none lost`, async (t) => {
      const run = runScenario(
        `
        import { createHash } from 'node:crypto';
        const got = createHash('sha256'), want = createHash('sha256');
        let received = 0;
        let connections = 0;
        let ended;
        const done = new Promise((r) => (ended = r));
        const server = net.createServer((s) => {
          if (connections++ > 0) return s.resume(); // the probe socket
          s.on('data', (d) => { got.update(d); received += d.length; });
          s.on('end', () => { ended(); server.close(); });
        });
        await new Promise((r) => server.listen(0, '127.0.0.1', r));
        const c = await connect(server.address().port);
        const probeSocket = await connect(server.address().port);
        addon.enableZerocopy(probeSocket._handle.fd);
        // Zero-copy sends in a row, nothing reaped: each holds a notification in optmem.
        let enobufs = false;
        for (let k = 0; k < 16 && !enobufs; k++) enobufs = addon.send(probeSocket._handle.fd, Buffer.alloc(4096), 0, 4096, true) === -105;
        probeSocket.destroy();
        const buffers = Array.from({ length: ${JOBS} }, (_, i) => Buffer.alloc(1 + ((i * 7919) % 400000), i & 255));
        for (const b of buffers) want.update(b);
        const res = await outcomes(buffers.map((b) => aioWrite(c, b, { zeroCopy: 'on' })));
        c.end();
        await done;
        if (!c.closed) await new Promise((r) => c.once('close', r));
        const sent = buffers.reduce((n, b) => n + b.length, 0);
        report({ enobufs, sent, received, same: got.digest('hex') === want.digest('hex'), outcomes: res, leaks: await leaks() });`,
        {
          wrapper: ['unshare', '-n', 'sh', '-c', `ip link set lo up && sysctl -q -w net.core.optmem_max=${optmem} && exec "$0" "$@"`],
          env: { AIOTX_BACKEND: 'msgzerocopy' },
        },
      );
      const out = (await run.next()) as { enobufs: boolean; sent: number; received: number; same: boolean; outcomes: Outcome[]; leaks: Leaks };
      await assertCleanExit(run);
      assert.equal(out.enobufs, true, 'the kernel refused a zero-copy send with ENOBUFS');
      assert.deepEqual(out.outcomes.filter((o) => !o.ok), [], 'every job completed');
      assert.equal(out.received, out.sent);
      assert.equal(out.same, true, `byte-exact after ENOBUFS (${out.received} bytes received)`);
      assert.deepEqual(out.leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 });
      const backends = out.outcomes.reduce<Record<string, number>>((m, o) => ((m[o.backend!] = (m[o.backend!] ?? 0) + 1), m), {});
      figures(t, 'enobufs', { optmem, jobs: JOBS, enobufsSeen: out.enobufs, backends, bytesExact: out.received, allSettled: true, exit: 0, leaks: 0 });
    });
  }
});
