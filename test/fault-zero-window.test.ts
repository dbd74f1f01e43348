// Fault: the receiver stops reading (zero window) for seconds, then resumes. While stalled the
// jobs stay pending and nothing wakes the sender's event loop; afterwards every job completes and
// the stream arrives exact; the sender exits on its own, holding nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendCases } from './helpers/backends.js';
import { assertCleanExit, assertPrefix, figures, hashingReceiver, runScenario, type Outcome } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';
import type { TcpQueues } from './helpers/sockets.js';
import type { Wakeups } from './helpers/wakeups.js';

const JOBS = 32;
const SIZE = 1 << 20;

describe('fault: receiver stalled (zero window), then resuming', () => {
  for (const { backend, zeroCopy, skip } of backendCases) {
    it(`${backend}: ${JOBS} jobs wait out a stalled receiver`, { skip }, async (t) => {
      const seed = 0x2e20 + backend.length;
      const rx = await hashingReceiver((s) => s.pause());
      const run = runScenario(
        `
        const c = await connect(${rx.port});
        let settled = 0;
        const jobs = jobsOf(c, ${seed}, ${JOBS}, ${SIZE}, { zeroCopy: '${zeroCopy}' });
        for (const j of jobs) j.then(() => settled++, () => settled++);
        const queues = await stalled(c);
        // 200 ticks of 10 ms: the stall lasts seconds.
        const wakeups = await wakeupsOver(200);
        report({ stage: 'stalled', queues, wakeups, pending: ${JOBS} - settled, stillStalled: tcpQueues(c) });
        const res = await outcomes(jobs);
        c.end();
        if (!c.closed) await new Promise((r) => c.once('close', r));
        report({ outcomes: res, leaks: await leaks() });`,
        { env: { AIOTX_BACKEND: backend } },
      );
      const stall = (await run.next()) as { queues: TcpQueues; wakeups: Wakeups; pending: number; stillStalled: TcpQueues };
      (await rx.connection(0)).socket.resume();
      const { outcomes, leaks } = (await run.next()) as { outcomes: Outcome[]; leaks: Leaks };
      await assertCleanExit(run);
      const got = await (await rx.connection(0)).done;
      await rx.close();
      assert.ok(stall.pending > 0, 'jobs stay pending while the receiver reads nothing');
      assert.ok(stall.stillStalled.sendQ > 0, 'the kernel held bytes throughout');
      assert.equal(stall.wakeups.spinning, false, `the sender's loop spun while stalled: ${JSON.stringify(stall.wakeups)}`);
      assert.deepEqual(outcomes.filter((o) => !o.ok), [], 'every job completed after the receiver resumed');
      assert.equal(got.bytes, JOBS * SIZE);
      assertPrefix(got, seed, 'receiver');
      assert.deepEqual(leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 });
      figures(t, 'zero-window', {
        backend,
        jobs: JOBS,
        pendingWhileStalled: stall.pending,
        sendQ: stall.queues.sendQ,
        peerRecvQ: stall.queues.peerRecvQ,
        stallTicks: stall.wakeups.turns,
        wakeupsWhileStalled: stall.wakeups.engine,
        readsWhileStalled: stall.wakeups.reads,
        bytesExact: got.bytes,
        allSettled: true,
        exit: 0,
        leaks: 0,
      });
    });
  }
});
