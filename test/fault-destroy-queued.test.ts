// Fault: socket.destroy() with 100 jobs queued behind a stalled receiver. Every job settles: a
// prefix resolves, the rest rejects with ERR_SOCKET_CLOSED; the receiver's bytes are an exact
// prefix of the stream; the sender exits on its own, holding nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendCases } from './helpers/backends.js';
import { assertCleanExit, assertPrefix, assertSettledInOrder, figures, hashingReceiver, runScenario, type Outcome } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';

const JOBS = 100;
const SIZE = 256 << 10;

describe('fault: socket.destroy() with 100 jobs queued', () => {
  for (const { backend, zeroCopy, skip } of backendCases) {
    it(`${backend}: destroy() while ${JOBS} jobs wait on a stalled receiver`, { skip }, async (t) => {
      const seed = 0xde57 + backend.length;
      const rx = await hashingReceiver((s) => s.pause());
      const run = runScenario(
        `
        const c = await connect(${rx.port});
        c.on('error', () => {});
        let settled = 0;
        const jobs = jobsOf(c, ${seed}, ${JOBS}, ${SIZE}, { zeroCopy: '${zeroCopy}' });
        for (const j of jobs) j.then(() => settled++, () => settled++);
        await stalled(c);
        const pending = ${JOBS} - settled;
        c.destroy();
        const res = await outcomes(jobs);
        report({ pending, outcomes: res, leaks: await leaks() });`,
        { env: { AIOTX_BACKEND: backend } },
      );
      const { pending, outcomes, leaks } = (await run.next()) as { pending: number; outcomes: Outcome[]; leaks: Leaks };
      (await rx.connection(0)).socket.resume();
      await assertCleanExit(run);
      const got = await (await rx.connection(0)).done;
      await rx.close();
      assert.equal(outcomes.length, JOBS);
      const { fulfilled, rejected } = assertSettledInOrder(outcomes, ['ERR_SOCKET_CLOSED']);
      assert.ok(pending > 0 && rejected > 0, `jobs were queued at destroy() (${pending}) and rejected (${rejected})`);
      assertPrefix(got, seed, 'receiver');
      assert.deepEqual(leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 });
      figures(t, 'destroy-queued', { backend, jobs: JOBS, pendingAtDestroy: pending, fulfilled, rejected, bytesReceivedExact: got.bytes, receiverSaw: got.ending, allSettled: true, exit: 0, leaks: 0 });
    });
  }
});
