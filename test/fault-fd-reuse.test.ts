// Fault: the caller closes a raw fd while its zero-copy notifications are pending, and the number
// is reused at once by a new connection that is written to through it. aiotx drives a duplicate
// of each socket, so: connection A still gets all of its stream, exact; connection B gets exactly
// its own; nothing of one reaches the other; the child exits on its own, holding nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendCases } from './helpers/backends.js';
import { assertCleanExit, assertPrefix, figures, hashingReceiver, runScenario, type Outcome } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';

const JOBS = 16;
const SIZE = 1 << 20;

describe('fault: fd-number reuse after close with notifications pending', () => {
  for (const { backend, zeroCopy, skip } of backendCases) {
    it(`${backend}: fd closed with ${JOBS} jobs pending, its number reused by another connection`, { skip }, async (t) => {
      const seedA = 0xf0a + backend.length;
      const seedB = 0xf0b + backend.length;
      const rxA = await hashingReceiver((s) => s.pause());
      const rxB = await hashingReceiver();
      const run = runScenario(
        `
        import { closeSync } from 'node:fs';
        const a = await connect(${rxA.port});
        const portA = a.localPort;
        const rawA = addon.dup(a._handle.fd); // a raw fd the caller owns alone
        a.destroy();
        await new Promise((r) => a.once('close', r));
        let settledA = 0;
        const jobsA = jobsOf(rawA, ${seedA}, ${JOBS}, ${SIZE}, { zeroCopy: '${zeroCopy}' });
        for (const j of jobsA) j.then(() => settledA++, () => settledA++);
        await stalled(portA);
        const pendingA = ${JOBS} - settledA;
        closeSync(rawA);
        const b = await connect(${rxB.port});
        const rawB = b._handle.fd;
        report({ stage: 'reused', pendingA, rawA, rawB });
        const resB = await outcomes(jobsOf(rawB, ${seedB}, ${JOBS}, ${SIZE}, { zeroCopy: '${zeroCopy}' }));
        b.end();
        const resA = await outcomes(jobsA);
        if (!b.closed) await new Promise((r) => b.once('close', r));
        report({ resA, resB, leaks: await leaks() });
`,
        { env: { AIOTX_BACKEND: backend } },
      );
      const reuse = (await run.next()) as { pendingA: number; rawA: number; rawB: number };
      (await rxA.connection(0)).socket.resume();
      const out = (await run.next()) as { resA: Outcome[]; resB: Outcome[]; leaks: Leaks };
      await assertCleanExit(run);
      const gotA = await (await rxA.connection(0)).done;
      const gotB = await (await rxB.connection(0)).done;
      await Promise.all([rxA.close(), rxB.close()]);
      assert.equal(reuse.rawB, reuse.rawA, 'the new connection got the closed fd number');
      assert.ok(reuse.pendingA > 0, 'jobs were pending when the fd was closed');
      assert.deepEqual([...out.resA, ...out.resB].filter((o) => !o.ok), [], 'closing the fd cancels nothing; every job completed');
      assert.equal(gotA.bytes, JOBS * SIZE);
      assertPrefix(gotA, seedA, 'connection A');
      assert.equal(gotB.bytes, JOBS * SIZE);
      assertPrefix(gotB, seedB, 'connection B');
      assert.deepEqual(out.leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 });
      figures(t, 'fd-reuse', { backend, fd: reuse.rawA, jobs: 2 * JOBS, pendingAtClose: reuse.pendingA, bytesExactA: gotA.bytes, bytesExactB: gotB.bytes, allSettled: true, exit: 0, leaks: 0 });
    });
  }
});
